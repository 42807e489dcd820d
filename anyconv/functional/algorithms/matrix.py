"""Convolution as an explicit sparse matrix: doubly block Toeplitz, block circulant when the
border is circular.

Row ``(o, j)`` of the matrix is output channel ``o`` at output position ``j``; column
``(c, i)`` is input channel ``c`` at input position ``i``. Each kernel tap contributes
``w[o, c, p]`` at the input position it reads. A border other than zeros maps positions
outside the input back inside (mirror, clamp or wrap), so the matrix acts on the
*unpadded* input and duplicates (a tap and its mirror reading one pixel) are summed.
"""

from __future__ import annotations

import math

import torch

from anyconv.functional.algorithms import nonfinite
from anyconv.functional.algorithms.registry import Problem
from anyconv.padding import ConvSpec

MATRIX_MAX_NONZEROS = 1 << 24
"""The matrix algorithm refuses problems that would store more entries than this (16,777,216;
about 400 MB of indices and values in float64): past it, use another algorithm."""


def _source_index(coord: torch.Tensor, n: int, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Map padded coordinates (relative to the unpadded input) to input positions."""
    if mode == "reflect":
        period = 2 * (n - 1) if n > 1 else 1
        coord = coord.remainder(period)
        coord = torch.where(coord >= n, period - coord, coord)
    elif mode == "replicate":
        coord = coord.clamp(0, n - 1)
    elif mode == "circular":
        coord = coord.remainder(n)
    inside = (coord >= 0) & (coord < n)
    return coord.clamp(0, n - 1), inside


def matrix_entries(weight_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> int:
    """Entries the matrix stores: one per weight tap and output position."""
    return math.prod(weight_shape) * math.prod(out_shape)


def matrix_refusal(problem: Problem) -> str | None:
    """Capability check: refuse matrices above :data:`MATRIX_MAX_NONZEROS` entries."""
    weight_shape, out_shape = problem.weight_shape, problem.spec.out_shape
    entries = matrix_entries(weight_shape, out_shape)
    if entries <= MATRIX_MAX_NONZEROS:
        return None
    return (
        f"would store {entries:,} nonzeros for weight of shape {tuple(weight_shape)} and "
        f"output size {tuple(out_shape)}, above its limit of {MATRIX_MAX_NONZEROS:,} "
        "(anyconv.functional.algorithms.matrix.MATRIX_MAX_NONZEROS)"
    )


def matrix_memory(problem: Problem) -> int:
    """Peak bytes: the COO indices and values (twice, while coalescing) and the output."""
    entries = matrix_entries(problem.weight_shape, problem.spec.out_shape)
    item = max(problem.dtype.itemsize, 4)
    out = problem.x_shape[0] * problem.weight_shape[0] * math.prod(problem.spec.out_shape)
    return 2 * entries * (2 * 8 + item) + out * item


def build_matrix(
    weight: torch.Tensor, spatial: tuple[int, ...], spec: ConvSpec, func: str = "conv"
) -> torch.Tensor:
    """The sparse ``(C_out * prod(out), C_in * prod(spatial))`` matrix of a resolved spec.

    The values are gathered from ``weight`` with autograd intact, so gradients flow to the
    weight through the matrix.
    """
    device = weight.device
    reason = matrix_refusal(Problem((), tuple(weight.shape), spec, weight.dtype, device, False))
    if reason is not None:
        raise ValueError(f"{func}(): the matrix {reason}; use a smaller problem")
    out_channels, per_group, *kernel = weight.shape
    groups = spec.groups
    ndim = len(spatial)
    # Per axis: input coordinate read by (output position j, tap p), shape (m, k).
    flat = torch.zeros((), dtype=torch.long, device=device)
    valid = torch.ones((), dtype=torch.bool, device=device)
    for axis, (n, k, m, s, d, (lo, _)) in enumerate(
        zip(spatial, kernel, spec.out_shape, spec.stride, spec.dilation, spec.padding, strict=True)
    ):
        coord = (
            torch.arange(m, device=device)[:, None] * s
            + torch.arange(k, device=device)[None, :] * d
            - lo
        )
        source, inside = _source_index(coord, n, spec.padding_mode)
        shape = [1] * (2 * ndim)  # (*out, *kernel) with this axis' m and k in place
        shape[axis], shape[ndim + axis] = m, k
        flat = flat * n + source.view(shape)
        valid = valid & inside.view(shape)
    positions, taps = math.prod(spec.out_shape), math.prod(kernel)
    flat = flat.expand(*spec.out_shape, *kernel).reshape(positions, taps)
    valid = valid.expand(*spec.out_shape, *kernel).reshape(positions, taps)
    size = math.prod(spatial)
    o = torch.arange(out_channels, device=device).view(-1, 1, 1, 1)
    c = torch.arange(per_group, device=device).view(1, -1, 1, 1)
    in_channel = (o // (out_channels // groups)) * per_group + c
    rows = o * positions + torch.arange(positions, device=device).view(1, 1, -1, 1)
    cols = in_channel * size + flat.view(1, 1, positions, taps)
    shape4 = (out_channels, per_group, positions, taps)
    keep = valid.view(1, 1, positions, taps).expand(shape4)
    values = weight.reshape(out_channels, per_group, 1, taps).expand(shape4)[keep]
    indices = torch.stack([rows.expand(shape4)[keep], cols.expand(shape4)[keep]])
    matrix = torch.sparse_coo_tensor(
        indices,
        values,
        (out_channels * positions, groups * per_group * size),
        check_invariants=False,
    )
    return matrix.coalesce()


def _product(x: torch.Tensor, weight: torch.Tensor, spec: ConvSpec) -> torch.Tensor:
    """``M x`` for every sample (float32 inside for float16/bfloat16)."""
    dtype = x.dtype
    if dtype in (torch.float16, torch.bfloat16):
        x, weight = x.float(), weight.float()
    matrix = build_matrix(weight, tuple(x.shape[2:]), spec)
    y = torch.sparse.mm(matrix, x.reshape(x.shape[0], -1).T).T
    return y.reshape(x.shape[0], weight.shape[0], *spec.out_shape).to(dtype)


def conv_matrix_algorithm(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, spec: ConvSpec
) -> torch.Tensor:
    """Convolution as one sparse matrix product ``y = M x`` per batch (float32 inside for
    float16/bfloat16, which sparse kernels do not cover).

    A border folded into the matrix sums the taps that read one pixel into one entry, which
    changes how a NaN/inf input combines (``(w1 + w2)·inf`` is not ``w1·inf + w2·inf``), so
    a non-finite output from non-finite operands is computed again by
    :func:`~anyconv.functional.algorithms.nonfinite.exact` with the border applied first.
    """
    y = _product(x, weight, spec)
    if nonfinite.spreads(y, x, weight):
        y = nonfinite.exact(_product, x, weight, spec)
    if bias is not None:
        y = y + bias.view(-1, *(1,) * len(spec.out_shape))
    return y
