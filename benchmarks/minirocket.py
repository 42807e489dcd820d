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

    nice -n 10 python -m benchmarks.minirocket --transform --repeat 5

times the transform alone instead (CPU seconds, ``time.process_time``, rotating rounds,
median) on random walks of the test splits' shapes: anyconv's numba path, its PyTorch path
(what runs without numba) and sktime's numba ``_transform``, all given the same biases.
"""

from __future__ import annotations

import argparse
import statistics
import time
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


TRANSFORM_SHAPES = ((175, 251), (150, 150), (1029, 24))
"""Series x length of ArrowHead's, GunPoint's and ItalyPowerDemand's test splits."""


def transform_times(repeat: int) -> None:
    """CPU milliseconds of the transform alone: anyconv (numba, PyTorch) and sktime."""
    from sktime.transformations.rocket import _minirocket_numba as sk_uni

    import anyconv.models.minirocket as mr

    print("| series x length | anyconv, numba path | anyconv, PyTorch path | sktime (numba) |")
    print("|---|---|---|---|")
    rng = np.random.default_rng(0)
    for n, length in TRANSFORM_SHAPES:
        train = rng.standard_normal((30, length)).cumsum(1).astype(np.float32)
        x = rng.standard_normal((n, length)).cumsum(1).astype(np.float32)
        params = sk_uni._fit(train, 10_000, 32, 0)
        model = mr.MiniRocket(input_size=(length,))
        model.biases.copy_(torch.from_numpy(params[2]))
        series = torch.from_numpy(x[:, None])
        kernel = mr._numba_kernel

        def pytorch(series=series, model=model, kernel=kernel):
            mr._numba_kernel = lambda: None
            try:
                model.transform(series)
            finally:
                mr._numba_kernel = kernel

        rounds = timed_rounds(
            {
                "numba": lambda series=series, model=model: model.transform(series),
                "pytorch": pytorch,
                "sktime": lambda x=x, params=params: sk_uni._transform(x, params),
            },
            repeat=repeat,
            warmup=1,
            clock=time.process_time,
        )
        ms = {k: 1000 * statistics.median(v) for k, v in rounds.items()}
        print(f"| {n} x {length} | {ms['numba']:.0f} ms | {ms['pytorch']:.0f} ms "
              f"| {ms['sktime']:.0f} ms |", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--repeat", type=int, default=3, help="timed rounds")
    parser.add_argument("--transform", action="store_true", help="time the transform alone")
    args = parser.parse_args()
    import numba
    import sktime.datasets

    from anyconv.data import load_dataset

    torch.set_num_threads(1)
    numba.set_num_threads(1)
    if args.transform:
        transform_times(args.repeat)
        return
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
