"""A user's own models, importable as ``own_nets:NAME`` in the tests (``tests/`` is on the
module search path): what a user writes in a module of their own."""

from __future__ import annotations

from pathlib import Path

import torch


class SmallNet(torch.nn.Module):
    """A conv, global average pooling and a linear layer, for any image size."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, width: int = 8) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(in_channels, width, 3, padding=1)
        self.head = torch.nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.conv(x)).mean((2, 3)))


def small_net(width: int = 8, **data) -> torch.nn.Module:
    """A builder function: it takes ``width`` and whatever the data gives (``**data``)."""
    return SmallNet(data["in_channels"], data["num_classes"], width)


def untyped_builder(width: int = 8):  # no return annotation: never called from a run folder
    return SmallNet(width=width)


def touch(path: str) -> None:
    """What a tampered run folder might name: a function with a side effect."""
    Path(path).touch()
