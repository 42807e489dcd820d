"""anyconv's own functional operators, taken whole by the tracer
(:mod:`anyconv.analysis.trace`): their multiply-accumulates and their receptive-field
geometry come from their arguments, through the geometry they compute with
(:func:`anyconv.padding.conv_spec`), whatever algorithm runs them.

They reach the tracer as single calls because they are
:func:`~anyconv.functional.overrides.overridable`; inside anyconv's own layers, which the
tracer takes whole from their attributes, they are not looked at again.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from anyconv.analysis import layout as L
from anyconv.padding import ConvSpec, conv_spec, transposed_spec


def separable_macs(
    in_channels: int,
    out_channels: int,
    rank: int,
    kernel: Sequence[int],
    padded: Sequence[int],
    out: Sequence[int],
    batch: int = 1,
) -> int:
    """MACs of :func:`anyconv.functional.separable_conv`'s 1-D passes: axis ``a`` is filtered
    while the axes before it are at their output size and those after at their padded
    size; every pass but the last keeps the ``C·O·r`` partial maps apart, the last sums
    ``C·r`` of them into each of the ``O`` outputs.

    Example:
        >>> separable_macs(1, 1, 1, (3, 3), (5, 5), (3, 3))  # 3x5 then 3x3 outputs, 3 taps
        72
    """
    maps = in_channels * out_channels * rank
    total = 0
    for a, k in enumerate(kernel):
        positions = math.prod(out[: a + 1]) * math.prod(padded[a + 1 :])
        last = a == len(kernel) - 1
        total += (out_channels * positions * in_channels * rank if last else maps * positions) * k
    return batch * total


@dataclass(frozen=True)
class Op:
    """How the tracer reads one operator: ``kernel(arguments)`` gives the weight's
    ``(C_out, C_in/groups, *kernel)`` shape, ``macs(arguments, spec, out)`` the count;
    ``transposed``: a transposed convolution, whose spec is the convolution's whose
    adjoint it is (:func:`anyconv.padding.transposed_spec`)."""

    kernel: Callable[[dict], tuple[int, ...]]
    macs: Callable[[dict, ConvSpec, torch.Tensor], int]
    transposed: bool = False


def _dense_macs(a: dict, spec: ConvSpec, out: torch.Tensor) -> int:
    """Each output sums ``C_in/groups · prod(kernel)`` products."""
    return out.numel() * a["in_per_group"] * math.prod(spec.kernel_size)


def _scatter_macs(a: dict, spec: ConvSpec, out: torch.Tensor) -> int:
    """Each input position scatters ``C_out/groups · prod(kernel)`` products (as many as the
    adjoint convolution's)."""
    c_in, out_per_group = a["weight"].shape[:2]
    taps = out_per_group * math.prod(spec.kernel_size)
    return a["batch"] * c_in * math.prod(spec.out_shape) * taps


def _separable(a: dict, spec: ConvSpec, out: torch.Tensor) -> int:
    out_channels, in_channels, rank = a["factors"][0].shape[:3]
    padded = [n + lo + hi for n, (lo, hi) in zip(spec.in_shape, spec.padding, strict=True)]
    return separable_macs(
        in_channels, out_channels, rank, spec.kernel_size, padded, spec.out_shape, a["batch"]
    )


def _weight_kernel(per_axis: int) -> Callable[[dict], tuple[int, ...]]:
    def kernel(a: dict) -> tuple[int, ...]:
        w = a["weight"]
        ndim = (w.dim() - 2) // per_axis
        return tuple(w.shape[: 2 + ndim])

    return kernel


def _factors_kernel(a: dict) -> tuple[int, ...]:
    factors = a["factors"]
    out_channels, in_channels = factors[0].shape[:2]
    return (out_channels, in_channels, *(f.shape[-1] for f in factors))


@functools.cache
def operators() -> dict[Callable, Op]:
    """The overridable operators by function object."""
    from anyconv import functional as F

    return {
        F.conv: Op(_weight_kernel(1), _dense_macs),
        F.locally_connected: Op(_weight_kernel(2), _dense_macs),
        F.tiled_conv: Op(_weight_kernel(2), _dense_macs),
        F.separable_conv: Op(_factors_kernel, _separable),
        F.conv_transpose: Op(_weight_kernel(1), _scatter_macs, transposed=True),
    }


def _arguments(func: Callable, args: tuple, kwargs: dict) -> dict:
    bound = inspect.signature(inspect.unwrap(func)).bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def read(func: Callable, args: tuple, kwargs: dict) -> tuple[dict, ConvSpec] | None:
    """The call's arguments and resolved geometry, or ``None`` for another function."""
    op = operators().get(func)
    if op is None:
        return None
    a = _arguments(func, args, kwargs)
    kernel = op.kernel(a)
    x = a["x"]
    batched = x.dim() == len(kernel)  # (N, C, *spatial) against (O, C/g, *kernel)
    a["batch"] = x.shape[0] if batched else 1
    a["in_per_group"] = kernel[1]
    if op.transposed:
        size = a.get("output_size")
        if size is not None and not batched and len(size) == len(kernel) - 1:
            size = tuple(size)[1:]  # (C_out, *spatial) of an unbatched input
        spec = transposed_spec(
            (a["batch"], *x.shape[1 if batched else 0 :]),
            kernel,
            stride=a.get("stride", 1),
            padding=a.get("padding", "valid"),
            output_padding=a.get("output_padding", 0),
            output_size=size,
            dilation=a.get("dilation", 1),
            groups=a.get("groups", 1),
            func=func.__name__,
        )
        a["transposed"] = True
        return a, spec
    spec = conv_spec(
        (a["batch"], *x.shape[1 if batched else 0 :]),
        kernel,
        stride=a.get("stride", 1),
        padding=a.get("padding", "valid"),
        dilation=a.get("dilation", 1),
        groups=a.get("groups", 1),
        padding_mode=a.get("padding_mode", "zeros"),
        func=func.__name__,
    )
    return a, spec


def macs(func: Callable, call: tuple[dict, ConvSpec], out: Any) -> int:
    """The operator's multiply-accumulates for this call."""
    if not isinstance(out, torch.Tensor):
        return 0
    a, spec = call
    return operators()[func].macs(a, spec, out)


def layout(tr: Any, call: tuple[dict, ConvSpec], out: torch.Tensor) -> L.Layout:
    """The output's layout: a window over the input's spatial axes that mixes channels (a
    transposed one for a transposed convolution, whose output size is ``spec.in_shape``)."""
    a, spec = call
    if a.get("transposed"):
        return L.transposed_window(
            tr.lay(a["x"]),
            spec.kernel_size,
            spec.stride,
            spec.dilation,
            [lo for lo, _ in spec.padding],
            spec.in_shape,
            out.shape[-len(spec.in_shape) - 1],
        )
    return L.window(
        tr.lay(a["x"]),
        spec.kernel_size,
        spec.stride,
        spec.dilation,
        [lo for lo, _ in spec.padding],
        spec.out_shape,
        out.shape[-len(spec.out_shape) - 1],
    )
