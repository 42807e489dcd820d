"""Tiled convolution (Ngiam et al. 2010): kernels shared modulo a period ``T``.

Two implementations of one operator, chosen by ``method``:

- ``"phases"``: phase ``t`` (a tuple in ``range(T)^d``) fills the output sub-grid
  ``t + T*m``, which reads ``x_pad`` at ``(t + T*m)*stride + p*dilation``: one convolution
  with stride ``T*stride`` of the input shifted by ``t*stride`` and kernel
  ``weight[..., t]``. The work equals one ordinary convolution, in ``T^d`` calls. On
  PyTorch's native kernels the phases run as :class:`anyconv.functional.tiled_phases.PhaseConv`,
  which reads one shared (channels-last on the CPU) copy of the input and has its own
  backward pass; with the other algorithms autograd differentiates the phase convolutions.
- ``"blocks"`` (space-to-depth): with period ``P = T*stride`` the input is cut into ``P^d``
  polyphase components ``x_r[m] = x_pad[P*m + r]``; since ``t*stride + p*dilation = P*q + r``,
  every phase is a stride-1 convolution of all components with a small kernel over ``q``.
  Stacking phases as output channels and components as input channels makes it *one*
  ordinary convolution ``C·P^d → O·T^d`` on the ``1/T`` grid, with zeros in the kernel
  where a phase does not read a component.

Like every layer here it takes validation, padding and output sizes from
:func:`anyconv.padding.conv_spec`.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import string
from collections.abc import Sequence
from typing import Any

import torch

from anyconv._checks import check_conv_tensors, choice, fail, int_tuple
from anyconv.functional.algorithms.registry import (
    Algorithm,
    Problem,
    check_size,
    get_algorithm,
    prepare,
)
from anyconv.functional.formats import keep_format, memory_format
from anyconv.functional.overrides import overridable
from anyconv.functional.precision import autocast_off, autocast_operands
from anyconv.functional.tiled_phases import phase_sizes
from anyconv.padding import ConvSpec, conv_spec, effective_kernel, pad

METHODS = ("auto", "phases", "blocks")
BLOCKS_MAX_WASTE = 8.0
"""With an algorithm that has no fused phases of its own (every one but the native kernels,
whose registry entry carries :func:`~anyconv.functional.tiled_phases.phase_conv`),
``method="auto"`` runs ``"blocks"`` while its kernel has at most this many times the
multiply-adds of the tiled kernel itself.
Measured on a 2-core CPU, forward+backward (batch 32, 32x32), before the native phases had
their own backward pass: blocks ran 1.2-1.65x faster than autograd's phases for 1x1
kernels, 1.31x for 64→64 channels with 3x3 kernels, and within 8% either way for 16→32
channels with 2x2 and 3x3 kernels at ``T`` = 2, 3, 4 (waste up to 7.1).

With fused phases ``"auto"`` always runs them. In one interleaved run (fastest of
30 rounds) :class:`~anyconv.functional.tiled_phases.PhaseConv` was 1.2-2.1x faster than
blocks for 2-D (16→32 and 64→64 channels, k = 3 and 5, T = 2-4) and level with it for 1x1
kernels; 1.7x for 3-D (8x16x24³, k=3) and 1.2x for 1-D (32x64x1024, k=5). Only problems of
a few milliseconds or less, where its per-call overhead shows, ran faster as blocks
(1-D 8x16x64: 0.9 vs 0.7 ms; 3-D 4x8x16³: 5.3 vs 3.9 ms)."""


class _Interleave(torch.autograd.Function):
    """Phase outputs ``(N, O, *sizes)`` -> ``(N, O, *(sizes * phases))``, phase ``t``
    at positions ``t + phases*m``.

    Written straight into a buffer laid out ``(N, O, size_0, phase_0, size_1, ...)``, whose
    reshape to the result is free; the backward pass hands each phase a strided view of
    the gradient. Autograd's own slice assignment would clone the whole gradient once per
    phase instead. The forward-mode tangent interleaves the phases' tangents.
    """

    @staticmethod
    def forward(phases: tuple[int, ...], *ys: torch.Tensor) -> torch.Tensor:
        n, o, *sizes = ys[0].shape
        buf = ys[0].new_empty(n, o, *itertools.chain(*zip(sizes, phases, strict=True)))
        for phase, y in zip(itertools.product(*map(range, phases)), ys, strict=True):
            buf[_phase_index(phase)] = y
        return buf.view(n, o, *(m * p for m, p in zip(sizes, phases, strict=True)))

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: torch.Tensor) -> None:
        phases, *ys = inputs
        ctx.phases, ctx.sizes = phases, list(ys[0].shape[2:])
        ctx.like = [(y.shape, y.dtype, y.device) for y in ys]

    @staticmethod
    def jvp(ctx: Any, _phases: Any, *tangents: torch.Tensor | None) -> torch.Tensor | None:
        if all(t is None for t in tangents):
            return None
        filled = [
            torch.zeros(shape, dtype=dtype, device=device) if t is None else t
            for t, (shape, dtype, device) in zip(tangents, ctx.like, strict=True)
        ]
        return _Interleave.forward(ctx.phases, *filled)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        g = grad.reshape(
            *grad.shape[:2], *itertools.chain(*zip(ctx.sizes, ctx.phases, strict=True))
        )
        return (None, *(g[_phase_index(t)] for t in itertools.product(*map(range, ctx.phases))))


def _phase_index(phase: Sequence[int]) -> tuple[slice | int, ...]:
    """Index of phase ``phase`` in a ``(N, O, size_0, phase_0, size_1, phase_1, ...)`` view."""
    return (slice(None), slice(None), *itertools.chain(*((slice(None), t) for t in phase)))


@overridable
def tiled_conv(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    *,
    tiles: int | Sequence[int],
    stride: int | Sequence[int] = 1,
    padding: Any = "valid",
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
    algorithm: str = "auto",
    method: str = "auto",
) -> torch.Tensor:
    """Tiled convolution (Ngiam et al. 2010): kernels shared modulo a period ``tiles``.

    Output position ``j`` uses kernel ``j mod tiles`` (per axis): ``y[n, o, j] = bias[o] +
    sum_{c, p} weight[o, c, p, j mod T] * x_pad[n, g*C/g + c, j*stride + p*dilation]``.
    ``tiles=1`` is an ordinary convolution; ``tiles`` at least the output size is a locally
    connected layer.

    Computed by one of two implementations (see the module): ``"phases"``, one strided
    convolution per tile, or ``"blocks"``, one ordinary convolution of the input's polyphase
    components. ``"auto"`` runs the phases when the convolutions run on PyTorch's native
    kernels (:class:`~anyconv.functional.tiled_phases.PhaseConv`, the fastest there); with
    the other algorithms it runs ``"blocks"`` unless its kernel would waste more than
    :data:`BLOCKS_MAX_WASTE` times the work on zeros, and the phases otherwise.

    Args:
        x: input ``(N, C_in, *spatial)`` with 1, 2 or 3 spatial axes, or an unbatched
            ``(C_in, *spatial)`` (the weight's rank says which).
        weight: ``(C_out, C_in/groups, *kernel, *tiles)``.
        bias: ``(C_out,)``, shared by all tiles (as in the paper), or ``None``.
        tiles: the period ``T``: an int or one int per spatial axis; must match the
            trailing weight axes.
        stride, padding, dilation, groups, padding_mode: as in :func:`anyconv.conv`.
        algorithm: the convolution algorithm the convolutions run with (see
            :func:`anyconv.conv`).
        method: ``"auto"``, ``"phases"`` or ``"blocks"``.

    Returns:
        ``(N, C_out, *out_spatial)``, the same size (and memory format) as
        :func:`anyconv.conv` gives; unbatched in, unbatched out.

    Example:
        >>> x = torch.randn(2, 3, 8, 8)
        >>> w = torch.randn(4, 3, 3, 3, 2, 2)
        >>> tiled_conv(x, w, tiles=2, padding="same").shape
        torch.Size([2, 4, 8, 8])
        >>> w1 = torch.randn(4, 3, 3, 3, 1, 1)
        >>> y = tiled_conv(x, w1, tiles=1)
        >>> torch.allclose(y, torch.nn.functional.conv2d(x, w1[..., 0, 0]), atol=1e-5)
        True
        >>> a = tiled_conv(x, w, tiles=2, padding="same", method="phases")
        >>> torch.allclose(a, tiled_conv(x, w, tiles=2, padding="same", method="blocks"), atol=1e-5)
        True
    """
    func = "tiled_conv"
    x, weight, bias = autocast_operands(x, weight, bias)
    ndim = check_conv_tensors(x, weight, bias, func, extra="tiles")
    unbatched = x.dim() == ndim + 1
    if unbatched:
        x = x.unsqueeze(0)
    tiles = int_tuple(tiles, ndim, "tiles", func, minimum=1)
    if tuple(weight.shape[2 + ndim :]) != tiles:
        raise ValueError(
            f"{func}(): argument 'weight' has shape {tuple(weight.shape)}, whose trailing "
            f"tile axes {tuple(weight.shape[2 + ndim :])} must equal argument 'tiles' = {tiles}"
        )
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise fail(
            func,
            "bias",
            f"None or a tensor of shape ({weight.shape[0]},) (one value "
            "per output channel, shared by all tiles)",
            bias,
        )
    kernel_shape = tuple(weight.shape[: 2 + ndim])
    spec = conv_spec(
        tuple(x.shape),
        kernel_shape,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        padding_mode=padding_mode,
        func=func,
    )
    method = choice(method, METHODS, "method", func)
    with autocast_off(x.device):
        y = _dispatch(x, weight, bias, tiles, spec, algorithm, method, func)
    y = keep_format(y, memory_format(x))
    return y.squeeze(0) if unbatched else y


def _dispatch(x, weight, bias, tiles, spec: ConvSpec, algorithm: str, method: str, func: str):
    """The tiled convolution of a checked, batched problem by ``method``."""
    kernel_shape = tuple(weight.shape[: 2 + len(tiles)])
    training = torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad)
    get_algorithm(algorithm, func)
    whole = Problem(tuple(x.shape), kernel_shape, spec, x.dtype, x.device, training)
    if check_size(whole, func):  # the checks every algorithm shares, before any work
        return _empty(x, weight, bias, tiles, spec)
    phase_problem = _phase_problem(x, weight, tiles, spec)
    fused = get_algorithm(algorithm, func).resolve(phase_problem).tiled
    if method == "auto":
        waste = _blocks_waste(kernel_shape[2:], tiles, spec)
        method = "blocks" if fused is None and waste <= BLOCKS_MAX_WASTE else "phases"
    if method == "blocks":
        return _blocks(x, weight, bias, tiles, spec, algorithm, func)
    run = prepare(algorithm, phase_problem, func)  # its own checks, also for fused phases
    if fused is not None:
        return fused(x, weight, bias, spec)
    return _phases(x, weight, bias, tiles, spec, run)


def _empty(x, weight, bias, tiles, spec: ConvSpec) -> torch.Tensor:
    """A zero-size problem (see :mod:`~anyconv.functional.algorithms.empty`): output ``j``
    is ``bias + sum_{c,p} weight[o, c, p, j mod T] · 0``."""
    ndim = len(tiles)
    taps = (weight * 0).sum(tuple(range(1, 2 + ndim)))  # (O, *tiles)
    for axis, (m, t) in enumerate(zip(spec.out_shape, tiles, strict=True)):
        taps = taps.index_select(1 + axis, torch.arange(m, device=x.device) % t)
    y = x.new_zeros(x.shape[0], *taps.shape) + taps + x.flatten()[:0].sum()
    return y if bias is None else y + bias.view(-1, *(1,) * ndim)


def _phase_problem(x, weight, tiles, spec: ConvSpec) -> Problem:
    """The problem of one phase: stride ``T·stride``, kernel tile 0 (all tiles alike)."""
    ndim = len(tiles)
    stride = tuple(t * s for t, s in zip(tiles, spec.stride, strict=True))
    sizes = phase_sizes(spec.out_shape, tiles)
    phase_spec = dataclasses.replace(spec, stride=stride, out_shape=sizes)
    return Problem.of(x, weight[(..., *(0,) * ndim)], phase_spec)


def _block_geometry(kernel, tiles, spec: ConvSpec):
    """Per axis the period ``P = T·stride`` and the block kernel size ``k'``."""
    periods = tuple(t * s for t, s in zip(tiles, spec.stride, strict=True))
    sizes = tuple(
        ((t - 1) * s + (k - 1) * d) // p + 1
        for t, s, d, k, p in zip(tiles, spec.stride, spec.dilation, kernel, periods, strict=True)
    )
    return periods, sizes


def _blocks_waste(kernel, tiles, spec: ConvSpec) -> float:
    """Multiply-adds of the blocks kernel over those of the tiled one: ``prod(P·k'/k)``."""
    periods, sizes = _block_geometry(kernel, tiles, spec)
    return math.prod(p * q / k for p, q, k in zip(periods, sizes, kernel, strict=True))


def _selection(t: int, s: int, d: int, k: int, period: int, size: int, like: torch.Tensor):
    """``S[t, r, q, p] = 1`` where tap ``p`` of phase ``t`` reads component ``r`` at block
    offset ``q``: ``t·s + p·d = q·P + r``."""
    sel = like.new_zeros(t, period, size, k)
    for phase in range(t):
        for p in range(k):
            q, r = divmod(phase * s + p * d, period)
            sel[phase, r, q, p] = 1
    return sel


def _blocks(x, weight, bias, tiles, spec: ConvSpec, algorithm: str, func: str):
    """``method="blocks"``: one convolution ``C·P^d → O·T^d`` of the polyphase components."""
    ndim = x.dim() - 2
    n, c = x.shape[:2]
    o, per_group = weight.shape[:2]
    kernel = tuple(weight.shape[2 : 2 + ndim])
    periods, sizes = _block_geometry(kernel, tiles, spec)
    per_phase = phase_sizes(spec.out_shape, tiles)
    blocks = tuple(m + q - 1 for m, q in zip(per_phase, sizes, strict=True))
    block_spec = ConvSpec(
        (1,) * ndim, (1,) * ndim, ((0, 0),) * ndim, spec.groups, "zeros", per_phase
    )
    run = prepare(
        algorithm,
        Problem(
            (n, c * math.prod(periods), *blocks),
            (o * math.prod(tiles), per_group * math.prod(periods), *sizes),
            block_spec,
            x.dtype,
            x.device,
            torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad),
        ),
        func,
    )
    spans = [b * p for b, p in zip(blocks, periods, strict=True)]
    extra = [
        span - (size + lo + hi)
        for span, size, (lo, hi) in zip(spans, x.shape[2:], spec.padding, strict=True)
    ]
    # extra < 0 crops samples no block reads (padding.pad passes negative amounts on)
    if spec.padding_mode == "zeros":
        xp = pad(x, tuple((lo, hi + e) for (lo, hi), e in zip(spec.padding, extra, strict=True)))
    else:
        xp = pad(pad(x, spec.padding, spec.padding_mode), tuple((0, e) for e in extra))
    # (N, C, B_0, P_0, B_1, P_1, ...) -> (N, C, P_0, P_1, ..., B_0, B_1, ...)
    xb = xp.reshape(n, c, *itertools.chain(*zip(blocks, periods, strict=True)))
    xb = xb.permute(0, 1, *range(3, 3 + 2 * ndim, 2), *range(2, 2 + 2 * ndim, 2))
    xb = xb.reshape(n, c * math.prod(periods), *blocks)
    # weight (O, C/g, k..., T...) -> (O, T..., C/g, P..., k'...)
    letters = iter(string.ascii_letters)
    k_, t_, r_, q_ = ([next(letters) for _ in range(ndim)] for _ in range(4))
    o_, c_ = next(letters), next(letters)
    operands = [o_ + c_ + "".join(k_) + "".join(t_)]
    operands += [t_[a] + r_[a] + q_[a] + k_[a] for a in range(ndim)]
    target = o_ + "".join(t_) + c_ + "".join(r_) + "".join(q_)
    sels = [
        _selection(t, s, d, k, p, q, weight)
        for t, s, d, k, p, q in zip(
            tiles, spec.stride, spec.dilation, kernel, periods, sizes, strict=True
        )
    ]
    wb = torch.einsum(",".join(operands) + "->" + target, weight, *sels)
    wb = wb.reshape(o * math.prod(tiles), per_group * math.prod(periods), *sizes)
    bb = None if bias is None else bias.repeat_interleave(math.prod(tiles))
    y = run(xb, wb, bb, block_spec)  # (N, O·T^d, *per_phase)
    y = y.reshape(n, o, *tiles, *per_phase)
    y = y.permute(0, 1, *itertools.chain(*((2 + ndim + a, 2 + a) for a in range(ndim))))
    y = y.reshape(n, o, *(m * t for m, t in zip(per_phase, tiles, strict=True)))
    return y[(..., *(slice(0, m) for m in spec.out_shape))]


def _phases(x, weight, bias, tiles, spec: ConvSpec, run: Algorithm):
    """``method="phases"``: one strided convolution per phase, interleaved."""
    ndim = x.dim() - 2
    kernel_shape = tuple(weight.shape[: 2 + ndim])
    out = spec.out_shape
    # phases actually used per axis (tile t >= out is never read) and outputs per phase
    phases = tuple(min(T, m) for T, m in zip(tiles, out, strict=True))
    sizes = phase_sizes(out, tiles)
    keff = effective_kernel(kernel_shape[2:], spec.dilation)
    phase_stride = tuple(t * s for t, s in zip(tiles, spec.stride, strict=True))
    # Every phase computes the same number of outputs, so they interleave into one buffer;
    # the few past the end read extra zeros on the high side and are cut off.
    need = [
        (P - 1) * s + (m - 1) * ps + ke
        for P, s, m, ps, ke in zip(phases, spec.stride, sizes, phase_stride, keff, strict=True)
    ]
    extra = [
        max(0, n - (size + lo + hi))
        for n, size, (lo, hi) in zip(need, x.shape[2:], spec.padding, strict=True)
    ]
    if spec.padding_mode == "zeros":  # one copy instead of two
        xp = pad(x, tuple((lo, hi + e) for (lo, hi), e in zip(spec.padding, extra, strict=True)))
    else:
        xp = pad(pad(x, spec.padding, spec.padding_mode), tuple((0, e) for e in extra))
    phase_spec = ConvSpec(
        phase_stride, spec.dilation, ((0, 0),) * ndim, spec.groups, "zeros", sizes
    )
    ys = []
    for phase in itertools.product(*map(range, phases)):
        source = tuple(
            slice(t * s, t * s + (m - 1) * ps + ke)
            for t, s, m, ps, ke in zip(phase, spec.stride, sizes, phase_stride, keff, strict=True)
        )
        # the shared bias goes into every phase, where the kernels fuse it for free
        ys.append(run(xp[(..., *source)], weight[(..., *phase)], bias, phase_spec))
    return _Interleave.apply(phases, *ys)[(..., *(slice(0, m) for m in out))]
