"""Padding rules -> explicit ``(lo, hi)`` amounts per axis, and the output-size arithmetic.

This module is the single source of both for every layer (convolution, locally
connected, tiled, pooling). With ``k_eff = dilation * (k - 1) + 1``:

==========  =============  =========================================================
rule        lo             hi
==========  =============  =========================================================
"valid"     0              0
"full"      k_eff - 1      k_eff - 1
"causal"    k_eff - 1      0
"same"      total // 2     total - total // 2, total = max((ceil(n/s) - 1)*s + k_eff - n, 0)
int p       p              p
(lo, hi)    lo             hi
==========  =============  =========================================================

The output size along an axis is ``floor((n + lo + hi - k_eff) / s) + 1``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from anyconv._spec import PADDING_MODES, choice, fail, int_tuple, padding_entries

Padding = tuple[tuple[int, int], ...]


def effective_kernel(kernel_size: Sequence[int], dilation: Sequence[int]) -> tuple[int, ...]:
    """The span of each dilated kernel axis, ``k_eff = dilation * (k - 1) + 1``.

    Example:
        >>> effective_kernel((3, 5), (2, 1))
        (5, 5)
    """
    return tuple(d * (k - 1) + 1 for k, d in zip(kernel_size, dilation, strict=True))


def _spatial(input_shape: Any, func: str) -> tuple[int, ...]:
    if not (isinstance(input_shape, Sequence | torch.Size) and len(input_shape) >= 1):
        raise fail(
            func, "input_shape", "a non-empty tuple of spatial sizes", input_shape, TypeError
        )
    return int_tuple(tuple(input_shape), len(input_shape), "input_shape", func, minimum=0)


def _resolve(
    spatial: tuple[int, ...], kernel_size: Any, stride: Any, padding: Any, dilation: Any, func: str
) -> tuple[tuple[int, ...], tuple[int, ...], Padding]:
    ndim = len(spatial)
    kernel = int_tuple(kernel_size, ndim, "kernel_size", func, minimum=1)
    stride = int_tuple(stride, ndim, "stride", func, minimum=1)
    dilation = int_tuple(dilation, ndim, "dilation", func, minimum=1)
    keff = effective_kernel(kernel, dilation)
    pads = []
    for entry, n, k_eff, s in zip(
        padding_entries(padding, ndim, func), spatial, keff, stride, strict=True
    ):
        if entry == "valid":
            pads.append((0, 0))
        elif entry == "full":
            pads.append((k_eff - 1, k_eff - 1))
        elif entry == "causal":
            pads.append((k_eff - 1, 0))
        elif entry == "same":
            total = max((-(-n // s) - 1) * s + k_eff - n, 0)
            pads.append((total // 2, total - total // 2))
        elif isinstance(entry, int):
            pads.append((entry, entry))
        else:
            pads.append(entry)
    for axis, (n, (lo, hi), ke) in enumerate(zip(spatial, pads, keff, strict=True)):
        if n + lo + hi < ke:
            raise ValueError(
                f"{func}(): the kernel is larger than the padded input on spatial axis {axis}: "
                f"kernel_size {kernel[axis]} with dilation {dilation[axis]} spans {ke}, but "
                f"the input of size {n} padded by {(lo, hi)} has only {n + lo + hi}; use a "
                "smaller kernel or more padding"
            )
    return stride, keff, tuple(pads)


def resolve_padding(
    input_shape: Sequence[int],
    kernel_size: int | Sequence[int],
    *,
    stride: int | Sequence[int] = 1,
    padding: Any = "valid",
    dilation: int | Sequence[int] = 1,
) -> Padding:
    """Explicit ``(lo, hi)`` padding per spatial axis for a padding specification.

    Args:
        input_shape: spatial sizes ``(*spatial)`` of the input (no batch or channel axes).
        kernel_size: an int or one int per spatial axis.
        stride, dilation: an int or one int per spatial axis.
        padding: ``"valid"``, ``"same"``, ``"full"``, ``"causal"``, an int, or a tuple with
            one entry per spatial axis, each a rule string, an int or a ``(lo, hi)`` pair.

    Returns:
        ``((lo_0, hi_0), (lo_1, hi_1), ...)``, one pair per spatial axis.

    Example:
        >>> resolve_padding((10, 32, 32), 3, padding=("causal", "same", "same"))
        ((2, 0), (1, 1), (1, 1))
        >>> resolve_padding((7,), 4, stride=2, padding="same")
        ((1, 2),)
    """
    spatial = _spatial(input_shape, "resolve_padding")
    return _resolve(spatial, kernel_size, stride, padding, dilation, "resolve_padding")[2]


def _out_size(n: int, lo: int, hi: int, k_eff: int, s: int, ceil_mode: bool) -> int:
    span = n + lo + hi - k_eff
    if not ceil_mode:
        return span // s + 1
    out = -(-span // s) + 1
    # PyTorch's pooling rule: a window that would start inside the right padding is dropped.
    if (out - 1) * s >= n + lo:
        out -= 1
    return out


def output_shape(
    input_shape: Sequence[int],
    kernel_size: int | Sequence[int],
    *,
    stride: int | Sequence[int] = 1,
    padding: Any = "valid",
    dilation: int | Sequence[int] = 1,
    ceil_mode: bool = False,
) -> tuple[int, ...]:
    """Spatial output size of a convolution or pooling window sliding over ``input_shape``.

    Args:
        input_shape: spatial sizes ``(*spatial)`` of the input (no batch or channel axes).
        kernel_size, stride, dilation, padding: as in :func:`resolve_padding`.
        ceil_mode: round the window count up, as pooling layers may (a window that would
            start in the right padding is dropped, as in PyTorch).

    Returns:
        the spatial output shape ``(*out_spatial)``.

    Example:
        >>> output_shape((28, 28), 5)
        (24, 24)
        >>> output_shape((28, 28), 3, stride=2, padding="same")
        (14, 14)
        >>> output_shape((5,), 2, stride=2, ceil_mode=True)
        (3,)
    """
    spatial = _spatial(input_shape, "output_shape")
    return conv_geometry(
        spatial,
        kernel_size,
        stride=stride,
        padding=padding,
        dilation=dilation,
        ceil_mode=ceil_mode,
        func="output_shape",
    )[1]


def conv_geometry(
    spatial: tuple[int, ...],
    kernel_size: Any,
    *,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool = False,
    func: str,
) -> tuple[Padding, tuple[int, ...]]:
    """Resolved padding and output shape together, validating everything (internal helper)."""
    if not isinstance(ceil_mode, bool):
        raise fail(func, "ceil_mode", "a bool", ceil_mode, TypeError)
    stride, keff, pads = _resolve(spatial, kernel_size, stride, padding, dilation, func)
    out = tuple(
        _out_size(n, lo, hi, ke, s, ceil_mode)
        for n, (lo, hi), ke, s in zip(spatial, pads, keff, stride, strict=True)
    )
    return pads, out


def pad(x: torch.Tensor, padding: Padding, mode: str = "zeros", value: float = 0.0) -> torch.Tensor:
    """Pad the trailing ``len(padding)`` axes of ``x`` by explicit ``(lo, hi)`` amounts.

    Args:
        x: tensor ``(N, C, *spatial)``.
        padding: ``((lo, hi), ...)`` per spatial axis, as :func:`resolve_padding` returns.
            With ``"zeros"`` a negative amount crops that many samples instead.
        mode: ``"zeros"``, ``"reflect"``, ``"replicate"`` or ``"circular"``.
        value: the fill for ``"zeros"`` (pooling pads with ``-inf``).

    Returns:
        ``(N, C, *(n + lo + hi))``; ``x`` itself when there is nothing to pad.

    Example:
        >>> pad(torch.arange(4.0).view(1, 1, 4), ((2, 1),), "reflect")
        tensor([[[2., 1., 0., 1., 2., 3., 2.]]])
    """
    choice(mode, PADDING_MODES, "padding_mode", "pad")
    if not any(lo or hi for lo, hi in padding):
        return x
    flat = [amount for lo_hi in reversed(padding) for amount in lo_hi]
    if mode == "zeros":
        return F.pad(x, flat, mode="constant", value=value)
    return F.pad(x, flat, mode=mode)
