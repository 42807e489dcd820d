"""Small data and a small model for the trainer tests, imported in-process by
``tests/train/conftest.py`` and by the subprocess scripts it writes (kill/resume, torchrun)."""

from __future__ import annotations

import torch

from anyconv.data.base import Splits


def make_data(repeat: int = 1) -> Splits:
    """sklearn's 8x8 digits, 1437 train / 360 test, the train split tiled ``repeat`` times to
    make epochs longer."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16
    y = torch.tensor(d.target)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    train, test = order[:1437], order[1437:]
    return Splits(
        x[train].repeat(repeat, 1, 1, 1),
        y[train].repeat(repeat),
        x[test],
        y[test],
        num_classes=10,
        kind="image",
        name="digits",
    )


def make_model(seed: int = 0, **_) -> torch.nn.Module:
    """A 2-conv network for 8x8 digits, initialised from ``seed``; takes (and ignores) the
    registry's keyword arguments, so it can be registered as a model."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(8, 16, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(16 * 16, 10),
    )


def torchrun_results(job: str, *args: str, processes: int = 2, timeout: int = 300) -> list[dict]:
    """Run the script ``job`` under ``torchrun --standalone`` with ``processes`` processes of
    one thread each, assert that it succeeded, and return the JSON objects its processes
    printed on lines starting with ``RESULT ``."""
    import json
    import os
    import subprocess
    import sys

    launched = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={processes}",
            job,
            *args,
        ],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert launched.returncode == 0, launched.stderr[-3000:]
    return [
        json.loads(line.split(" ", 1)[1])
        for line in launched.stdout.splitlines()
        if line.startswith("RESULT ")
    ]
