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


def _pattern(
    weight_shape: tuple[int, ...], spatial: tuple[int, ...], spec: ConvSpec, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The matrix's structure, without values: ``(indices, taps, inverse)``.

    ``indices`` ``(2, U)`` are the coalesced (row, column) pairs in row-major order;
    ``taps`` are the flat weight indices of every (output position, tap) that reads the
    input, and ``inverse`` says which coalesced entry each of them adds to (a tap and its
    mirror reading one pixel share one). The values are then
    ``zeros(U).index_add(0, inverse, weight.flatten()[taps])``, linear in the weight.
    """
    out_channels, per_group, *kernel = weight_shape
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
    tap = (o * per_group + c) * taps + torch.arange(taps, device=device).view(1, 1, 1, -1)
    n_cols = groups * per_group * size
    linear = rows.expand(shape4)[keep] * n_cols + cols.expand(shape4)[keep]
    unique, inverse = torch.unique(linear, sorted=True, return_inverse=True)
    indices = torch.stack([unique // n_cols, unique % n_cols])
    return indices, tap.expand(shape4)[keep], inverse


def _values(weight: torch.Tensor, taps: torch.Tensor, inverse: torch.Tensor, count: int):
    """The coalesced entries: each the sum of the weight taps that land on it."""
    return weight.new_zeros(count).index_add(0, inverse, weight.reshape(-1)[taps])


def build_matrix(
    weight: torch.Tensor, spatial: tuple[int, ...], spec: ConvSpec, func: str = "conv"
) -> torch.Tensor:
    """The sparse ``(C_out * prod(out), C_in * prod(spatial))`` matrix of a resolved spec.

    The values are gathered from ``weight`` with autograd intact, so gradients flow to the
    weight through the matrix.
    """
    _check_entries(weight, spec, func)
    indices, taps, inverse = _pattern(tuple(weight.shape), spatial, spec, weight.device)
    values = _values(weight, taps, inverse, indices.shape[1])
    return _sparse(indices, values, _matrix_shape(weight.shape, spatial, spec))


def _check_entries(weight: torch.Tensor, spec: ConvSpec, func: str) -> None:
    problem = Problem((), tuple(weight.shape), spec, weight.dtype, weight.device, False)
    reason = matrix_refusal(problem)
    if reason is not None:
        raise ValueError(f"{func}(): the matrix {reason}; use a smaller problem")


def _matrix_shape(weight_shape, spatial: tuple[int, ...], spec: ConvSpec) -> tuple[int, int]:
    out_channels, per_group = weight_shape[:2]
    rows = out_channels * math.prod(spec.out_shape)
    return rows, spec.groups * per_group * math.prod(spatial)


_CHUNK = 1 << 22
"""Products formed at once for the gradient of the matrix entries (entries x batch)."""


class _SparseProduct(torch.autograd.Function):
    """``M(values) @ x`` for the coalesced sparse matrix with fixed ``indices``, with the
    passes written out: PyTorch's sparse product has no forward-mode formula, and under
    autocast its backward mixed dtypes.

    - backward: ``grad_x = Mᵀ · grad``; the entry of (row r, column c) gets
      ``sum_n grad[r, n] · x[c, n]``, formed in chunks of :data:`_CHUNK` products.
    - forward mode: ``d(M x) = M(d values) · x + M(values) · dx``.

    Both are built of differentiable operations, so double backward works too.
    """

    @staticmethod
    def forward(values, x, indices, shape):
        return torch.sparse.mm(_sparse(indices, values, shape), x)

    @staticmethod
    def setup_context(ctx, inputs, output):
        values, x, indices, shape = inputs
        ctx.save_for_backward(values, x, indices)
        ctx.save_for_forward(values, x, indices)
        ctx.shape = shape

    @staticmethod
    def backward(ctx, grad):
        values, x, indices = ctx.saved_tensors
        grad_values = grad_x = None
        if ctx.needs_input_grad[0]:
            rows, cols = indices
            step = max(1, _CHUNK // max(1, x.shape[1]))
            pieces = [
                (grad[rows[i : i + step]] * x[cols[i : i + step]]).sum(1)
                for i in range(0, rows.numel(), step)
            ]
            grad_values = torch.cat(pieces) if pieces else values.new_zeros(0)
        if ctx.needs_input_grad[1]:
            grad_x = torch.sparse.mm(_sparse(indices, values, ctx.shape).t(), grad)
        return grad_values, grad_x, None, None

    @staticmethod
    def jvp(ctx, dvalues, dx, *_):
        values, x, indices = ctx.saved_tensors
        terms = []
        if dvalues is not None:
            terms.append(torch.sparse.mm(_sparse(indices, dvalues, ctx.shape), x))
        if dx is not None:
            terms.append(torch.sparse.mm(_sparse(indices, values, ctx.shape), dx))
        if not terms:
            return None
        return terms[0] if len(terms) == 1 else terms[0] + terms[1]


def _sparse(indices: torch.Tensor, values: torch.Tensor, shape) -> torch.Tensor:
    """The coalesced sparse matrix (indices sorted and unique by construction)."""
    return torch.sparse_coo_tensor(
        indices, values, shape, is_coalesced=True, check_invariants=False
    )


def _product(x: torch.Tensor, weight: torch.Tensor, spec: ConvSpec) -> torch.Tensor:
    """``M x`` for every sample (float32 inside for float16/bfloat16)."""
    dtype = x.dtype
    if dtype in (torch.float16, torch.bfloat16):
        x, weight = x.float(), weight.float()
    spatial = tuple(x.shape[2:])
    _check_entries(weight, spec, "conv")
    indices, taps, inverse = _pattern(tuple(weight.shape), spatial, spec, weight.device)
    values = _values(weight, taps, inverse, indices.shape[1])
    shape = _matrix_shape(weight.shape, spatial, spec)
    y = _SparseProduct.apply(values, x.reshape(x.shape[0], -1).T, indices, shape).T
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


def _transposed_product(y: torch.Tensor, weight: torch.Tensor, spec: ConvSpec) -> torch.Tensor:
    """``Mᵀ y`` for every sample, ``(N, O, *out)`` -> ``(N, C, *spec.in_shape)``: the
    matrix's pattern with rows and columns exchanged and sorted again (row-major, so still
    coalesced), through the same :class:`_SparseProduct` (its backward pass, forward-mode
    derivative and double backward); float32 inside for float16/bfloat16."""
    dtype = y.dtype
    if dtype in (torch.float16, torch.bfloat16):
        y, weight = y.float(), weight.float()
    spatial = tuple(spec.in_shape)
    _check_entries(weight, spec, "conv_transpose")
    indices, taps, inverse = _pattern(tuple(weight.shape), spatial, spec, weight.device)
    values = _values(weight, taps, inverse, indices.shape[1])
    rows, cols = _matrix_shape(weight.shape, spatial, spec)
    order = torch.argsort(indices[1] * rows + indices[0])
    flipped = indices.flip(0)[:, order]
    x = _SparseProduct.apply(values[order], y.reshape(y.shape[0], -1).T, flipped, (cols, rows))
    return x.T.reshape(y.shape[0], -1, *spatial).to(dtype)


def conv_transpose_matrix(
    y: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, spec: ConvSpec
) -> torch.Tensor:
    """The adjoint of :func:`conv_matrix_algorithm`: one sparse product ``x = Mᵀ y`` per
    batch (float32 inside for float16/bfloat16).

    A zero border folds nothing into the matrix, so each entry is one term of the direct
    scatter and NaN/inf combine as there.
    """
    x = _transposed_product(y, weight, spec)
    if bias is not None:
        x = x + bias.view(-1, *(1,) * len(spec.in_shape))
    return x
