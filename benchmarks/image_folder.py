"""Image folders: streamed vs in-memory training throughput, and memory while streaming.

Three commands::

    # a CIFAR-10-like PNG tree: 10 classes, 50,000 train / 10,000 test 32x32 images
    python benchmarks/image_folder.py make-tree /tmp/cifar-like
    # allcnn's training throughput, in memory vs streamed, epochs in rotating rounds
    python benchmarks/image_folder.py throughput /tmp/cifar-like
    # a ~2 GB tree of 256x256 images, then peak RSS of a streamed run, sampled over time
    python benchmarks/image_folder.py make-tree /tmp/big --train 8400 --test 1600 --size 256
    python benchmarks/image_folder.py rss /tmp/big --image-size 32

The trees are random images (never committed): each class has its own mean colour and
a noise texture, so the task is learnable, and the PNG files are about as large as
natural images of their size. ``--modes`` mixes PIL modes and ``--sizes`` picks among
several sizes, to exercise ``--image-size``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np


def make_tree(
    root: Path,
    train: int,
    test: int,
    sizes: list[int],
    modes: list[str],
    classes: int = 10,
    seed: int = 0,
) -> int:
    """Write ``root/{train,test}/<class>/<i>.png``; return the bytes written."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    colours = rng.integers(40, 216, (classes, 3))
    total = 0
    for part, n in (("train", train), ("test", test)):
        for c in range(classes):
            (root / part / f"class{c}").mkdir(parents=True, exist_ok=True)
        for i in range(n):
            c = i % classes
            size = sizes[i % len(sizes)]
            noise = rng.normal(0, 40, (size, size, 3))
            pixels = np.clip(colours[c] + noise, 0, 255).astype(np.uint8)
            img = Image.fromarray(pixels)
            mode = modes[i % len(modes)]
            if mode != "RGB":
                img = img.convert(mode)
            path = root / part / f"class{c}" / f"{i}.png"
            img.save(path, compress_level=1)
            total += path.stat().st_size
    return total


def throughput(root: Path, args: argparse.Namespace) -> dict:
    """Samples per second of ``args.steps`` training steps of allcnn per epoch, in memory
    and streamed, epochs alternating in rotating rounds (after one warm-up epoch each)."""
    import torch

    from anyconv.data import load_dataset
    from anyconv.train import TrainConfig, Trainer

    if args.threads:
        torch.set_num_threads(args.threads)
    contenders = {}
    for name, stream in (("in-memory", False), ("streamed", True)):
        options = {"stream": stream, "workers": args.workers}
        if args.image_size:
            options["image_size"] = args.image_size
        start = time.perf_counter()
        data = load_dataset(f"folder:{root}", **options)
        load_s = time.perf_counter() - start
        config = TrainConfig(
            model="allcnn",
            data=f"folder:{root}",
            epochs=100,
            batch_size=args.batch_size,
            quiet=True,
            pictures=False,
            out="/dev/null/unused",
            **{k: v for k, v in options.items() if k != "workers"},
            workers=args.workers,
        )
        trainer = Trainer(config, data)
        trainer.feed.steps_per_epoch = min(args.steps, trainer.feed.steps_per_epoch)
        contenders[name] = {"trainer": trainer, "load_seconds": load_s, "seconds": []}
    names = list(contenders)
    for round_ in range(args.rounds + 1):  # round 0 warms up
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            row = contenders[name]["trainer"].train_epoch(round_ + 1)
            if round_:
                contenders[name]["seconds"].append(row["seconds"])
    samples = args.steps * args.batch_size
    result = {
        name: {
            "load_seconds": c["load_seconds"],
            "epoch_seconds": c["seconds"],
            "samples_per_second": samples / statistics.median(c["seconds"]),
        }
        for name, c in contenders.items()
    }
    memory_s, streamed_s = (result[n]["epoch_seconds"] for n in ("in-memory", "streamed"))
    # streamed throughput over in-memory throughput, per round (a slow spell cancels out)
    ratios = [m / s for m, s in zip(memory_s, streamed_s, strict=True)]
    result["streamed_over_in_memory"] = statistics.median(ratios)
    return result


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def rss(root: Path, args: argparse.Namespace) -> dict:
    """Run ``anyconv train allcnn --stream`` on ``root`` in a subprocess and sample the
    resident memory of it and of its worker processes every 0.25 s."""
    out = Path(args.out)
    command = [
        sys.executable, "-m", "anyconv", "train", "allcnn", "--data", f"folder:{root}",
        "--stream", "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
        "--workers", str(args.workers), "--out", str(out), "--quiet",
    ]  # fmt: skip
    if args.image_size:
        command += ["--image-size", ",".join(map(str, args.image_size))]
    start = time.perf_counter()
    process = subprocess.Popen(command)
    samples: list[tuple[float, int, int]] = []

    def watch() -> None:
        while process.poll() is None:
            main = _rss_kib(process.pid)
            workers = sum(_rss_kib(c) for c in _children(process.pid))
            samples.append((time.perf_counter() - start, main, workers))
            time.sleep(0.25)

    watcher = threading.Thread(target=watch)
    watcher.start()
    process.wait()
    watcher.join()
    if process.returncode:
        raise SystemExit(f"training failed with exit code {process.returncode}")
    mains = [m for _, m, _ in samples]
    third = len(samples) // 3
    return {
        "seconds": time.perf_counter() - start,
        "peak_main_mib": max(mains) / 1024,
        "peak_workers_mib": max(w for _, _, w in samples) / 1024,
        "main_mib_first_third_max": max(mains[:third] or [0]) / 1024,
        "main_mib_last_third_max": max(mains[-third:] or [0]) / 1024,
        "samples": [(round(t, 2), m, w) for t, m, w in samples],
        "tree_bytes": sum(p.stat().st_size for p in root.rglob("*.png")),
        "metrics": json.loads((out / "metrics.json").read_text())["test_accuracy"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("make-tree")
    make.add_argument("root", type=Path)
    make.add_argument("--train", type=int, default=50_000)
    make.add_argument("--test", type=int, default=10_000)
    make.add_argument("--sizes", type=lambda t: [int(v) for v in t.split(",")], default=None)
    make.add_argument("--size", type=int, default=32)
    make.add_argument("--modes", default="RGB", help="comma-separated PIL modes, e.g. RGB,L,P")
    for name in ("throughput", "rss"):
        p = sub.add_parser(name)
        p.add_argument("root", type=Path)
        p.add_argument("--image-size", type=lambda t: [int(v) for v in t.split(",")])
        p.add_argument("--batch-size", type=int, default=64)
        p.add_argument("--workers", type=int, default=None)
        p.add_argument("--json", type=Path)
    bench = sub.choices["throughput"]
    bench.add_argument("--steps", type=int, default=200, help="timed steps per epoch")
    bench.add_argument("--rounds", type=int, default=3)
    bench.add_argument("--threads", type=int, default=None)
    watch = sub.choices["rss"]
    watch.add_argument("--epochs", type=int, default=1)
    watch.add_argument("--out", default="/tmp/anyconv-rss-run")
    args = parser.parse_args()
    if args.command == "make-tree":
        sizes = args.sizes or [args.size]
        start = time.perf_counter()
        total = make_tree(args.root, args.train, args.test, sizes, args.modes.split(","))
        print(f"{total / 2**20:,.1f} MiB in {time.perf_counter() - start:.0f} s: {args.root}")
        return
    if args.workers is None:
        from anyconv.data.batches import default_workers

        args.workers = default_workers()
    result = (throughput if args.command == "throughput" else rss)(args.root, args)
    result["workers"] = args.workers
    result["cpus"] = os.cpu_count()
    shown = {k: v for k, v in result.items() if k != "samples"}
    print(json.dumps(shown, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
