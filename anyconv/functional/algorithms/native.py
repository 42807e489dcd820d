"""PyTorch's own convolution kernels (oneDNN / cuDNN) on the padded input."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from anyconv.functional.algorithms.memory import nbytes, output_bytes, padded_shape
from anyconv.functional.algorithms.registry import Problem
from anyconv.padding import ConvSpec, pad

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


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
