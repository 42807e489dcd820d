"""Locally connected (unshared) and tiled convolution: weights that vary with position.

Both reuse :func:`anyconv.functional.conv.conv_spec` for validation, padding and the
output size, so every padding rule, border mode, stride, dilation and ``groups`` means
exactly what it means for :func:`anyconv.conv`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import torch

from anyconv._spec import ConvSpec, check_conv_tensors, fail, int_tuple
from anyconv.functional.algorithms import get_algorithm
from anyconv.functional.algorithms.matrix import check_matrix_size
from anyconv.functional.conv import conv_spec
from anyconv.padding import effective_kernel, pad


def _window(offset: Sequence[int], spec: ConvSpec) -> tuple[slice, ...]:
    """The strided slice of the padded input that kernel offset ``offset`` reads."""
    return tuple(
        slice(p * d, p * d + s * (m - 1) + 1, s)
        for p, d, s, m in zip(offset, spec.dilation, spec.stride, spec.out_shape, strict=True)
    )


class _LocallyConnected(torch.autograd.Function):
    """``y[n, o, j] = sum_{c, p} w[o, c, p, j] * x_pad[n, c, j*stride + p*dilation]``.

    Works on a position-major layout ``(*spatial, G, N, C/G)`` so that, for each kernel
    offset ``p``, the whole layer is one batched matmul over (position, group) of
    ``(N, C/G) @ (C/G, O/G)``. Only the input (one copy) and the weight are kept for the
    backward pass: autograd through ``einsum`` would save one input-sized copy per kernel
    offset, i.e. the dense column tensor that this path exists to avoid.
    """

    @staticmethod
    def forward(ctx: Any, xp: torch.Tensor, weight: torch.Tensor, spec: ConvSpec) -> torch.Tensor:
        n, c = xp.shape[:2]
        g, out_channels, ndim = spec.groups, weight.shape[0], len(spec.out_shape)
        kernel, out = tuple(weight.shape[2 : 2 + ndim]), spec.out_shape
        space = tuple(range(3, 3 + ndim))
        xl = xp.reshape(n, g, c // g, *xp.shape[2:]).permute(*space, 1, 0, 2).contiguous()
        wg = weight.reshape(g, out_channels // g, c // g, *weight.shape[2:])
        w_perm = (*range(3, 3 + ndim), 0, 2, 1)  # (*out, G, C/G, O/G) for one offset
        batch = math.prod(out) * g
        acc = xp.new_zeros(batch, n, out_channels // g)
        for offset in itertools.product(*map(range, kernel)):
            xs = xl[_window(offset, spec)].reshape(batch, n, c // g)
            wp = wg[(slice(None),) * 3 + offset].permute(w_perm).reshape(batch, c // g, -1)
            # reshape may return a view with batch stride 1 that BLAS cannot batch: copy
            acc.baddbmm_(xs, wp.contiguous())
            del xs, wp  # free before the next offset's copies, not after
        ctx.save_for_backward(xl, weight)
        ctx.spec, ctx.xp_shape = spec, xp.shape
        # (*out, G, N, O/G) -> (N, G, O/G, *out)
        y = acc.view(*out, g, n, -1).permute(ndim + 1, ndim, ndim + 2, *range(ndim))
        return y.reshape(n, out_channels, *out)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        xl, weight = ctx.saved_tensors
        spec: ConvSpec = ctx.spec
        n, c, *padded = ctx.xp_shape
        g, out_channels, ndim = spec.groups, weight.shape[0], len(spec.out_shape)
        kernel, out = tuple(weight.shape[2 : 2 + ndim]), spec.out_shape
        batch = math.prod(out) * g
        gl = (
            grad.reshape(n, g, out_channels // g, *out)
            .permute(*range(3, 3 + ndim), 1, 0, 2)
            .reshape(batch, n, out_channels // g)
            .contiguous()
        )
        wg = weight.reshape(g, out_channels // g, c // g, *weight.shape[2:])
        w_perm = (*range(3, 3 + ndim), 0, 2, 1)
        # the inverse of w_perm, for writing (*out, G, C/G, O/G) back into the weight layout
        gw_perm = (ndim, ndim + 2, ndim + 1, *range(ndim))
        need_x, need_w = ctx.needs_input_grad[:2]
        gx = xl.new_zeros(xl.shape) if need_x else None
        gw = torch.empty_like(wg) if need_w else None
        for offset in itertools.product(*map(range, kernel)):
            window = _window(offset, spec)
            index = (slice(None),) * 3 + offset
            if need_w:
                xs = xl[window].reshape(batch, n, c // g)
                gw[index] = (
                    torch.bmm(xs.transpose(1, 2), gl).view(*out, g, c // g, -1).permute(gw_perm)
                )
                del xs
            if need_x:
                wp = wg[index].permute(w_perm).reshape(batch, c // g, -1).contiguous()
                gx[window] += torch.bmm(gl, wp.transpose(1, 2)).view(*out, g, n, c // g)
                del wp
        del gl
        grad_x = grad_w = None
        if need_x:
            # (*padded, G, N, C/G) -> (N, C, *padded)
            grad_x = gx.permute(ndim + 1, ndim, ndim + 2, *range(ndim)).reshape(n, c, *padded)
        if need_w:
            grad_w = gw.reshape(weight.shape)
        return grad_x, grad_w, None


class _Interleave(torch.autograd.Function):
    """Phase outputs ``(N, O, *sizes)`` -> ``(N, O, *(sizes * phases))``, phase ``t``
    at positions ``t + phases*m``.

    Written straight into a buffer laid out ``(N, O, size_0, phase_0, size_1, ...)``, whose
    reshape to the result is free; the backward pass hands each phase a strided view of
    the gradient. Autograd's own slice assignment would clone the whole gradient once per
    phase instead.
    """

    @staticmethod
    def forward(ctx: Any, phases: tuple[int, ...], *ys: torch.Tensor) -> torch.Tensor:
        n, o, *sizes = ys[0].shape
        ctx.phases, ctx.sizes = phases, sizes
        buf = ys[0].new_empty(n, o, *itertools.chain(*zip(sizes, phases, strict=True)))
        for phase, y in zip(itertools.product(*map(range, phases)), ys, strict=True):
            buf[_phase_index(phase)] = y
        return buf.view(n, o, *(m * p for m, p in zip(sizes, phases, strict=True)))

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        g = grad.reshape(
            *grad.shape[:2], *itertools.chain(*zip(ctx.sizes, ctx.phases, strict=True))
        )
        return (None, *(g[_phase_index(t)] for t in itertools.product(*map(range, ctx.phases))))


def _phase_index(phase: Sequence[int]) -> tuple[slice | int, ...]:
    """Index of phase ``phase`` in a ``(N, O, size_0, phase_0, size_1, phase_1, ...)`` view."""
    return (slice(None), slice(None), *itertools.chain(*((slice(None), t) for t in phase)))


def locally_connected(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    *,
    stride: int | Sequence[int] = 1,
    padding: Any = "valid",
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
) -> torch.Tensor:
    """Locally connected (unshared) convolution: a separate kernel at every output position.

    ``y[n, o, j] = bias[o, j] + sum_{c, p} weight[o, c, p, j] * x_pad[n, g*C/g + c,
    j*stride + p*dilation]`` where ``g`` is the group of output channel ``o``.

    Computed as a sum over kernel offsets, each one batched matmul over output positions,
    with a hand-written backward pass: memory stays ``O(N*C*L)`` per step and no dense
    ``(N, C*k^d, L)`` column tensor is built.

    Args:
        x: input ``(N, C_in, *spatial)`` with 1, 2 or 3 spatial axes.
        weight: ``(C_out, C_in/groups, *kernel, *out_spatial)``.
        bias: ``(C_out, *out_spatial)`` (one value per channel and position) or ``None``.
        stride, padding, dilation, groups, padding_mode: as in :func:`anyconv.conv`.

    Returns:
        ``(N, C_out, *out_spatial)``; ``out_spatial`` must equal the trailing weight axes.

    Example:
        >>> x = torch.randn(2, 3, 8, 8)
        >>> w = torch.randn(4, 3, 3, 3, 6, 6)
        >>> locally_connected(x, w).shape
        torch.Size([2, 4, 6, 6])
        >>> w_same = torch.randn(4, 3, 3, 3, 1, 1).expand(4, 3, 3, 3, 6, 6)
        >>> y = locally_connected(x, w_same)
        >>> torch.allclose(y, torch.nn.functional.conv2d(x, w_same[..., 0, 0]), atol=1e-5)
        True
    """
    func = "locally_connected"
    ndim = check_conv_tensors(x, weight, bias, func, extra="out_spatial")
    spec = conv_spec(
        tuple(x.shape),
        tuple(weight.shape[: 2 + ndim]),
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        padding_mode=padding_mode,
        func=func,
    )
    out = spec.out_shape
    if tuple(weight.shape[2 + ndim :]) != out:
        raise ValueError(
            f"{func}(): argument 'weight' has shape {tuple(weight.shape)}, whose trailing "
            f"out_spatial axes {tuple(weight.shape[2 + ndim :])} must equal the output size "
            f"{out} that input of shape {tuple(x.shape)} gives with this kernel, stride, "
            "padding and dilation"
        )
    if bias is not None and tuple(bias.shape) != (weight.shape[0], *out):
        raise fail(
            func,
            "bias",
            f"None or a tensor of shape {(weight.shape[0], *out)} (out_channels, *out_spatial)",
            bias,
        )
    y = _LocallyConnected.apply(pad(x, spec.padding, spec.padding_mode), weight, spec)
    return y if bias is None else y + bias


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
) -> torch.Tensor:
    """Tiled convolution (Ngiam et al. 2010): kernels shared modulo a period ``tiles``.

    Output position ``j`` uses kernel ``j mod tiles`` (per axis): ``y[n, o, j] = bias[o] +
    sum_{c, p} weight[o, c, p, j mod T] * x_pad[n, g*C/g + c, j*stride + p*dilation]``.
    ``tiles=1`` is an ordinary convolution; ``tiles`` at least the output size is a locally
    connected layer.

    Polyphase: phase ``t`` (a tuple in ``range(T)^d``) fills the output sub-grid
    ``t + T*m``, which reads ``x_pad`` at ``(t + T*m)*stride + p*dilation`` — one
    convolution with stride ``T*stride`` of the input shifted by ``t*stride`` and kernel
    ``weight[..., t]``. So every kernel runs only where it is used; the total work equals
    one ordinary convolution.

    Args:
        x: input ``(N, C_in, *spatial)`` with 1, 2 or 3 spatial axes.
        weight: ``(C_out, C_in/groups, *kernel, *tiles)``.
        bias: ``(C_out,)``, shared by all tiles (as in the paper), or ``None``.
        tiles: the period ``T``: an int or one int per spatial axis; must match the
            trailing weight axes.
        stride, padding, dilation, groups, padding_mode: as in :func:`anyconv.conv`.
        algorithm: the convolution algorithm each phase runs with (see
            :func:`anyconv.conv`).

    Returns:
        ``(N, C_out, *out_spatial)``, the same size as :func:`anyconv.conv` gives.

    Example:
        >>> x = torch.randn(2, 3, 8, 8)
        >>> w = torch.randn(4, 3, 3, 3, 2, 2)
        >>> tiled_conv(x, w, tiles=2, padding="same").shape
        torch.Size([2, 4, 8, 8])
        >>> w1 = torch.randn(4, 3, 3, 3, 1, 1)
        >>> y = tiled_conv(x, w1, tiles=1)
        >>> torch.allclose(y, torch.nn.functional.conv2d(x, w1[..., 0, 0]), atol=1e-5)
        True
    """
    func = "tiled_conv"
    ndim = check_conv_tensors(x, weight, bias, func, extra="tiles")
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
    run = get_algorithm(algorithm, func)
    out = spec.out_shape
    # phases actually used per axis (tile t >= out is never read) and outputs per phase
    phases = tuple(min(T, m) for T, m in zip(tiles, out, strict=True))
    sizes = tuple(-(-m // T) for m, T in zip(out, tiles, strict=True))
    if algorithm == "matrix":
        check_matrix_size(kernel_shape, sizes, func)
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
