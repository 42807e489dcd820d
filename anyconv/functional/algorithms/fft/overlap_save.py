"""Overlap-save: the output cut into blocks, each correlated with an overlapping window of
the input, all windows batched into one spectral correlation.

When the input is much larger than the kernel, every window is transformed at a small size
that stays in cache and the kernel's spectrum shrinks to that size;
:func:`~anyconv.functional.algorithms.fft.plan.block_plan` decides whether that pays.
"""

from __future__ import annotations

import math

import torch

from anyconv.functional.algorithms.fft.spectral import correlate_zero_padded
from anyconv.functional.windows import sliding_windows
from anyconv.padding import ConvSpec, effective_kernel, pad


def _overlap_add(t: torch.Tensor, step: int, length: int) -> torch.Tensor:
    """Adjoint of cutting windows: ``(P, count, window, Q)`` summed back into ``(P, length,
    Q)``, window ``b`` starting at ``b·step``. Out of place, so double backward works."""
    p, count, window, q = t.shape
    chunks = -(-window // step)
    total = (count + chunks) * step
    out = None
    for chunk in range(chunks):
        piece = t[:, :, chunk * step : (chunk + 1) * step]  # (P, count, width, Q)
        piece = torch.nn.functional.pad(piece, (0, 0, 0, step - piece.shape[2]))
        piece = piece.reshape(p, count * step, q)
        before = chunk * step
        piece = torch.nn.functional.pad(piece, (0, 0, before, total - before - count * step))
        out = piece if out is None else out + piece
    return out[:, :length]


class _Windows(torch.autograd.Function):
    """``(N, C, *L)`` cut into windows of ``windows[a]`` samples every ``steps[a]`` along
    each axis, batched: ``(N · prod(counts), C, *windows)``. The backward pass adds the
    overlapping pieces back with strided views (``unfold``'s generic backward is several
    times slower)."""

    @staticmethod
    def cut(x, counts, windows, steps):
        ndim = x.dim() - 2
        x = sliding_windows(x, windows, steps, (1,) * ndim)  # (N, C, *counts, *windows)
        x = x.permute(0, *range(2, 2 + ndim), 1, *range(2 + ndim, 2 + 2 * ndim))
        return x.reshape(x.shape[0] * math.prod(counts), x.shape[1 + ndim], *windows)

    @staticmethod
    def forward(x, counts, windows, steps):
        return _Windows.cut(x, counts, windows, steps)

    @staticmethod
    def setup_context(ctx, inputs, output):  # apart from forward, for torch.func.jvp
        x, counts, windows, steps = inputs
        ctx.shape, ctx.counts, ctx.windows, ctx.steps = x.shape, counts, windows, steps

    @staticmethod
    def jvp(ctx, tangent, *_):
        return _Windows.cut(tangent, ctx.counts, ctx.windows, ctx.steps)

    @staticmethod
    def backward(ctx, grad):
        n, c, *lengths = ctx.shape
        ndim = len(lengths)
        g = grad.view(n, *ctx.counts, c, *ctx.windows)
        pairs = [i for axis in range(ndim) for i in (1 + axis, 2 + ndim + axis)]
        g = g.permute(0, 1 + ndim, *pairs).contiguous()  # (N, C, count_0, window_0, ...)
        done = n * c
        for axis in range(ndim):
            rest = math.prod(ctx.counts[b] * ctx.windows[b] for b in range(axis + 1, ndim))
            g = g.reshape(done, ctx.counts[axis], ctx.windows[axis], rest)
            g = _overlap_add(g, ctx.steps[axis], lengths[axis])
            done *= lengths[axis]
        return g.reshape(ctx.shape), None, None, None


def overlap_save(
    x: torch.Tensor,
    weight: torch.Tensor,
    source: torch.Tensor,
    spec: ConvSpec,
    padding,
    per_block: tuple[int, ...],
) -> torch.Tensor:
    """The zero-padded correlation cut into blocks of ``per_block`` outputs per axis.

    Block ``b`` of an axis holds outputs ``[b·B, (b+1)·B)``, which read the padded input in
    the window ``[b·B·s, b·B·s + (B-1)·s + k_eff)``. The windows (overlapping by
    ``k_eff - s``) are cut out with ``unfold``, batched, correlated without padding, and
    the blocks laid side by side again; the backward pass of the cut adds the overlapping
    gradients back (:class:`_Windows`).
    """
    ndim = x.dim() - 2
    n = x.shape[0]
    k_eff = effective_kernel(weight.shape[2:], spec.dilation)
    counts = [-(-m // b) for m, b in zip(spec.out_shape, per_block, strict=True)]
    windows = [(b - 1) * s + k for b, s, k in zip(per_block, spec.stride, k_eff, strict=True)]
    spans = [
        (cnt * b - 1) * s + k
        for cnt, b, s, k in zip(counts, per_block, spec.stride, k_eff, strict=True)
    ]
    widths = [
        (lo, span - size - lo)
        for (lo, _), span, size in zip(padding, spans, x.shape[2:], strict=True)
    ]
    # zero padding, or cropping where fewer samples are read than the padding provides
    x = pad(x, widths)
    steps = tuple(b * s for b, s in zip(per_block, spec.stride, strict=True))
    blocks = _Windows.apply(x, tuple(counts), tuple(windows), steps)
    block_spec = ConvSpec(
        spec.stride, spec.dilation, ((0, 0),) * ndim, spec.groups, "zeros", tuple(per_block)
    )
    y = correlate_zero_padded(blocks, weight, source, block_spec, block_spec.padding)
    o = weight.shape[0]
    y = y.view(n, *counts, o, *per_block)
    y = y.permute(0, 1 + ndim, *(i for axis in range(ndim) for i in (1 + axis, 2 + ndim + axis)))
    y = y.reshape(n, o, *(cnt * b for cnt, b in zip(counts, per_block, strict=True)))
    return y[(..., *(slice(0, m) for m in spec.out_shape))]
