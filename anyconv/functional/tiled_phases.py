"""The ``"phases"`` method of tiled convolution on PyTorch's native kernels, with its own
backward pass.

Phase ``t`` of a tiled convolution (outputs ``j = t + T·m``, per axis) is one strided
convolution with kernel tile ``t``. Run through autograd, each phase costs PyTorch a copy
of the shifted input, a strided input-gradient kernel and a full-size gradient to add up.
:class:`PhaseConv` avoids all three:

- every phase reads one shared *source*, the input copied once into the layout the CPU
  kernels run fastest on (channels-last) with the zero borders the phases need; each phase
  reaches its first sample through the convolution's own (symmetric) padding, planned per
  axis by :func:`axis_plan`, instead of through a sliced copy;
- for stride 1 the input gradient is itself a tiled convolution, of the output gradient
  with a flipped, transposed kernel whose tiles are re-mixed (:func:`transposed_tiles`),
  so it runs as forward phase convolutions too, PyTorch's fastest kernels here;
- the weight gradient of each tile comes from the weight-only gradient kernel of its phase.

The backward pass is built from differentiable operations, so double backward works.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from anyconv.padding import ConvSpec, pad

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


@dataclass(frozen=True)
class AxisPlan:
    """How the phases of one axis read a shared source.

    The source is the input with ``lo`` zeros before and ``hi`` after. Phase ``t`` is a
    convolution of the source with stride ``T·step`` and symmetric zero padding ``pads[t]``,
    whose outputs ``skips[t] : skips[t] + per_phase`` are the phase's; it computes
    ``counts[t]`` outputs in all.
    """

    lo: int
    hi: int
    pads: tuple[int, ...]
    skips: tuple[int, ...]
    counts: tuple[int, ...]


@functools.lru_cache(maxsize=1024)
def axis_plan(
    size: int, start: int, step: int, dilation: int, kernel: int, tiles: int, per_phase: int
) -> AxisPlan:
    """Plan one axis: output ``j`` (``j < tiles·per_phase``) reads input samples
    ``start + j·step + p·dilation``, ``p < kernel``, where the input (``size`` samples) is
    zero outside ``[0, size)``.

    The source gets as many leading zeros as every phase can use without skipping outputs
    (the later phases start later), so the convolution paddings stay small; PyTorch's CPU
    kernels slow down markedly at larger paddings.

    Example:
        >>> axis_plan(32, -1, 1, 1, 3, 2, 16)  # "same", k=3, T=2
        AxisPlan(lo=0, hi=1, pads=(1, 0), skips=(0, 0), counts=(17, 16))
    """
    period = tiles * step
    span = (kernel - 1) * dilation + 1
    starts = [start + t * step for t in range(tiles)]
    lo = max(0, -starts[-1])
    pads, skips = [], []
    for first in starts:
        first += lo  # in source coordinates
        pad = max(0, -first)
        pad += -(pad + first) % period
        pads.append(pad)
        skips.append((pad + first) // period)
    hi = max(
        0,
        *(
            period * (skip + per_phase - 1) + span - size - lo - 2 * pad
            for pad, skip in zip(pads, skips, strict=True)
        ),
    )
    counts = tuple((size + lo + hi + 2 * pad - span) // period + 1 for pad in pads)
    return AxisPlan(lo, hi, tuple(pads), tuple(skips), counts)


def phase_sizes(out: Sequence[int], tiles: Sequence[int]) -> tuple[int, ...]:
    """Outputs per phase and axis, ``ceil(out / T)``: every phase computes as many, so that
    they interleave into one buffer (the few past the end are cut off).

    Example:
        >>> phase_sizes((7, 8), (2, 3))
        (4, 3)
    """
    return tuple(-(-m // t) for m, t in zip(out, tiles, strict=True))


def channels_last(ndim: int, device: torch.device) -> bool:
    """Whether the phases run channels-last: on the CPU for 2-D and 3-D, where oneDNN's
    kernels take that layout without reordering (about 2x faster here)."""
    return device.type == "cpu" and ndim >= 2


def _bordered(x: torch.Tensor, borders, last: bool) -> torch.Tensor:
    """A new ``(N, C, *S)`` tensor holding ``x`` with ``(lo, hi)`` zeros around each spatial
    axis (channels-last in memory when ``last``); only the borders are zero-filled."""
    n, c, *sizes = x.shape
    full = [s + lo + hi for s, (lo, hi) in zip(sizes, borders, strict=True)]
    out = x.new_empty(n, *full, c).movedim(-1, 1) if last else x.new_empty(n, c, *full)
    for axis, (size, (lo, hi)) in enumerate(zip(sizes, borders, strict=True)):
        if lo:
            out.narrow(2 + axis, 0, lo).zero_()
        if hi:
            out.narrow(2 + axis, lo + size, hi).zero_()
    out[(..., *(slice(lo, lo + s) for s, (lo, _) in zip(sizes, borders, strict=True)))] = x
    return out


def _source(x: torch.Tensor, borders, last: bool) -> torch.Tensor:
    """``x`` with ``(lo, hi)`` zero borders per axis, in one copy (channels-last when
    ``last``; none at all when neither is needed)."""
    if not last and not any(lo or hi for lo, hi in borders):
        return x
    return _bordered(x, borders, last)


def _used(tiles, out) -> tuple[int, ...]:
    """Phases per axis that hold outputs (a tile past the output is never read)."""
    return tuple(min(t, m) for t, m in zip(tiles, out, strict=True))


def _tiles_first(weight: torch.Tensor) -> torch.Tensor:
    """``(O, C/g, *k, *T) -> (*T, O, C/g, *k)``, contiguous, so each tile is one block."""
    ndim = (weight.dim() - 2) // 2
    return weight.movedim(tuple(range(2 + ndim, 2 + 2 * ndim)), tuple(range(ndim))).contiguous()


def _run_phases(src, weight, bias, plans, offset, step, dilation, groups, out) -> torch.Tensor:
    """All phase convolutions of ``src``, interleaved into ``(N, O, *out)`` (contiguous
    unless cropped). Phase ``t`` uses tile ``(t + offset) mod T`` of ``weight``."""
    ndim = src.dim() - 2
    tiles = weight.shape[2 + ndim :]
    used = _used(tiles, out)
    sizes = phase_sizes(out, tiles)
    stride = tuple(t * s for t, s in zip(tiles, step, strict=True))
    by_tile = _tiles_first(weight)
    n, o = src.shape[0], weight.shape[0]
    buf = src.new_empty(n, o, *itertools.chain(*zip(sizes, used, strict=True)))
    for phase in itertools.product(*map(range, used)):
        tile = tuple((t + u) % T for t, u, T in zip(phase, offset, tiles, strict=True))
        pads = tuple(p.pads[t] for p, t in zip(plans, phase, strict=True))
        y = _CONV[ndim](src, by_tile[tile], bias, stride, pads, dilation, groups)
        keep = (
            slice(p.skips[t], p.skips[t] + m) for p, t, m in zip(plans, phase, sizes, strict=True)
        )
        slot = itertools.chain(*((slice(None), t) for t in phase))
        buf[(slice(None), slice(None), *slot)] = y[(..., *keep)]
    y = buf.view(n, o, *(m * t for m, t in zip(sizes, used, strict=True)))
    return y[(..., *(slice(0, m) for m in out))]


@functools.lru_cache(maxsize=256)
def _remix(kernel: tuple[int, ...], tiles: tuple[int, ...], dilation: tuple[int, ...]):
    """Flat ``(*k, *T)`` positions :func:`transposed_tiles` reads, in its output order."""
    taps = [torch.arange(k) for k in kernel]
    phases = [torch.arange(T) for T in tiles]
    grid = torch.meshgrid(*taps, *phases, indexing="ij")
    ndim = len(kernel)
    coords = [k - 1 - q for k, q in zip(kernel, grid[:ndim], strict=True)]
    coords += [
        (r - (k - 1 - q) * d) % T
        for r, q, k, d, T in zip(grid[ndim:], grid[:ndim], kernel, dilation, tiles, strict=True)
    ]
    flat = torch.zeros_like(grid[0])
    for coord, size in zip(coords, (*kernel, *tiles), strict=True):
        flat = flat * size + coord
    return flat.flatten()


def transposed_tiles(weight: torch.Tensor, dilation: tuple[int, ...], groups: int) -> torch.Tensor:
    """The tiles whose stride-1 tiled convolution of the output gradient is the input
    gradient: ``(O, C/g, *k, *T) -> (C, O/g, *k, *T)`` with the taps flipped, input and output
    channels swapped per group, and tile ``r`` of tap ``q`` taken from tile
    ``(r - (k-1-q)·dilation) mod T`` of tap ``k-1-q``.

    Example:
        >>> w = torch.arange(6.0).view(1, 1, 3, 2)  # one channel, k=3, T=2: w[p, t] = 2p + t
        >>> transposed_tiles(w, (1,), 1)[0, 0]
        tensor([[4., 5.],
                [3., 2.],
                [0., 1.]])
    """
    ndim = (weight.dim() - 2) // 2
    o, per_group = weight.shape[:2]
    kernel, tiles = tuple(weight.shape[2 : 2 + ndim]), tuple(weight.shape[2 + ndim :])
    index = _remix(kernel, tiles, tuple(dilation)).to(weight.device)
    w = weight.reshape(groups, o // groups, per_group, -1).transpose(1, 2)
    w = w.reshape(groups * per_group, o // groups, -1).index_select(2, index)
    return w.view(groups * per_group, o // groups, *kernel, *tiles)


class PhaseConv(torch.autograd.Function):
    """Tiled convolution, phase by phase on native kernels (see the module).

    ``apply(x, weight, bias, start, stride, dilation, groups, out)``: ``x`` ``(N, C, *S)``
    is zero outside its extent, and output ``j`` reads ``x[start + j·stride + p·dilation]``
    with tile ``j mod T`` of ``weight`` ``(O, C/g, *k, *T)``. It returns the output and,
    marked non-differentiable, the shared source, which backward reuses (``run`` returns
    the output alone). ``setup_context`` apart from ``forward`` lets ``torch.func``'s
    transforms run it; the forward-mode tangent of this bilinear map is
    ``f(dx, w) + f(x, dw) + db``.
    """

    @staticmethod
    def forward(x, weight, bias, start, stride, dilation, groups, out):
        ndim = x.dim() - 2
        kernel, tiles = weight.shape[2 : 2 + ndim], weight.shape[2 + ndim :]
        plans = _plans(x.shape[2:], start, stride, dilation, kernel, tiles, out)
        src = _source(x, tuple((p.lo, p.hi) for p in plans), channels_last(ndim, x.device))
        zero = (0,) * len(start)
        y = _run_phases(src, weight, bias, plans, zero, stride, dilation, groups, out)
        # the input itself when it needs no copy: a view, as autograd wants of an output
        return y, src.view_as(src) if src is x else src

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: tuple) -> None:
        x, weight, bias, start, stride, dilation, groups, out = inputs
        src = output[1]
        ctx.mark_non_differentiable(src)
        ndim = x.dim() - 2
        kernel, tiles = weight.shape[2 : 2 + ndim], weight.shape[2 + ndim :]
        plans = _plans(x.shape[2:], start, stride, dilation, kernel, tiles, out)
        ctx.save_for_backward(x, weight, src)
        ctx.save_for_forward(x, weight, src)
        ctx.geometry = (start, stride, dilation, groups, out, plans, channels_last(ndim, x.device))
        ctx.has_bias = bias is not None

    @classmethod
    def run(cls, *args) -> torch.Tensor:
        """The output alone (``apply`` returns the shared source too)."""
        return cls.apply(*args)[0]

    @staticmethod
    def jvp(ctx: Any, dx, dweight, dbias, *_):
        x, weight, src = ctx.saved_tensors
        start, stride, dilation, groups, out, plans, last = ctx.geometry
        zero = (0,) * len(start)
        geometry = (plans, zero, stride, dilation, groups, out)
        terms = []
        if dx is not None:
            dsrc = _source(dx, tuple((p.lo, p.hi) for p in plans), last)
            terms.append(_run_phases(dsrc, weight, None, *geometry))
        if dweight is not None:
            terms.append(_run_phases(src, dweight, None, *geometry))
        if dbias is not None:
            terms.append(dbias.view(-1, *(1,) * len(out)).expand(x.shape[0], -1, *out))
        if not terms:
            return None, None
        # The output is a crop of the phases' buffer; its tangent must be laid out alike.
        tangent = sum(terms[1:], terms[0])
        tiles = weight.shape[2 + len(out) :]
        used = _used(tiles, out)
        whole = tuple(m * t for m, t in zip(phase_sizes(out, tiles), used, strict=True))
        buf = tangent.new_zeros(*tangent.shape[:2], *whole)
        crop = (..., *(slice(0, m) for m in out))
        buf[crop] = tangent
        return buf[crop], None

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor, _src_grad: Any = None):
        x, weight, src = ctx.saved_tensors
        start, stride, dilation, groups, out, plans, last = ctx.geometry
        ndim = x.dim() - 2
        if torch.is_grad_enabled():  # double backward: rebuild the source on the graph
            src = _source(x, tuple((p.lo, p.hi) for p in plans), last)
        sizes = tuple(x.shape[2:])
        kernel, tiles = weight.shape[2 : 2 + ndim], weight.shape[2 + ndim :]
        # With stride 1 the input gradient is a tiled convolution of the output gradient:
        # dx[i] = sum_q g[i - start - (k-1)·d + q·d] · w~[q, (i - start) mod T]
        transposed = all(s == 1 for s in stride)
        if transposed:
            gstart = tuple(
                -s - (k - 1) * d for s, k, d in zip(start, kernel, dilation, strict=True)
            )
            gplans = _plans(out, gstart, stride, dilation, kernel, tiles, sizes)
            borders = tuple((p.lo, p.hi) for p in gplans)
        else:
            borders = ((0, 0),) * ndim
        # the output gradient once, in the phases' layout; every use below reads from it
        gsrc = _source(grad, borders, last)
        if ctx.needs_input_grad[1] or (ctx.needs_input_grad[0] and not transposed):
            offsets = tuple(lo for lo, _ in borders)
            phase_grads = _phase_grads(gsrc, offsets, plans, tiles, out, last)
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0] and transposed:
            flipped = transposed_tiles(weight, dilation, groups)
            offset = tuple(-s for s in start)
            grad_x = _run_phases(
                gsrc, flipped, None, gplans, offset, stride, dilation, groups, sizes
            )
        elif ctx.needs_input_grad[0]:
            total = sum(
                _conv_backward(g, src, weight[(..., *phase)], plans, phase, ctx.geometry, 0)
                for phase, g in phase_grads
            )
            window = (slice(p.lo, p.lo + s) for s, p in zip(sizes, plans, strict=True))
            grad_x = total[(..., *window)].contiguous()
        if ctx.needs_input_grad[1]:
            grad_w = weight.new_zeros(weight.shape)  # tiles past the output get no gradient
            for phase, g in phase_grads:
                grad_w[(..., *phase)] = _conv_backward(
                    g, src, weight[(..., *phase)], plans, phase, ctx.geometry, 1
                )
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = grad.sum((0, *range(2, grad.dim())))
        return grad_x, grad_w, grad_b, None, None, None, None, None


def _plans(sizes, start, stride, dilation, kernel, tiles, out) -> tuple[AxisPlan, ...]:
    """One :func:`axis_plan` per axis."""
    counts = phase_sizes(out, tiles)
    return tuple(
        axis_plan(*args)
        for args in zip(sizes, start, stride, dilation, kernel, tiles, counts, strict=True)
    )


def _conv_backward(g, src, tile, plans, phase, geometry, which: int) -> torch.Tensor:
    """Input (``which=0``) or weight (``which=1``) gradient of one phase convolution."""
    stride, dilation, groups = geometry[1:4]
    ndim = src.dim() - 2
    tiles = [len(p.pads) for p in plans]
    mask = [which == 0, which == 1, False]
    return torch.ops.aten.convolution_backward(
        g, src, tile, None,
        [t * s for t, s in zip(tiles, stride, strict=True)],
        [p.pads[t] for p, t in zip(plans, phase, strict=True)],
        list(dilation), False, [0] * ndim, groups, mask,
    )[which]  # fmt: skip


def _phase_grads(gsrc, offsets, plans, tiles, out, last) -> list:
    """For each phase, the output gradient laid out as that phase's convolution output:
    its values at ``skips[t] + m``, zeros at the outputs the phase computes only to align
    or past the end. ``gsrc`` holds the gradient from ``offsets`` on."""
    parts = []
    for phase in itertools.product(*map(range, _used(tiles, out))):
        window = (
            slice(o + t, o + m, T) for o, t, m, T in zip(offsets, phase, out, tiles, strict=True)
        )
        part = gsrc[(..., *window)]
        borders = tuple(
            (p.skips[t], p.counts[t] - p.skips[t] - m)
            for p, t, m in zip(plans, phase, part.shape[2:], strict=True)
        )
        parts.append((phase, _bordered(part, borders, last)))
    return parts


def phase_conv(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, spec: ConvSpec
) -> torch.Tensor:
    """Tiled convolution ``(N, C, *S)`` x ``(O, C/g, *k, *T)`` -> ``(N, O, *out)`` by
    :class:`PhaseConv`; ``spec`` is the resolved :class:`anyconv.padding.ConvSpec`.

    Example:
        >>> from anyconv.padding import conv_spec
        >>> x, w = torch.randn(2, 3, 8, 8), torch.randn(4, 3, 3, 3, 2, 2)
        >>> spec = conv_spec(x.shape, w.shape[:4], stride=1, padding="same", dilation=1,
        ...                  groups=1, padding_mode="zeros")
        >>> phase_conv(x, w, None, spec).shape
        torch.Size([2, 4, 8, 8])
    """
    if spec.padding_mode == "zeros":
        start = tuple(-lo for lo, _ in spec.padding)
    else:
        x = pad(x, spec.padding, spec.padding_mode)
        start = (0,) * len(spec.padding)
    return PhaseConv.run(
        x, weight, bias, start, spec.stride, spec.dilation, spec.groups, spec.out_shape
    )
