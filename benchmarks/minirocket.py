"""anyconv's MiniRocket against sktime's (numba), on the same data: accuracy over seeds and
time side by side.

    nice -n 10 python -m benchmarks.minirocket --seeds 0 1 2 3 4 --repeat 3

For each data set sktime bundles (:data:`benchmarks.ucr.DATASETS`), both are fitted on the
training split and classify the test split: anyconv's ``MiniRocket`` model (transform,
ridge) and sktime's ``MiniRocket`` / ``MiniRocketMultivariate`` transform followed by
``StandardScaler(with_mean=False)`` and ``RidgeClassifierCV(alphas=logspace(-3, 3, 10))``
(what sktime's ``RocketClassifier(rocket_transform="minirocket")`` builds), each with
``random_state`` / the run's seed; the test accuracies are averaged over the seeds. Then
fit + predict of both are timed in rounds, in turn and rotating (``benchmarks.timing``),
after a first fit of each (numba's JIT compilation, and its cache, not counted); the ratio
is the median over rounds of anyconv's time over sktime's. One thread each (torch and
numba).
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np
import torch

from benchmarks.timing import median_ratio, timed_rounds
from benchmarks.ucr import DATASETS


def _anyconv(data, seed: int):
    from anyconv.models import MiniRocket

    def fit_predict() -> np.ndarray:
        model = MiniRocket(
            in_channels=data.input_shape[0],
            num_classes=data.num_classes,
            input_size=tuple(data.input_shape[1:]),
        )
        model.fit(data.x_train, data.y_train, generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            return model(data.x_test).argmax(1).numpy()

    return fit_predict


def _sktime(data, seed: int):
    from sklearn.linear_model import RidgeClassifierCV
    from sklearn.preprocessing import StandardScaler
    from sktime.transformations.rocket import MiniRocket, MiniRocketMultivariate

    x_train, x_test = data.x_train.numpy(), data.x_test.numpy()
    transform = MiniRocket if data.input_shape[0] == 1 else MiniRocketMultivariate

    def fit_predict() -> np.ndarray:  # the steps of sktime's pipeline, one by one
        rocket = transform(random_state=seed, n_jobs=1)
        features = rocket.fit_transform(x_train)
        scaler = StandardScaler(with_mean=False).fit(features)
        ridge = RidgeClassifierCV(alphas=np.logspace(-3, 3, 10))
        ridge.fit(scaler.transform(features), data.y_train.numpy())
        return ridge.predict(scaler.transform(rocket.transform(x_test)))

    return fit_predict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--repeat", type=int, default=3, help="timed rounds")
    args = parser.parse_args()
    import numba
    import sktime.datasets

    from anyconv.data import load_dataset

    torch.set_num_threads(1)
    numba.set_num_threads(1)
    root = Path(sktime.datasets.__file__).parent / "data"
    print("| data set | anyconv accuracy | sktime accuracy | difference | anyconv s | sktime s "
          "| time ratio |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for name in args.datasets:
        data = load_dataset(f"ucr:{root / name}")
        y = data.y_test.numpy()
        ours = [np.mean(_anyconv(data, s)() == y) for s in args.seeds]
        theirs = [np.mean(_sktime(data, s)() == y) for s in args.seeds]
        rounds = timed_rounds(
            {"anyconv": _anyconv(data, 0), "sktime": _sktime(data, 0)},
            repeat=args.repeat,
            warmup=0,  # both were fitted above: numba compiled, caches warm
        )
        a, b = statistics.mean(ours), statistics.mean(theirs)
        print(
            f"| {name} | {100 * a:.1f} | {100 * b:.1f} | {100 * (a - b):+.1f} | "
            f"{statistics.median(rounds['anyconv']):.2f} | "
            f"{statistics.median(rounds['sktime']):.2f} | "
            f"{median_ratio(rounds, 'anyconv', 'sktime'):.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
