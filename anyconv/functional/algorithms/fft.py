"""The convolution theorem: correlation is a product of spectra.

With ``X = rfft(x)`` and ``W = rfft(w)`` at a transform size ``F``, the circular
cross-correlation ``c[u] = sum_p x[(u + p) mod F] w[p]`` has spectrum ``X · conj(W)``.
Choosing ``F`` large enough that no wanted output wraps onto input data makes it the linear
one. Tap ``p`` of the kernel is placed at ``(lo - p·dilation) mod F`` of its buffer: that
reversed placement makes the kernel's transform ``conj(W)`` itself (for a real kernel), and
folds dilation and the left zero padding ``lo`` in, so ``Y = X · W'`` needs no conjugation
and output ``t`` of the padded problem is ``y[t·stride]``.

The backward pass is spectral too (:class:`SpectralConv`): the input gradient is the
circular *convolution* of the output gradient with the kernel (spectrum ``G · conj(W')``),
the weight gradient the correlation of input and output gradient, whose conjugate spectrum
``sum_n conj(X) · G`` has the kernel's taps at the very positions they were placed. Both
reuse the spectra of the forward pass, and only the kernel's taps are transformed back.
Every conjugation sits in a conjugate-transpose of a matmul operand, which BLAS does for
free.
"""

from __future__ import annotations

import math

import torch

from anyconv._spec import ConvSpec
from anyconv.functional.algorithms.fft_plan import (
    Geometry,
    block_plan,
    geometry,
    next_fast_len,
    transform_sizes,
)
from anyconv.functional.algorithms.im2col import sliding_windows
from anyconv.functional.algorithms.kernel_transforms import kernel_irfftn, kernel_spectrum
from anyconv.functional.algorithms.spectrum_cache import (
    cache_kernel_spectra,
    cached_operand,
    clear_kernel_cache,
    kernel_cache_info,
    kernel_spectrum_cache,
)
from anyconv.padding import effective_kernel, pad

__all__ = [
    "Geometry",
    "cache_kernel_spectra",
    "clear_kernel_cache",
    "conv_fft",
    "geometry",
    "kernel_cache_info",
    "kernel_spectrum",
    "kernel_spectrum_cache",
    "next_fast_len",
    "overlap_save",
    "transform_sizes",
]


def _spectrum(t: torch.Tensor, geo: Geometry, padded: bool = False) -> torch.Tensor:
    """Spectrum of ``(N, C, *spatial)`` (zero-extended to ``geo.sizes`` unless ``padded``) in
    the layout the channel contraction wants: ``(N, C, *F')`` when ``geo.elementwise``, else
    the frequency-major ``(*F', g, N, C/g)`` (contiguous: one small matrix per frequency and
    group, which a batched matmul handles fast)."""
    ndim = len(geo.sizes)
    dims = tuple(range(2, 2 + ndim))
    s = torch.fft.rfftn(t, dim=dims) if padded else torch.fft.rfftn(t, s=geo.sizes, dim=dims)
    if geo.elementwise:
        return s
    n, c, *freq = s.shape
    s = s.view(n, geo.groups, c // geo.groups, *freq)
    return s.permute(*range(3, 3 + ndim), 1, 0, 2).contiguous()


def _bmm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a @ b`` for ``(*batch, m, k)`` and ``(*batch, k, n)``, each contiguous up to a
    transpose or conjugate view of its last two axes, through one 3-D ``bmm`` (``matmul``
    copies such views when it folds more than one batch axis)."""
    flat = [
        t.reshape(-1, *t.shape[-2:])
        if t.is_contiguous()
        else t.mT.reshape(-1, *t.shape[-2:][::-1]).mT
        for t in (a, b)
    ]
    return torch.bmm(*flat).view(*a.shape[:-1], b.shape[-1])


def _spatial_last(t: torch.Tensor, ndim: int, channels: int) -> torch.Tensor:
    """``(*S, g, N, C/g)`` copied into a new contiguous ``(N, C, *S)`` (never a view)."""
    t = t.permute(ndim + 1, ndim, ndim + 2, *range(ndim))
    out = t.new_empty(t.shape[0], channels, *t.shape[3:])
    out.view(t.shape).copy_(t)
    return out


def _fresh(t: torch.Tensor) -> torch.Tensor:
    """``t`` as a contiguous tensor of its own: a custom Function must not return a view
    of its intermediates (forward-mode AD refuses it)."""
    return t.clone() if t.is_contiguous() else t.contiguous()


def _correlate(xs: torch.Tensor, operand: torch.Tensor, geo: Geometry, out_channels: int):
    """The output ``(N, O, *out)`` from the input's :func:`_spectrum`."""
    ndim = len(geo.sizes)
    if geo.elementwise:  # xs (N, C, *F'), operand (g, O/g, C/g, *F')
        n, _, *freq = xs.shape
        per_group = operand.shape[2]
        x = xs.view(n, geo.groups, per_group, 1, *freq)
        y = x[:, :, 0] * operand[:, :, 0]
        for c in range(1, per_group):
            y.addcmul_(x[:, :, c], operand[:, :, c])
        y = torch.fft.irfftn(
            y.reshape(n, out_channels, *freq), s=geo.sizes, dim=tuple(range(2, 2 + ndim))
        )
        return _fresh(y[(..., *geo.reads)])
    y = torch.fft.irfftn(_bmm(xs, operand), s=geo.sizes, dim=tuple(range(ndim)))
    return _spatial_last(y[geo.reads], ndim, out_channels)


def _output_spectrum(grad: torch.Tensor, geo: Geometry) -> torch.Tensor:
    """:func:`_spectrum` of the output gradient put back where the outputs were read."""
    if all(r.step == 1 for r in geo.reads):  # the outputs are [0, m): zero-extend
        return _spectrum(grad, geo)
    buffer = grad.new_zeros(*grad.shape[:2], *geo.sizes)
    buffer[(..., *geo.reads)] = grad
    return _spectrum(buffer, geo, padded=True)


def _grad_input(gs: torch.Tensor, operand: torch.Tensor, geo: Geometry, channels: int):
    """``irfft(G · conj(W'))`` over the input's extent: ``(N, C, *spatial)``."""
    ndim = len(geo.sizes)
    crop = tuple(slice(0, n) for n in geo.spatial)
    if geo.elementwise:
        n, _, *freq = gs.shape
        per_out, per_group = operand.shape[1:3]
        w = operand.conj().resolve_conj()  # small: (g, O/g, C/g, *F')
        if per_out <= per_group:  # accumulate over the (few) output channels
            g = gs.view(n, geo.groups, per_out, 1, *freq)
            gx = g[:, :, 0] * w[:, 0]
            for o in range(1, per_out):
                gx.addcmul_(g[:, :, o], w[:, o])
        else:  # one reduction per (at most ELEMENTWISE_MAX) input channel
            g = gs.view(n, geo.groups, per_out, *freq)
            gx = torch.stack([(g * w[:, :, c]).sum(2) for c in range(per_group)], 2)
        gx = torch.fft.irfftn(gx.view(n, -1, *freq), s=geo.sizes, dim=tuple(range(2, 2 + ndim)))
        return gx[(..., *crop)].contiguous()
    gx = torch.fft.irfftn(_bmm(gs, operand.mH), s=geo.sizes, dim=tuple(range(ndim)))
    return _spatial_last(gx[crop], ndim, channels)


def _grad_weight(xs: torch.Tensor, gs: torch.Tensor, geo: Geometry, weight_shape) -> torch.Tensor:
    """The kernel taps of ``irfft(sum_n conj(X) · G)``: ``(O, C/g, *kernel)``."""
    ndim = len(geo.sizes)
    if geo.elementwise:
        n, _, *freq = xs.shape
        per_group = weight_shape[1]
        x = xs.view(n, geo.groups, per_group, 1, *freq).conj().resolve_conj()
        g = gs.view(n, geo.groups, -1, *freq)
        gw = torch.stack([(x[:, :, c] * g).sum(0) for c in range(per_group)], 2)
        gw = kernel_irfftn(gw.reshape(-1, *freq).movedim(0, -1), geo)
        return gw.movedim(-1, 0).reshape(weight_shape)
    gw = kernel_irfftn(_bmm(xs.mH, gs), geo)  # (*kernel, g, C/g, O/g)
    return gw.permute(ndim, ndim + 2, ndim + 1, *range(ndim)).reshape(weight_shape)


class SpectralConv(torch.autograd.Function):
    """Zero-padded correlation by FFT, with a spectral backward pass.

    ``forward(x, weight, operand, geo)``: ``operand`` is :func:`kernel_spectrum` of
    ``weight`` when the caller has it (the cache), else ``None``. The input spectrum and the
    kernel operand are kept for backward. Under ``create_graph`` they are recomputed from
    ``x`` and ``weight`` on the graph, so that double backward sees their dependence.
    """

    @staticmethod
    def forward(ctx, x, weight, operand, geo):
        if operand is None:
            operand = kernel_spectrum(weight, geo)
        xs = _spectrum(x, geo)
        ctx.geo = geo
        ctx.spectra = (xs, operand)
        ctx.save_for_backward(x, weight)
        ctx.save_for_forward(x, weight)
        return _correlate(xs, operand, geo, weight.shape[0])

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        geo = ctx.geo
        xs, operand = ctx.spectra
        if torch.is_grad_enabled():
            xs = _spectrum(x, geo)
            operand = kernel_spectrum(weight, geo)
        gs = _output_spectrum(grad, geo)
        gx = _grad_input(gs, operand, geo, x.shape[1]) if ctx.needs_input_grad[0] else None
        gw = _grad_weight(xs, gs, geo, weight.shape) if ctx.needs_input_grad[1] else None
        return gx, gw, None, None

    @staticmethod
    def jvp(ctx, x_tangent, weight_tangent, _operand_tangent, _geo_tangent):
        geo = ctx.geo
        xs, operand = ctx.spectra
        out_channels = ctx.saved_tensors[1].shape[0]
        result = None
        if x_tangent is not None:
            result = _correlate(_spectrum(x_tangent, geo), operand, geo, out_channels)
        if weight_tangent is not None:
            term = _correlate(xs, kernel_spectrum(weight_tangent, geo), geo, out_channels)
            result = term if result is None else result + term
        return result


def _correlate_zero_padded(
    x: torch.Tensor, weight: torch.Tensor, source: torch.Tensor, spec: ConvSpec, padding
) -> torch.Tensor:
    """:class:`SpectralConv` of one problem, with the kernel operand from the cache when no
    gradient is recorded for the weight (``source`` is the caller's weight tensor)."""
    geo = geometry(x.shape, weight.shape, spec, padding)
    operand = None
    if not (torch.is_grad_enabled() and weight.requires_grad):
        compute_dtype = weight.dtype
        operand = cached_operand(
            source,
            (geo.sizes, geo.taps, geo.groups, compute_dtype),
            lambda: kernel_spectrum(source.to(compute_dtype), geo),
        )
    return SpectralConv.apply(x, weight, operand, geo)


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
    def forward(ctx, x, counts, windows, steps):
        ctx.shape, ctx.counts, ctx.windows, ctx.steps = x.shape, counts, windows, steps
        return _Windows.cut(x, counts, windows, steps)

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
    y = _correlate_zero_padded(blocks, weight, source, block_spec, block_spec.padding)
    o = weight.shape[0]
    y = y.view(n, *counts, o, *per_block)
    y = y.permute(0, 1 + ndim, *(i for axis in range(ndim) for i in (1 + axis, 2 + ndim + axis)))
    y = y.reshape(n, o, *(cnt * b for cnt, b in zip(counts, per_block, strict=True)))
    return y[(..., *(slice(0, m) for m in spec.out_shape))]


def conv_fft(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    spec: ConvSpec,
    *,
    blocks: bool = True,
) -> torch.Tensor:
    """Convolution through real FFTs of input and kernel and a per-frequency channel GEMM.

    Zero padding costs nothing: input and kernel are zero-extended to the transform size
    anyway, and the left padding is folded into where the kernel's taps are placed. Stride
    reads every ``stride``-th output, dilation spreads the taps. float64 stays float64
    (complex128); float16 and bfloat16 are transformed in float32. The backward pass is
    spectral as well (:class:`SpectralConv`).

    When the input is much larger than the kernel, the output is computed in blocks
    (:func:`overlap_save`, planned by :func:`~anyconv.functional.algorithms.fft_plan.block_plan`);
    ``blocks=False`` forces one transform of the whole input.

    When no gradient is recorded for ``weight`` its transform (ready for the channel GEMM)
    is cached per weight tensor; see :func:`cache_kernel_spectra`.
    """
    dtype = x.dtype
    source = weight  # the cache is keyed on the caller's tensor, before any conversion
    if dtype in (torch.float16, torch.bfloat16):
        x, weight = x.float(), weight.float()
        bias = bias.float() if bias is not None else None
    padding = spec.padding
    if spec.padding_mode != "zeros":
        x = pad(x, padding, spec.padding_mode)
        padding = tuple((0, 0) for _ in padding)
    per_block = None
    if blocks:
        per_block = block_plan(
            tuple(x.shape[2:]),
            tuple(weight.shape[2:]),
            spec.dilation,
            spec.stride,
            padding,
            spec.out_shape,
            (x.shape[0], x.shape[1], weight.shape[0], weight.shape[1]),
            torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad),
        )
    if per_block is None:
        y = _correlate_zero_padded(x, weight, source, spec, padding)
    else:
        y = overlap_save(x, weight, source, spec, padding, per_block)
    if bias is not None:
        y = y + bias.view(-1, *(1,) * (x.dim() - 2))
    return y.to(dtype)
