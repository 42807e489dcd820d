"""Mixed precision: the operators with weights follow ``torch.autocast`` as PyTorch's own
convolutions do.

Under autocast, PyTorch runs a convolution in the autocast dtype (float16 or bfloat16),
casting its float32 operands; the output of one layer is then in that dtype while the next
layer's weight stays float32. anyconv's operators cast the same way at their entry, so that
a network of anyconv layers trains with ``--amp`` like one of ``torch.nn`` layers.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any

import torch

_CASTABLE = (torch.float32, torch.float16, torch.bfloat16)
"""Dtypes autocast lowers; float64 stays as it is (as in PyTorch's autocast)."""


def autocast_operands(*tensors: Any) -> tuple[Any, ...]:
    """``tensors`` cast to the autocast dtype of the first one's device when autocast is on
    there; unchanged otherwise (and anything that is not a floating tensor of
    :data:`_CASTABLE` stays as it is, for the argument checks to report).

    Example:
        >>> x, w = torch.randn(1, 1, 4, 4).bfloat16(), torch.randn(1, 1, 3, 3)
        >>> with torch.autocast("cpu", dtype=torch.bfloat16):
        ...     cast = autocast_operands(x, w, None)
        >>> [None if t is None else t.dtype for t in cast]
        [torch.bfloat16, torch.bfloat16, None]
        >>> autocast_operands(x, w)[1].dtype
        torch.float32
    """
    first = tensors[0]
    if not isinstance(first, torch.Tensor):
        return tensors
    device = first.device.type
    if not _autocast_on(device):
        return tensors  # e.g. the meta device has no autocast
    dtype = torch.get_autocast_dtype(device)
    return tuple(
        t.to(dtype)
        if isinstance(t, torch.Tensor) and t.dtype in _CASTABLE and t.device == first.device
        else t
        for t in tensors
    )


def autocast_off(device: torch.device):
    """A context in which autocast is off on ``device``: once an operator has cast its
    operands (:func:`autocast_operands`), its algorithm runs in exactly that dtype, as
    PyTorch's own kernels do. Without it autocast would cast again inside: the float32 sums
    that float16/bfloat16 problems are accumulated in would drop back to half precision,
    and a custom backward pass would see a dtype its forward pass never used.

    Example:
        >>> with torch.autocast("cpu", dtype=torch.bfloat16), autocast_off(torch.device("cpu")):
        ...     (torch.ones(2, 2) @ torch.ones(2, 2)).dtype
        torch.float32
    """
    kind = device.type
    return torch.autocast(kind, enabled=False) if _autocast_on(kind) else contextlib.nullcontext()


@functools.cache
def _autocast_available(kind: str) -> bool:
    return torch.amp.is_autocast_available(kind)


def _autocast_on(kind: str) -> bool:
    """Whether autocast is on for devices of ``kind`` (never on one without autocast)."""
    return _autocast_available(kind) and torch.is_autocast_enabled(kind)
