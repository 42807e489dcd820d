"""Memory formats and unbatched inputs: what every operator keeps of its input's layout.

PyTorch's convolutions return a ``channels_last`` (``channels_last_3d``) output when the
input or the weight is laid out so, and ``torch.nn`` layers take an unbatched
``(C, *spatial)`` input and return an unbatched output. anyconv's operators do the same
whatever algorithm computes them: the algorithms work on ``(N, C, *spatial)`` and whatever
strides suit them, and :func:`keep_format` gives the output the layout PyTorch would.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

_FORMATS = {4: torch.channels_last, 5: torch.channels_last_3d}


def memory_format(*tensors: torch.Tensor | None) -> torch.memory_format:
    """``channels_last`` (4-D) or ``channels_last_3d`` (5-D) when one of ``tensors`` (the
    input, the weight) is laid out so and not also plainly contiguous, as PyTorch's
    convolutions decide; ``torch.contiguous_format`` otherwise (1-D convolutions, whose
    3-D tensors have no channels-last format, included).

    Example:
        >>> x = torch.randn(2, 3, 4, 4).to(memory_format=torch.channels_last)
        >>> memory_format(x, torch.randn(8, 3, 3, 3))
        torch.channels_last
        >>> memory_format(torch.randn(2, 3, 8))
        torch.contiguous_format
    """
    for t in tensors:
        if t is None:
            continue
        fmt = _FORMATS.get(t.dim())
        if fmt is not None and t.is_contiguous(memory_format=fmt) and not t.is_contiguous():
            return fmt
    return torch.contiguous_format


def keep_format(y: torch.Tensor, fmt: torch.memory_format) -> torch.Tensor:
    """``y`` in memory format ``fmt`` (no copy when it already is; autograd hands the
    gradient back through the copy)."""
    if fmt is torch.contiguous_format or y.dim() not in _FORMATS:
        return y
    return y.contiguous(memory_format=fmt)


def with_batch(x: torch.Tensor, ndim: int, run: Callable[[torch.Tensor], torch.Tensor]):
    """``run(x)`` for a batched ``(N, C, *spatial)`` input with ``ndim`` spatial axes; an
    unbatched ``(C, *spatial)`` runs as a batch of one and comes back unbatched, as in
    ``torch.nn``. The caller has checked the rank.

    Example:
        >>> with_batch(torch.ones(3, 5), 1, lambda x: x.sum(2, keepdim=True)).shape
        torch.Size([3, 1])
    """
    if x.dim() == ndim + 1:
        return run(x.unsqueeze(0)).squeeze(0)
    return run(x)
