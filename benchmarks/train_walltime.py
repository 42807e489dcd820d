"""Where the wall time of ``anyconv train --epochs 2`` goes.

Each round runs the command in a fresh process (as a user does) and splits its time into
start-up (interpreter and imports, measured in the process), the trainer's phases from
``metrics.json`` (data, build, train, evaluate, checkpoint, test, pictures) and the rest.
Wall and CPU seconds are both reported: on a busy machine the wall clock mostly measures
the other processes, while CPU seconds stay close to what an idle machine's wall clock
would show for the single-threaded phases. Medians over the rounds.

    python benchmarks/train_walltime.py --repeat 3 [--threads 1] [-- extra train flags]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import json, sys, time
wall, cpu = time.perf_counter(), time.process_time()
from anyconv.cli import main
imported = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
code = main(sys.argv[2:])
total = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
json.dump({"code": code, "import": imported, "total": total}, open(sys.argv[1], "w"))
"""

PHASES = ("import", "data", "build", "train", "evaluate", "checkpoint", "test", "pictures")


def one_round(argv: list[str]) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        out, report = Path(tmp) / "run", Path(tmp) / "report.json"
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", CHILD, str(report), "train", "--out", str(out), *argv],
            check=True,
        )
        process = time.perf_counter() - start
        child = json.loads(report.read_text())
        metrics = json.loads((out / "metrics.json").read_text())
    phases = {"import": child["import"], **metrics["timings"]}
    measured = sum(p["wall"] for p in phases.values())
    phases["other"] = {
        "wall": process - measured,
        "cpu": child["total"]["cpu"] - sum(p["cpu"] for p in phases.values()),
    }
    phases["process"] = {"wall": process, "cpu": child["total"]["cpu"]}
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("extra", nargs="*", help="more train flags (after --)")
    args = parser.parse_args()
    argv = ["--epochs", str(args.epochs), "--quiet", *args.extra]
    rounds = [one_round(argv) for _ in range(args.repeat)]
    names = [p for p in (*PHASES, "other", "process") if any(p in r for r in rounds)]
    print(f"anyconv train {' '.join(argv)}: medians of {args.repeat} fresh processes")
    print(f"{'phase':12s} {'wall s':>8s} {'cpu s':>8s}")
    for name in names:
        wall = statistics.median(r.get(name, {"wall": 0.0})["wall"] for r in rounds)
        cpu = statistics.median(r.get(name, {"cpu": 0.0})["cpu"] for r in rounds)
        print(f"{name:12s} {wall:8.2f} {cpu:8.2f}")
    outside = [
        sum(v["wall"] for k, v in r.items() if k not in ("train", "process")) for r in rounds
    ]
    outside_cpu = [
        sum(v["cpu"] for k, v in r.items() if k not in ("train", "process")) for r in rounds
    ]
    print(
        f"not training: {statistics.median(outside):.2f} s wall, "
        f"{statistics.median(outside_cpu):.2f} s CPU"
    )


if __name__ == "__main__":
    main()
