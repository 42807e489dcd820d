"""Locally connected (unshared) convolution: a separate kernel at every output position.

It reuses :func:`anyconv.padding.conv_spec` for validation, padding and the
output size, so every padding rule, border mode, stride, dilation and ``groups`` means
exactly what it means for :func:`anyconv.conv`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import torch

from anyconv._checks import check_conv_tensors, fail
from anyconv.functional.formats import keep_format, memory_format
from anyconv.functional.overrides import overridable
from anyconv.functional.precision import autocast_off, autocast_operands
from anyconv.padding import ConvSpec, conv_spec, pad


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
    ``(N, C/G) @ (C/G, O/G)``. Only the input and the weight are kept for the backward
    pass: autograd through ``einsum`` would save one input-sized copy per kernel offset,
    i.e. the dense column tensor that this path exists to avoid. The map is bilinear, so
    its forward-mode tangent is ``f(dx, w) + f(x, dw)`` (``jvp``; ``setup_context`` apart
    from ``forward`` lets ``torch.func`` transforms run it).
    """

    @staticmethod
    def forward(xp: torch.Tensor, weight: torch.Tensor, spec: ConvSpec) -> torch.Tensor:
        return _local_sum(xp, weight, spec)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: torch.Tensor) -> None:
        xp, weight, spec = inputs
        ctx.save_for_backward(xp, weight)
        ctx.save_for_forward(xp, weight)
        ctx.spec = spec

    @staticmethod
    def jvp(ctx: Any, dxp: Any, dweight: Any, _spec: Any) -> torch.Tensor | None:
        xp, weight = ctx.saved_tensors
        terms = []
        if dxp is not None:
            terms.append(_local_sum(dxp, weight, ctx.spec))
        if dweight is not None:
            terms.append(_local_sum(xp, dweight, ctx.spec))
        return sum(terms[1:], terms[0]) if terms else None

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        xp, weight = ctx.saved_tensors
        xl = _position_major(xp, ctx.spec.groups)
        spec: ConvSpec = ctx.spec
        n, c, *padded = xp.shape
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


def _position_major(xp: torch.Tensor, groups: int) -> torch.Tensor:
    """``(N, C, *padded)`` -> ``(*padded, G, N, C/G)``, contiguous."""
    n, c, *padded = xp.shape
    space = tuple(range(3, 3 + len(padded)))
    return xp.reshape(n, groups, c // groups, *padded).permute(*space, 1, 0, 2).contiguous()


def _local_sum(xp: torch.Tensor, weight: torch.Tensor, spec: ConvSpec) -> torch.Tensor:
    """``y[n, o, j] = sum_{c, p} w[o, c, p, j] * xp[n, c, j*stride + p*dilation]``."""
    n, c = xp.shape[:2]
    g, out_channels, ndim = spec.groups, weight.shape[0], len(spec.out_shape)
    kernel, out = tuple(weight.shape[2 : 2 + ndim]), spec.out_shape
    xl = _position_major(xp, g)
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
    # (*out, G, N, O/G) -> (N, G, O/G, *out)
    y = acc.view(*out, g, n, -1).permute(ndim + 1, ndim, ndim + 2, *range(ndim))
    return y.reshape(n, out_channels, *out)


@overridable
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
        x: input ``(N, C_in, *spatial)`` with 1, 2 or 3 spatial axes, or an unbatched
            ``(C_in, *spatial)`` (the weight's rank says which).
        weight: ``(C_out, C_in/groups, *kernel, *out_spatial)``.
        bias: ``(C_out, *out_spatial)`` (one value per channel and position) or ``None``.
        stride, padding, dilation, groups, padding_mode: as in :func:`anyconv.conv`.

    Returns:
        ``(N, C_out, *out_spatial)`` (unbatched in, unbatched out); ``out_spatial`` must
        equal the trailing weight axes. ``channels_last`` input gives ``channels_last``
        output, as :func:`anyconv.conv`.

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
    x, weight, bias = autocast_operands(x, weight, bias)
    ndim = check_conv_tensors(x, weight, bias, func, extra="out_spatial")
    unbatched = x.dim() == ndim + 1
    if unbatched:
        x = x.unsqueeze(0)
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
    with autocast_off(x.device):
        y = _LocallyConnected.apply(pad(x, spec.padding, spec.padding_mode), weight, spec)
        y = keep_format(y if bias is None else y + bias, memory_format(x))
    return y.squeeze(0) if unbatched else y
