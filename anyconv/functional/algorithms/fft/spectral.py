"""The spectral correlation: the convolution theorem, forward and backward.

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

import dataclasses

import torch

from anyconv.functional.algorithms import nonfinite
from anyconv.functional.algorithms.fft.kernel_transforms import kernel_irfftn, kernel_spectrum
from anyconv.functional.algorithms.fft.plan import Geometry, geometry
from anyconv.functional.algorithms.fft.spectrum_cache import cached_operand
from anyconv.padding import ConvSpec


def _spectrum(t: torch.Tensor, geo: Geometry, padded: bool = False) -> torch.Tensor:
    """Spectrum of ``(N, C, *spatial)`` (zero-extended to ``geo.sizes`` unless ``padded``) in
    the layout the channel contraction wants: ``(N, C, *F')`` when ``geo.elementwise``, else
    the frequency-major ``(*F', g, N, C/g)`` (contiguous: one small matrix per frequency and
    group, which a batched matmul handles fast)."""
    ndim = len(geo.sizes)
    dims = tuple(range(2, 2 + ndim))
    s = torch.fft.rfftn(t, dim=dims) if padded else torch.fft.rfftn(t, s=geo.sizes, dim=dims)
    if geo.elementwise:
        # the transform of an expanded (stride-0) operand comes back with strides that the
        # contraction's views cannot merge (batch stride below the channels')
        return s.contiguous()
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
    ``weight`` when the caller has it (the cache), else ``None``. It returns the output and,
    marked non-differentiable, the input spectrum and the kernel operand, which backward
    and ``jvp`` reuse (``setup_context`` apart from ``forward``, as ``torch.func``'s
    transforms need, keeps them that way); :meth:`run` returns the output alone. Under
    ``create_graph`` they are recomputed from ``x`` and ``weight`` on the graph, so that
    double backward sees their dependence.
    """

    @staticmethod
    def forward(x, weight, operand, geo):
        # A cached operand comes back as a view: autograd refuses an input returned as is.
        operand = kernel_spectrum(weight, geo) if operand is None else operand.view_as(operand)
        xs = _spectrum(x, geo)
        return _correlate(xs, operand, geo, weight.shape[0]), xs, operand

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, weight, _, geo = inputs
        _, xs, operand = output
        ctx.mark_non_differentiable(xs, operand)
        ctx.geo = geo
        ctx.save_for_backward(x, weight, xs, operand)
        ctx.save_for_forward(x, weight, xs, operand)

    @staticmethod
    def backward(ctx, grad, _xs_grad, _operand_grad):
        x, weight, xs, operand = ctx.saved_tensors
        geo = ctx.geo
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
        _, weight, xs, operand = ctx.saved_tensors
        out_channels = weight.shape[0]
        result = None
        if x_tangent is not None:
            result = _correlate(_spectrum(x_tangent, geo), operand, geo, out_channels)
        if weight_tangent is not None:
            term = _correlate(xs, kernel_spectrum(weight_tangent, geo), geo, out_channels)
            result = term if result is None else result + term
        return result, None, None

    @classmethod
    def run(cls, x, weight, operand, geo) -> torch.Tensor:
        """The correlation alone (``apply`` returns the kept spectra too)."""
        return cls.apply(x, weight, operand, geo)[0]


def _own(t: torch.Tensor) -> torch.Tensor:
    """``t``, or a copy of it when it is a view (a custom Function must not return a view of
    its intermediates)."""
    return t if t._base is None else t.clone()


class SpectralConvTranspose(torch.autograd.Function):
    """The adjoint of :class:`SpectralConv`: ``x = irfft(Y · conj(W'))`` over the input's
    extent, ``Y`` the spectrum of the transposed convolution's input placed where the
    outputs were read (the input-gradient path of :class:`SpectralConv`).

    ``apply(y, weight, operand, geo, channels)``; its backward pass is the spectral
    correlation (grad_y) and the weight-gradient path of :class:`SpectralConv` with the
    output gradient in the role of the input; its forward-mode derivative is ``T(dy, w) +
    T(y, dw)``. Written with ``setup_context``, so that ``torch.func`` transforms
    (``jvp``, ``vmap``) take it too; the spectra are therefore transformed again in the
    backward pass rather than kept (on the graph under ``create_graph``: double backward).
    """

    @staticmethod
    def forward(y, weight, operand, geo, channels):
        if operand is None:
            operand = kernel_spectrum(weight, geo)
        return _own(_grad_input(_output_spectrum(y, geo), operand, geo, channels))

    @staticmethod
    def setup_context(ctx, inputs, output):
        y, weight, operand, geo, channels = inputs
        ctx.geo, ctx.channels, ctx.operand = geo, channels, operand
        ctx.save_for_backward(y, weight)
        ctx.save_for_forward(y, weight)

    @staticmethod
    def _operand(ctx, weight):
        """The kernel operand: the cached one, unless the weight's gradient is recorded or
        a graph is being built (``create_graph``)."""
        if ctx.operand is not None and not torch.is_grad_enabled():
            return ctx.operand
        return kernel_spectrum(weight, ctx.geo)

    @staticmethod
    def backward(ctx, grad):
        y, weight = ctx.saved_tensors
        geo = ctx.geo
        operand = SpectralConvTranspose._operand(ctx, weight)
        gs = _spectrum(grad, geo)
        gy = _correlate(gs, operand, geo, weight.shape[0]) if ctx.needs_input_grad[0] else None
        gw = None
        if ctx.needs_input_grad[1]:
            gw = _grad_weight(gs, _output_spectrum(y, geo), geo, weight.shape)
        return gy, gw, None, None, None

    @staticmethod
    def jvp(ctx, y_tangent, weight_tangent, *_):
        y, weight = ctx.saved_tensors
        geo, channels = ctx.geo, ctx.channels
        result = None
        if y_tangent is not None:
            operand = SpectralConvTranspose._operand(ctx, weight)
            result = _grad_input(_output_spectrum(y_tangent, geo), operand, geo, channels)
        if weight_tangent is not None:
            ys = _output_spectrum(y, geo)
            term = _grad_input(ys, kernel_spectrum(weight_tangent, geo), geo, channels)
            result = term if result is None else result + term
        return _own(result)


def transpose_zero_padded(
    y: torch.Tensor, weight: torch.Tensor, source: torch.Tensor, spec: ConvSpec
) -> torch.Tensor:
    """:class:`SpectralConvTranspose` for ``spec`` (zero padding), with the kernel operand
    from the cache when no gradient is recorded for the weight (``source`` is the caller's
    weight tensor), and the direct scatter's NaN/inf pattern when an operand is not finite
    (:func:`~anyconv.functional.algorithms.nonfinite.exact_transpose`)."""
    x_shape = (y.shape[0], weight.shape[1] * spec.groups, *spec.in_shape)
    geo = geometry(x_shape, weight.shape, spec, spec.padding)
    operand = None
    if not (torch.is_grad_enabled() and weight.requires_grad):
        operand = cached_operand(
            source,
            (geo.sizes, geo.taps, geo.groups, weight.dtype),
            lambda: kernel_spectrum(source.to(weight.dtype), geo),
        )
    x = SpectralConvTranspose.apply(y, weight, operand, geo, x_shape[1])
    if nonfinite.spreads(x, y, weight):
        return nonfinite.exact_transpose(_transpose_plain, _correlate_plain, y, weight, spec)
    return x


def _transpose_plain(y: torch.Tensor, weight: torch.Tensor, spec: ConvSpec) -> torch.Tensor:
    """:class:`SpectralConvTranspose` of ``spec``, no cache, no non-finite check."""
    x_shape = (y.shape[0], weight.shape[1] * spec.groups, *spec.in_shape)
    geo = geometry(x_shape, weight.shape, spec, spec.padding)
    return SpectralConvTranspose.apply(y, weight, None, geo, x_shape[1])


def correlate_zero_padded(
    x: torch.Tensor, weight: torch.Tensor, source: torch.Tensor, spec: ConvSpec, padding
) -> torch.Tensor:
    """:class:`SpectralConv` of one problem, with the kernel operand from the cache when no
    gradient is recorded for the weight (``source`` is the caller's weight tensor).

    The transforms spread a NaN or an infinity of either operand over every output; when
    the output is not all finite and an operand is not either, the result comes from
    :func:`~anyconv.functional.algorithms.nonfinite.exact` instead, which gives the direct
    sum's NaN/inf pattern in the output and both gradients."""
    geo = geometry(x.shape, weight.shape, spec, padding)
    operand = None
    if not (torch.is_grad_enabled() and weight.requires_grad):
        compute_dtype = weight.dtype
        operand = cached_operand(
            source,
            (geo.sizes, geo.taps, geo.groups, compute_dtype),
            lambda: kernel_spectrum(source.to(compute_dtype), geo),
        )
    y = SpectralConv.run(x, weight, operand, geo)
    if nonfinite.spreads(y, x, weight):
        spec = dataclasses.replace(spec, padding=tuple(padding), padding_mode="zeros")
        return nonfinite.exact(_correlate_plain, x, weight, spec)
    return y


def _correlate_plain(x: torch.Tensor, weight: torch.Tensor, spec: ConvSpec) -> torch.Tensor:
    """:class:`SpectralConv` with ``spec``'s zero padding, no cache, no non-finite check."""
    return SpectralConv.run(x, weight, None, geometry(x.shape, weight.shape, spec, spec.padding))
