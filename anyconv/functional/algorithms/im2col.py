"""im2col + GEMM, with the backward pass written out (col2im) instead of left to autograd;
the transposed convolution is the other way round: col2im of the weight times the input's
columns, with im2col in its backward pass."""

from __future__ import annotations

import functools
import math

import torch

from anyconv.functional.algorithms.memory import nbytes, output_bytes, padded_shape
from anyconv.functional.algorithms.registry import Problem
from anyconv.functional.windows import sliding_windows
from anyconv.padding import ConvSpec, pad

Ints = tuple[int, ...]

# sliding_windows: its old path
__all__ = ["col2im", "conv_im2col", "conv_transpose_im2col", "im2col", "sliding_windows"]


def im2col(
    xp: torch.Tensor, kernel: Ints, stride: Ints, dilation: Ints, groups: int
) -> torch.Tensor:
    """Unfold a padded input into the column matrix of every receptive field.

    Args:
        xp: padded input ``(N, C, *padded)``.
        kernel, stride, dilation: one int per spatial axis.
        groups: channel groups; each group gets its own column block.

    Returns:
        ``cols`` of shape ``(N, groups, C/groups * prod(kernel), L)`` where ``L`` is the
        number of output positions; row ``c * prod(kernel) + p`` holds channel ``c`` at
        kernel offset ``p`` (C order), matching ``weight.reshape(C_out, -1)``.

    Example:
        >>> x = torch.arange(16.0).view(1, 1, 4, 4)
        >>> im2col(x, (2, 2), (2, 2), (1, 1), 1)[0, 0, :, 0]
        tensor([0., 1., 4., 5.])
    """
    n, c = xp.shape[:2]
    ndim = len(kernel)
    windows = sliding_windows(xp, kernel, stride, dilation)
    # (N, C, *out, *kernel) -> (N, C, *kernel, *out): a copy, the columns proper.
    order = (0, 1, *range(2 + ndim, 2 + 2 * ndim), *range(2, 2 + ndim))
    return windows.permute(order).reshape(n, groups, c // groups * math.prod(kernel), -1)


# Indices up to this many entries (32 MB of int64) are kept for the next call of the same
# geometry; a larger one is built per call, so that one huge problem does not keep gigabytes
# alive after it returns.
CACHED_INDEX_ENTRIES = 1 << 22


def _col2im_index(
    padded: Ints, kernel: Ints, stride: Ints, dilation: Ints, out: Ints, device: torch.device
) -> torch.Tensor:
    """Flat index into the padded input for every (kernel offset, output position), C order."""
    if math.prod(kernel) * math.prod(out) <= CACHED_INDEX_ENTRIES:
        return _cached_col2im_index(padded, kernel, stride, dilation, out, device)
    return _build_col2im_index(padded, kernel, stride, dilation, out, device)


def _build_col2im_index(
    padded: Ints, kernel: Ints, stride: Ints, dilation: Ints, out: Ints, device: torch.device
) -> torch.Tensor:
    ndim = len(kernel)
    index = torch.zeros((), dtype=torch.long, device=device)
    place = math.prod(padded)
    for axis, (p, k, s, d, m) in enumerate(zip(padded, kernel, stride, dilation, out, strict=True)):
        place //= p
        along = (
            torch.arange(k, device=device)[:, None] * d
            + torch.arange(m, device=device)[None, :] * s
        ) * place
        shape = [1] * (2 * ndim)  # (*kernel, *out), this axis' k and m in place
        shape[axis], shape[ndim + axis] = k, m
        index = index + along.view(shape)
    return index.reshape(-1)


_cached_col2im_index = functools.lru_cache(maxsize=64)(_build_col2im_index)


def col2im(
    cols: torch.Tensor, padded: Ints, kernel: Ints, stride: Ints, dilation: Ints, out: Ints
) -> torch.Tensor:
    """The adjoint of :func:`im2col`: scatter-add columns back onto the padded input grid.

    Args:
        cols: ``(N, groups, C/groups * prod(kernel), L)``.
        padded: spatial shape of the padded input.

    Returns:
        ``(N, C, *padded)``; every input position receives the sum of the column entries
        that read it.
    """
    n, groups, rows, _ = cols.shape
    channels = groups * rows // math.prod(kernel)
    index = _col2im_index(padded, kernel, stride, dilation, out, cols.device)
    grid = cols.new_zeros(n, channels, *padded)
    # into a flat view of the grid, which is returned itself (a custom Function must not
    # return a view of its intermediates: forward-mode AD refuses it)
    grid.view(n, channels, -1).index_add_(2, index, cols.reshape(n, channels, -1))
    return grid


def im2col_memory(problem: Problem) -> int:
    """Peak bytes: the padded input, the column matrix ``(N, C·prod(kernel), prod(out))``
    and the output."""
    spec = problem.spec
    n, c = problem.x_shape[:2]
    padded = nbytes(padded_shape(problem.x_shape, spec.padding), problem.dtype)
    taps = math.prod(problem.weight_shape[2:])
    columns = nbytes((n, c * taps, *spec.out_shape), problem.dtype)
    if problem.transposed:  # the columns are scattered onto the padded grid, then cropped
        return 2 * padded + columns
    return padded + columns + output_bytes(problem)


def _gemm(
    xp: torch.Tensor, weight: torch.Tensor, stride: Ints, dilation: Ints, groups: int
) -> torch.Tensor:
    """``(N, C_out, L)``: one GEMM per group of the weight with the columns of ``xp``."""
    cols = im2col(xp, tuple(weight.shape[2:]), stride, dilation, groups)
    out_channels = weight.shape[0]
    y = weight.reshape(groups, out_channels // groups, -1) @ cols  # (N, G, O/G, L)
    return y.reshape(xp.shape[0], out_channels, -1)


class _Im2colConv(torch.autograd.Function):
    """GEMM over im2col columns, with the backward pass written out:
    grad_w = grad_y · colsᵀ, grad_b = sum of grad_y, grad_x = col2im(wᵀ · grad_y); and the
    forward-mode tangent of a bilinear map: conv(dx, w) + conv(x, dw) + db.

    ``setup_context`` apart from ``forward`` lets ``torch.func`` transforms (``jvp``,
    ``jacfwd``) run it."""

    @staticmethod
    def forward(xp, weight, bias, stride, dilation, groups, out):
        y = _gemm(xp, weight, stride, dilation, groups)
        return y if bias is None else y + bias[:, None]

    @staticmethod
    def setup_context(ctx, inputs, output):
        xp, weight, _, stride, dilation, groups, out = inputs
        # Keep the input, not the columns: prod(kernel) times smaller, and rebuilding the
        # columns in backward keeps grad_w differentiable in x (double backward).
        ctx.save_for_backward(xp, weight)
        ctx.save_for_forward(xp, weight)
        ctx.conf = (tuple(weight.shape[2:]), stride, dilation, groups, out)

    @staticmethod
    def backward(ctx, grad_y):
        xp, weight = ctx.saved_tensors
        kernel, stride, dilation, groups, out = ctx.conf
        padded = tuple(xp.shape[2:])
        n, out_channels, positions = grad_y.shape
        gy = grad_y.reshape(n, groups, out_channels // groups, positions)
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            w = weight.reshape(groups, out_channels // groups, -1)
            grad_x = col2im(w.transpose(1, 2) @ gy, padded, kernel, stride, dilation, out)
        if ctx.needs_input_grad[1]:
            cols = im2col(xp, kernel, stride, dilation, groups)
            grad_w = torch.einsum("ngol,ngrl->gor", gy, cols).reshape(weight.shape)
        if ctx.needs_input_grad[2]:
            grad_b = grad_y.sum((0, 2))
        return grad_x, grad_w, grad_b, None, None, None, None

    @staticmethod
    def jvp(ctx, dxp, dweight, dbias, *_):
        xp, weight = ctx.saved_tensors
        _, stride, dilation, groups, _ = ctx.conf
        terms = []
        if dxp is not None:
            terms.append(_gemm(dxp, weight, stride, dilation, groups))
        if dweight is not None:
            terms.append(_gemm(xp, dweight, stride, dilation, groups))
        if dbias is not None:
            terms.append(dbias[:, None].expand(xp.shape[0], -1, math.prod(ctx.conf[4])))
        if not terms:
            return None
        return sum(terms[1:], terms[0])


def conv_im2col(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, spec: ConvSpec
) -> torch.Tensor:
    """Convolution as one GEMM per group over the im2col matrix (Chellapilla et al. 2006).

    Memory: the column matrix holds ``prod(kernel)`` copies of the input; it is built
    again in the backward pass rather than kept between the passes.
    """
    xp = pad(x, spec.padding, spec.padding_mode)
    y = _Im2colConv.apply(xp, weight, bias, spec.stride, spec.dilation, spec.groups, spec.out_shape)
    return y.view(x.shape[0], weight.shape[0], *spec.out_shape)


class _Col2imConvTranspose(torch.autograd.Function):
    """The adjoint of :class:`_Im2colConv`'s GEMM: ``x_pad = col2im(wᵀ · y)``, with its
    backward pass written out: grad_y = w · im2col(grad_x_pad) (a convolution),
    grad_w = y · im2col(grad_x_pad)ᵀ; and its forward-mode derivative, ``col2im(wᵀ · dy +
    dwᵀ · y)``."""

    @staticmethod
    def forward(y, weight, padded, stride, dilation, groups):
        conf = (tuple(weight.shape[2:]), padded, stride, dilation, groups)
        return _Col2imConvTranspose.scatter(y, weight, conf)

    @staticmethod
    def setup_context(ctx, inputs, output):  # the torch.func-ready form (jvp, vmap)
        y, weight, padded, stride, dilation, groups = inputs
        ctx.conf = (tuple(weight.shape[2:]), padded, stride, dilation, groups)
        ctx.save_for_backward(y, weight)
        ctx.save_for_forward(y, weight)

    @staticmethod
    def scatter(y, weight, conf):
        kernel, padded, stride, dilation, groups = conf
        n, out_channels = y.shape[:2]
        w = weight.reshape(groups, out_channels // groups, -1)
        cols = w.transpose(1, 2) @ y.reshape(n, groups, out_channels // groups, -1)
        return col2im(cols, padded, kernel, stride, dilation, tuple(y.shape[2:]))

    @staticmethod
    def backward(ctx, grad):
        y, weight = ctx.saved_tensors
        kernel, _, stride, dilation, groups = ctx.conf
        n, out_channels = y.shape[:2]
        cols = im2col(grad, kernel, stride, dilation, groups)  # (N, G, C/G·K, L)
        grad_y = grad_w = None
        if ctx.needs_input_grad[0]:
            w = weight.reshape(groups, out_channels // groups, -1)
            grad_y = (w @ cols).reshape(y.shape)
        if ctx.needs_input_grad[1]:
            yg = y.reshape(n, groups, out_channels // groups, -1)
            grad_w = torch.einsum("ngol,ngrl->gor", yg, cols).reshape(weight.shape)
        return grad_y, grad_w, None, None, None, None

    @staticmethod
    def jvp(ctx, y_tangent, weight_tangent, *_):
        y, weight = ctx.saved_tensors
        result = None
        if y_tangent is not None:
            result = _Col2imConvTranspose.scatter(y_tangent, weight, ctx.conf)
        if weight_tangent is not None:
            term = _Col2imConvTranspose.scatter(y, weight_tangent, ctx.conf)
            result = term if result is None else result + term
        return result


def conv_transpose_im2col(
    y: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, spec: ConvSpec
) -> torch.Tensor:
    """The adjoint of :func:`conv_im2col`: one GEMM per group gives the columns ``wᵀ · y``
    (``(N, C·prod(kernel), L)``, a column per input position), and :func:`col2im` adds them
    onto the padded output grid, whose padding is then cut off.

    Memory: the column matrix holds ``prod(kernel)`` times the output's channels per input
    position; the backward pass builds the columns of the output gradient instead.
    """
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(spec.in_shape, spec.padding, strict=True))
    grid = _Col2imConvTranspose.apply(y, weight, padded, spec.stride, spec.dilation, spec.groups)
    x = pad(grid, tuple((-lo, -hi) for lo, hi in spec.padding))
    if bias is not None:
        x = x + bias.view(-1, *(1,) * len(padded))
    return x
