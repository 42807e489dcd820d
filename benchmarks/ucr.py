"""fcn, resnet1d, inception_time and minirocket on UCR/UEA data, beside published figures.

    nice -n 10 python -m benchmarks.ucr --seeds 0 1 2 --budget 60 --results ucr.jsonl
    python -m benchmarks.ucr --results ucr.jsonl --table      # the markdown table

Every data set bundled with sktime that is a classification problem (the test extra):
:data:`DATASETS`, univariate and multivariate, equal and unequal lengths (padded at the
end, the ``ucr:`` loader's default rule). ``--data-dir PATH`` reads ``PATH/NAME/NAME_TRAIN.*``
instead (a UCR/UEA archive).

Each run is one ``anyconv train`` in its own process, one thread, with the recipe for
``ucr:`` data; a network trains for as many epochs as fit in ``--budget`` CPU seconds
(measured once per model and data set by a one-epoch probe with seed 0, then the same
epochs for every seed, at most the recipe's 100). Recorded per run: test accuracy, the
training seconds (the epochs, or minirocket's one fit: transform and ridge), the test
seconds (the test split classified once more, after training), and the process's CPU
seconds, which on a shared machine say more than the wall time: with one thread they are
what the run would take alone. Results go to a JSON-lines file, one run a line, and a run
already there is skipped, so an interrupted sweep continues.

Published accuracies (:data:`PUBLISHED`), each with its source:

- ``dl-4-tsc FCN`` / ``dl-4-tsc ResNet``: iteration 0 of the five runs in
  ``results/results-ucr-128.csv`` of github.com/hfawaz/dl-4-tsc (Fawaz et al., "Deep
  learning for time series classification: a review", DMKD 2019; UCR 2018, 2,000 and
  1,500 epochs);
- ``InceptionTime``: the ensemble of five in ``results-InceptionTime-128.csv`` (UCR 2018)
  and ``results-mts.csv`` (UEA multivariate) of github.com/hfawaz/InceptionTime (Fawaz et
  al., "InceptionTime: finding AlexNet for time series classification", DMKD 2020);
- ``MiniRocket``: the mean over 30 resamples in ``results/results_ucr109_mean.csv`` of
  github.com/angus924/minirocket (Dempster et al., KDD 2021; 109 equal-length UCR sets, so
  neither PLAID nor the multivariate sets).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

DATASETS = (
    "ItalyPowerDemand",
    "UnitTest",
    "GunPoint",
    "ArrowHead",
    "BasicMotions",
    "JapaneseVowels",
    "OSULeaf",
    "ACSF1",
    "PLAID",
)
"""The classification sets sktime bundles (UnitTest is its 42-series cut of Chinatown;
BasicMotions and JapaneseVowels are multivariate; JapaneseVowels and PLAID have unequal
lengths). The tests use BasicMotions and synthetic sets of their own."""
MODELS = ("fcn", "resnet1d", "inception_time", "minirocket")
PUBLISHED = {
    "dl-4-tsc FCN": {
        "ACSF1": 0.91, "ArrowHead": 0.8514, "GunPoint": 1.0, "ItalyPowerDemand": 0.9611,
        "OSULeaf": 0.9835, "PLAID": 0.9125,
    },
    "dl-4-tsc ResNet": {
        "ACSF1": 0.93, "ArrowHead": 0.8629, "GunPoint": 0.9933, "ItalyPowerDemand": 0.9660,
        "OSULeaf": 0.9793, "PLAID": 0.9479,
    },
    "InceptionTime": {
        "ACSF1": 0.92, "ArrowHead": 0.8457, "GunPoint": 1.0, "ItalyPowerDemand": 0.9650,
        "OSULeaf": 0.9421, "PLAID": 0.9441, "BasicMotions": 1.0, "JapaneseVowels": 0.9919,
    },
    "MiniRocket": {
        "ACSF1": 0.8223, "ArrowHead": 0.8810, "GunPoint": 0.9924, "ItalyPowerDemand": 0.9596,
        "OSULeaf": 0.9576,
    },
}  # fmt: skip
MAX_EPOCHS = 100

RUN = """
import json, resource, sys, time, torch
from anyconv.train import TrainConfig, evaluate, load_run, train
torch.set_num_threads(1)
model, data, epochs, seed, out = sys.argv[1:6]
config = TrainConfig(model=model, data=data, epochs=int(epochs), eval_every=int(epochs),
                     seed=int(seed), quiet=True, pictures=False, out=out, overwrite=True)
metrics = train(config)
net, run = load_run(out)
from anyconv.train.run import load_run_data
test_data = load_run_data(run)
start = time.perf_counter()
result = evaluate(net, test_data)
test_seconds = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({
    "test_accuracy": metrics["test_accuracy"], "rechecked_accuracy": result["accuracy"],
    "epochs": metrics["epochs"], "train_seconds": sum(r["seconds"] for r in metrics["history"]),
    "test_seconds": test_seconds, "fit": metrics.get("fit"),
    "cpu_seconds": usage.ru_utime + usage.ru_stime,
}))
"""


def run(model: str, data: str, epochs: int, seed: int, out: Path) -> dict:
    """One training run in a child process (one thread): its figures and wall seconds."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", RUN, model, data, str(epochs), str(seed), str(out)],
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise RuntimeError(f"{model} on {data}: {done.stderr.strip().splitlines()[-1:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return {**figures, "wall_seconds": time.perf_counter() - start}


def epochs_for(model: str, data: str, budget: float, out: Path) -> int:
    """As many epochs as fit in ``budget`` CPU seconds, from a one-epoch probe (seed 0)."""
    if model == "minirocket":
        return 1
    probe = run(model, data, 1, 0, out / "probe")
    per_epoch = probe["train_seconds"] * probe["cpu_seconds"] / max(probe["wall_seconds"], 1e-9)
    return max(1, min(MAX_EPOCHS, int(budget / max(per_epoch, 1e-9))))


def load(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def sweep(args: argparse.Namespace) -> None:
    root = args.data_dir
    if root is None:
        import sktime.datasets

        root = Path(sktime.datasets.__file__).parent / "data"
    done = load(args.results)
    have = {(r["dataset"], r["model"], r["seed"]) for r in done}
    chosen = {(r["dataset"], r["model"]): r["epochs"] for r in done}
    with open(args.results, "a") as out:
        for name in args.datasets:
            for model in args.models:
                data = f"ucr:{root / name}"
                work = args.out / f"{name}-{model}"
                for seed in args.seeds:
                    if (name, model, seed) in have:
                        continue
                    if (name, model) not in chosen:
                        chosen[name, model] = epochs_for(model, data, args.budget, work)
                    epochs = chosen[name, model]
                    figures = run(model, data, epochs, seed, work / str(seed))
                    row = {"dataset": name, "model": model, "seed": seed, **figures}
                    out.write(json.dumps(row) + "\n")
                    out.flush()
                    print(
                        f"{name:17s} {model:15s} seed {seed}: {figures['test_accuracy']:.2%} "
                        f"({epochs} epochs, train {figures['train_seconds']:.1f} s, test "
                        f"{figures['test_seconds']:.2f} s, CPU {figures['cpu_seconds']:.0f} s)",
                        flush=True,
                    )


def table(rows: list[dict]) -> str:
    """The markdown table: per data set and model, mean accuracy over the seeds, epochs,
    mean train and test seconds; then the published figures."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["model"]), []).append(r)
    names = [d for d in DATASETS if any(k[0] == d for k in groups)]
    names += sorted({k[0] for k in groups} - set(names))
    head = "| data set | model | seeds | epochs | accuracy | train s | test s | CPU s |"
    lines = [head, "|" + "---|" * 8]
    for name in names:
        for model in MODELS:
            runs = groups.get((name, model))
            if not runs:
                continue
            acc = [r["test_accuracy"] for r in runs]
            spread = f" ± {100 * statistics.stdev(acc):.1f}" if len(acc) > 1 else ""
            lines.append(
                f"| {name} | {model} | {len(runs)} | {runs[0]['epochs']} | "
                f"{100 * statistics.mean(acc):.1f}{spread} | "
                f"{statistics.mean(r['train_seconds'] for r in runs):.1f} | "
                f"{statistics.mean(r['test_seconds'] for r in runs):.2f} | "
                f"{statistics.mean(r['cpu_seconds'] for r in runs):.0f} |"
            )
    lines += ["", "| data set | " + " | ".join(PUBLISHED) + " |", "|---|" + "---|" * len(PUBLISHED)]
    for name in names:
        cells = [
            f"{100 * PUBLISHED[src][name]:.1f}" if name in PUBLISHED[src] else "-"
            for src in PUBLISHED
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, help="folder of NAME/NAME_TRAIN.* files")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--budget", type=float, default=60.0, help="CPU seconds per network run")
    parser.add_argument("--out", type=Path, default=Path("/tmp/anyconv-ucr"))
    parser.add_argument("--results", type=Path, default=Path("ucr-results.jsonl"))
    parser.add_argument("--table", action="store_true", help="print the table and stop")
    args = parser.parse_args()
    if not args.table:
        sweep(args)
    print(table(load(args.results)))


if __name__ == "__main__":
    main()
