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
