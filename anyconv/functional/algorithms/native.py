"""PyTorch's own convolution kernels (oneDNN / cuDNN) on the padded input, and its
transposed convolution kernels for the adjoint."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from anyconv.functional.algorithms.memory import nbytes, output_bytes, padded_shape
from anyconv.functional.algorithms.registry import Problem
from anyconv.padding import ConvSpec, pad

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_TRANSPOSE = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def _explicit_padding(spec: ConvSpec) -> tuple[tuple[int, int], ...]:
    """The padding applied by copy: all of it for a border other than zeros, else only the
    asymmetric remainder (the kernel pads ``min(lo, hi)`` per side itself)."""
    if spec.padding_mode != "zeros":
        return spec.padding
    return tuple((lo - min(lo, hi), hi - min(lo, hi)) for lo, hi in spec.padding)


def native_memory(problem: Problem) -> int:
    """Peak bytes: the output, the padded copy when one is made, and what PyTorch's CPU
    kernels allocate inside: oneDNN (float32, bfloat16) reorders the input once; the
    fallback kernels for other dtypes (float64, float16) unfold the whole batch into
    columns, ``N · C/g · prod(kernel) · prod(out)`` (a 3x3x3 float64 conv needs 27 times
    its input)."""
    spec, dtype = problem.spec, problem.dtype
    if problem.transposed:
        # the output, and the columns of one sample that the CPU fallback kernels scatter
        _, per_group, *kernel = problem.weight_shape
        columns = nbytes((per_group * spec.groups, *kernel, *spec.out_shape), dtype)
        return nbytes(problem.result_shape, dtype) + columns
    explicit = _explicit_padding(spec)
    copy = any(lo or hi for lo, hi in explicit)
    padded = nbytes(padded_shape(problem.x_shape, explicit), dtype) if copy else 0
    inner = 0
    if problem.device.type == "cpu":
        if dtype in (torch.float32, torch.bfloat16):
            inner = nbytes(problem.x_shape, dtype)
        else:
            n, (_, per_group, *kernel) = problem.x_shape[0], problem.weight_shape
            inner = nbytes((n, per_group, *kernel, *spec.out_shape), dtype)
    return output_bytes(problem) + padded + inner


def conv_native(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, spec: ConvSpec
) -> torch.Tensor:
    """Convolution by ``torch.nn.functional.conv{1,2,3}d``.

    Zero borders are handed to the kernel, which pads without a copy; only the asymmetric
    remainder (e.g. ``"causal"`` or ``"same"`` with an even kernel) is padded explicitly.
    """
    explicit = _explicit_padding(spec)
    inner = tuple(p - e for (p, _), (e, _) in zip(spec.padding, explicit, strict=True))
    x = pad(x, explicit, spec.padding_mode)
    return _CONV[x.dim() - 2](x, weight, bias, spec.stride, inner, spec.dilation, spec.groups)


def _transposed_plan(spec: ConvSpec):
    """How PyTorch's ``conv_transpose`` computes the adjoint of ``spec``: its symmetric
    ``padding`` and ``output_padding`` per axis, and the crop (negative) or zero extension
    (positive) ``(lo, hi)`` of its output that remains.

    PyTorch's padding ``q`` removes ``q`` positions from both ends of the full scatter, of
    extent ``(m - 1)·s + k_eff``, and ``output_padding`` adds positions at its end; the
    adjoint of ``spec`` is the scatter's positions ``[lo, lo + n)``. With ``q = min(lo,
    hi)`` the ``output_padding`` needed is at most the spec's remainder ``n + lo + hi -
    k_eff - (m - 1)·s < s``, which PyTorch takes, and what is left is a crop on one side
    (``"causal"``, ``"same"`` with an even kernel); PyTorch's own int padding needs none.

    Example:
        >>> from anyconv.padding import transposed_spec
        >>> spec = transposed_spec((1, 1, 5), (1, 1, 3), stride=2, padding=1, output_padding=1)
        >>> _transposed_plan(spec)  # PyTorch's own arguments, nothing left to crop
        ((1,), (1,), ((0, 0),))
        >>> _transposed_plan(transposed_spec((1, 1, 5), (1, 1, 3), padding="causal"))
        ((0,), (0,), ((-2, 0),))
    """
    inner, extra, outer = [], [], []
    for n, m, k, s, d, (lo, hi) in zip(
        spec.in_shape,
        spec.out_shape,
        spec.kernel_size,
        spec.stride,
        spec.dilation,
        spec.padding,
        strict=True,
    ):
        full = (m - 1) * s + d * (k - 1) + 1
        beyond = full - lo - n  # scatter positions past the output's end (< 0: too few)
        q = max(0, min(lo, hi))  # hi < 0 past an output_padding beyond the stride
        op = min(max(0, q - beyond), max(s, d) - 1)
        size = full - 2 * q + op
        inner.append(q)
        extra.append(op)
        outer.append((q - lo, n + (lo - q) - size))
    return tuple(inner), tuple(extra), tuple(outer)


def conv_transpose_native(
    y: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, spec: ConvSpec
) -> torch.Tensor:
    """The adjoint of :func:`conv_native` by ``torch.nn.functional.conv_transpose{1,2,3}d``.

    PyTorch's kernels take the symmetric part of the padding and an ``output_padding``;
    what remains of an asymmetric ``(lo, hi)`` (``"causal"``, ``"same"`` with an even
    kernel) is a crop of their output, or zeros added where no window reaches.
    """
    inner, extra, outer = _transposed_plan(spec)
    extends = any(hi > 0 for _, hi in outer)
    z = _CONV_TRANSPOSE[y.dim() - 2](
        y,
        weight,
        None if extends else bias,
        spec.stride,
        inner,
        extra,
        spec.groups,
        spec.dilation,
    )
    z = pad(z, outer)
    if extends and bias is not None:
        z = z + bias.view(-1, *(1,) * (z.dim() - 2))
    return z
