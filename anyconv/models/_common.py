"""What the model definitions share: argument checks, pooling and activation by name.

Feature sizes are always computed with :func:`anyconv.padding.output_shape`, the one place
that knows the output-size arithmetic, never by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from anyconv._checks import check_real, choice, int_tuple, positive_int
from anyconv.nn import pool as npool
from anyconv.padding import output_shape

POOLS = ("max", "avg", "soft")
ACTIVATIONS: dict[str, type[torch.nn.Module]] = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}
_POOL_CLASSES = {
    "max": (npool.MaxPool1d, npool.MaxPool2d, npool.MaxPool3d),
    "avg": (npool.AvgPool1d, npool.AvgPool2d, npool.AvgPool3d),
    "soft": (npool.SoftPool1d, npool.SoftPool2d, npool.SoftPool3d),
}


def check_common(
    in_channels: Any, num_classes: Any, input_size: Any, ndim: int, func: str
) -> tuple[int, ...]:
    """Validate the three arguments every model takes; returns ``input_size`` as a tuple."""
    positive_int(in_channels, "in_channels", func)
    positive_int(num_classes, "num_classes", func)
    return int_tuple(input_size, ndim, "input_size", func, minimum=1)


def check_probability(value: Any, arg: str, func: str) -> float:
    """A dropout rate: a float (or int) in ``[0, 1)``."""
    return check_real(value, arg, func, minimum=0, below=1)


def activation_class(name: Any, func: str) -> type[torch.nn.Module]:
    """The activation class for ``"relu"`` or ``"tanh"``."""
    return ACTIVATIONS[choice(name, tuple(ACTIVATIONS), "activation", func)]


def make_pool(kind: Any, ndim: int, kernel_size: int | Sequence[int], func: str) -> torch.nn.Module:
    """A ``kind`` (``"max"``, ``"avg"``, ``"soft"``) pooling layer, stride = kernel.

    ``ceil_mode=True`` so that an odd size keeps its last row instead of dropping it; for
    even sizes (28, 32, 8) this is the classic floor-mode result.
    """
    cls = _POOL_CLASSES[choice(kind, POOLS, "pool", func)][ndim - 1]
    return cls(kernel_size, ceil_mode=True)


def pooled(size: Sequence[int], kernel_size: int | Sequence[int]) -> tuple[int, ...]:
    """Spatial size after :func:`make_pool` with this kernel."""
    return output_shape(size, kernel_size, stride=kernel_size, ceil_mode=True)
