"""fcn (and resnet1d) on UCR datasets against the published FCN results.

    python benchmarks/ucr.py --data-dir PATH --seeds 0 1 2 --threads 1

``PATH`` holds ``NAME/NAME_TRAIN.ts`` (or ``.arff``/``.tsv``) and ``NAME_TEST``; without
``--data-dir`` the datasets bundled with sktime are used (the test extra). Each run is one
``anyconv train`` in its own process with the recipe for ``ucr:`` data and the epochs of
:data:`EPOCHS`, evaluated once at the end (``--eval-every`` = epochs); the wall time and
the CPU time of that process are recorded. On a shared machine the wall time says more
about the other tenants than about the run: with one thread, the CPU time is what the run
would take alone.

The reference is the mean test accuracy of FCN over the five runs per dataset that
Fawaz et al. published with "Deep learning for time series classification: a review"
(Data Mining and Knowledge Discovery, 2019), file ``results/results-ucr-128.csv`` of the
repository github.com/hfawaz/dl-4-tsc (UCR archive 2018, 2,000 epochs each).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

# Mean test accuracy of FCN over iterations 0-4 in dl-4-tsc's results/results-ucr-128.csv.
PUBLISHED_FCN = {
    "ItalyPowerDemand": (0.9611273, 0.9640428, 0.9620991, 0.9640428, 0.9630709),
    "ArrowHead": (0.8514286, 0.8228571, 0.8514286, 0.8514286, 0.8400000),
    "OSULeaf": (0.9834711, 0.9834711, 0.9752066, 0.9710744, 0.9793388),
}
# Epochs per dataset: as many as fit in about two minutes of one CPU core.
# Other datasets run for 100 epochs (--datasets NAME ...).
EPOCHS = {"ItalyPowerDemand": 100, "ArrowHead": 300, "OSULeaf": 60}

RUN = """
import json, sys, torch
from anyconv.train import TrainConfig, train
torch.set_num_threads(int(sys.argv[5]))
model, data, epochs, seed, _, out = sys.argv[1:7]
config = TrainConfig(model=model, data=data, epochs=int(epochs), eval_every=int(epochs),
                     seed=int(seed), quiet=True, pictures=False, out=out, overwrite=True)
print(json.dumps({"test_accuracy": train(config)["test_accuracy"]}))
"""


def run(model: str, data: str, epochs: int, seed: int, threads: int, out: Path) -> dict:
    """One training run in a child process: accuracy, wall and CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", RUN, model, data, str(epochs), str(seed), str(threads), str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {**result, "wall_seconds": wall, "cpu_seconds": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, help="folder of NAME/NAME_TRAIN.* files")
    parser.add_argument("--datasets", nargs="+", default=list(EPOCHS))
    parser.add_argument("--model", default="fcn", choices=["fcn", "resnet1d"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("/tmp/anyconv-ucr"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    root = args.data_dir
    if root is None:
        import sktime.datasets

        root = Path(sktime.datasets.__file__).parent / "data"
    rows = []
    for name in args.datasets:
        runs = [
            run(
                args.model,
                f"ucr:{root / name}",
                EPOCHS.get(name, 100),
                seed,
                args.threads,
                args.out / f"{name}-{args.model}-{seed}",
            )
            for seed in args.seeds
        ]
        accuracy = statistics.mean(r["test_accuracy"] for r in runs)
        published = statistics.mean(PUBLISHED_FCN[name]) if name in PUBLISHED_FCN else None
        rows.append({"dataset": name, "epochs": EPOCHS.get(name, 100), "runs": runs,
                     "mean_accuracy": accuracy, "published_fcn": published})  # fmt: skip
        versus = (
            f"published FCN {100 * published:.2f}% ({100 * (accuracy - published):+.2f} points)"
            if published is not None
            else "no published figure here"
        )
        print(
            f"{name:18s} {args.model}: {100 * accuracy:.2f}% (seeds "
            + ", ".join(f"{100 * r['test_accuracy']:.2f}" for r in runs)
            + f"), {versus}; "
            + "CPU "
            + ", ".join(f"{r['cpu_seconds']:.0f}" for r in runs)
            + " s; wall "
            + ", ".join(f"{r['wall_seconds']:.0f}" for r in runs)
            + " s",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
