"""The definition itself: a sum over kernel offsets of strided input slices times weights,
and for the transposed convolution a scatter-add of the input times each tap."""

from __future__ import annotations

import itertools

import torch

from anyconv.functional.algorithms.memory import nbytes, padded_shape
from anyconv.functional.algorithms.registry import Problem
from anyconv.padding import ConvSpec, pad

_HALF = (torch.float16, torch.bfloat16)


def direct_memory(problem: Problem) -> int:
    """Peak bytes: the padded input, the running sum and one term (two outputs), and the
    input slice of one kernel offset, which ``einsum`` may copy; all in float32 for a
    float16/bfloat16 problem, which also keeps its float32 copy of the input."""
    spec = problem.spec
    dtype = torch.float32 if problem.dtype in _HALF else problem.dtype
    padded = nbytes(padded_shape(problem.x_shape, spec.padding), dtype)
    window = nbytes((*problem.x_shape[:2], *spec.out_shape), dtype)
    out = nbytes((problem.x_shape[0], problem.weight_shape[0], *spec.out_shape), dtype)
    widened = nbytes(problem.x_shape, dtype) if problem.dtype in _HALF else 0
    return widened + padded + 2 * out + window


def conv_direct(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, spec: ConvSpec
) -> torch.Tensor:
    """``y[n, o, j] = b[o] + sum_{c, p} w[o, c, p] * x_pad[n, c, j*stride + p*dilation]``.

    One term per kernel offset ``p``: the input slice that offset sees at every output
    position is a strided view, contracted with ``w[:, :, p]`` over the channels of its
    group. Readable, works for any number of axes and any floating dtype, autograd does the
    backward pass (and the forward-mode one). float16 and bfloat16 are summed in float32,
    as the other algorithms' kernels do: a running sum of many half-precision terms loses
    the small ones (a 63x63 kernel in bfloat16 was off by 69%).
    """
    if x.dtype in _HALF:
        y = conv_direct(x.float(), weight.float(), None if bias is None else bias.float(), spec)
        return y.to(x.dtype)
    x = pad(x, spec.padding, spec.padding_mode)
    n, groups = x.shape[0], spec.groups
    out_channels, per_group, *kernel = weight.shape
    xg = x.reshape(n, groups, per_group, *x.shape[2:])
    wg = weight.reshape(groups, out_channels // groups, per_group, *kernel)
    y = x.new_zeros(n, groups, out_channels // groups, *spec.out_shape)
    for offset in itertools.product(*map(range, kernel)):
        window = tuple(
            slice(p * d, p * d + s * (m - 1) + 1, s)
            for p, d, s, m in zip(offset, spec.dilation, spec.stride, spec.out_shape, strict=True)
        )
        y = y + torch.einsum("ngc...,goc->ngo...", xg[(..., *window)], wg[(..., *offset)])
    y = y.reshape(n, out_channels, *spec.out_shape)
    if bias is not None:
        y = y + bias.view(-1, *(1,) * len(kernel))
    return y


def conv_transpose_direct(
    y: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, spec: ConvSpec
) -> torch.Tensor:
    """The adjoint of :func:`conv_direct` by its definition, a scatter-add:
    ``x_pad[n, c, j*stride + p*dilation] += sum_o w[o, c, p] * y[n, o, j]`` for every tap
    ``p`` and input position ``j``, then the padding cut off (``x = x_pad[lo : lo + n]``).

    One term per kernel offset, added into a strided slice of the padded grid; autograd
    does the backward pass. float16 and bfloat16 accumulate in float32.
    """
    dtype = y.dtype
    if dtype in (torch.float16, torch.bfloat16):
        y, weight = y.float(), weight.float()
        bias = None if bias is None else bias.float()
    n, groups = y.shape[0], spec.groups
    out_channels, per_group, *kernel = weight.shape
    padded = [size + lo + hi for size, (lo, hi) in zip(spec.in_shape, spec.padding, strict=True)]
    yg = y.reshape(n, groups, out_channels // groups, *spec.out_shape)
    wg = weight.reshape(groups, out_channels // groups, per_group, *kernel)
    grid = y.new_zeros(n, groups, per_group, *padded)
    for offset in itertools.product(*map(range, kernel)):
        window = tuple(
            slice(p * d, p * d + s * (m - 1) + 1, s)
            for p, d, s, m in zip(offset, spec.dilation, spec.stride, spec.out_shape, strict=True)
        )
        grid[(..., *window)] += torch.einsum("ngo...,goc->ngc...", yg, wg[(..., *offset)])
    crop = tuple((-lo, -hi) for lo, hi in spec.padding)
    x = pad(grid.reshape(n, groups * per_group, *padded), crop)
    if bias is not None:
        x = x + bias.view(-1, *(1,) * len(kernel))
    return x.to(dtype)
