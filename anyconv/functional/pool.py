"""Pooling on the core's padding rules: max, average, LP, SoftPool, global and channel pooling.

Every window function resolves its geometry through :func:`anyconv.padding.window_spec`
(the :class:`~anyconv.padding.ConvSpec` that convolution uses), so the output shape is
always ``anyconv.output_shape(..., ceil_mode=ceil_mode)``. Padding never takes part in a
result: max pooling pads with ``-inf``, average pooling divides by
the real elements (or by the window clipped to the padded input with
``count_include_pad=True``), SoftPool gives padded positions zero weight. Ceil-mode
overhang beyond the padding is never counted. Every window must contain at least one
input element. The output keeps a ``channels_last`` (``channels_last_3d``) input's memory
format.

The functions read the number of spatial axes from the input's rank, so they take batched
``(N, C, *spatial)`` input; the layers (:mod:`anyconv.nn`), whose number of axes is fixed,
also take an unbatched ``(C, *spatial)``, as ``torch.nn`` does.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from anyconv._checks import (
    check_bool,
    check_float_tensor,
    check_input,
    check_real,
    fail,
    int_tuple,
    is_int,
)
from anyconv.functional.formats import keep_format, memory_format
from anyconv.functional.windows import sliding_windows
from anyconv.padding import ConvSpec, Padding, document_rules, effective_kernel, pad, window_spec

_MAX = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}
_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}

IntOrTuple = int | Sequence[int]


def _axes(spec: ConvSpec) -> Iterator[tuple[int, tuple[int, int], int, int, int, int, int]]:
    """Per spatial axis: input size, ``(lo, hi)``, output size, stride, kernel, dilation and
    dilated kernel span."""
    keff = effective_kernel(spec.kernel_size, spec.dilation)
    return zip(
        spec.in_shape,
        spec.padding,
        spec.out_shape,
        spec.stride,
        spec.kernel_size,
        spec.dilation,
        keff,
        strict=True,
    )


def _exact_padding(spec: ConvSpec, crop: bool) -> Padding:
    """``(lo, hi)`` that pads (and, if ``crop``, trims) the input to exactly the span that
    ``out_shape`` windows need.

    ``hi`` grows beyond the resolved padding for ceil-mode overhang; without ``crop`` an
    unused tail is left in place, which the caller narrows away after pooling.
    """
    pads = []
    for n, (lo, _), o, s, _, _, k_eff in _axes(spec):
        hi = (o - 1) * s + k_eff - n - lo
        pads.append((lo, hi if crop else max(hi, 0)))
    return tuple(pads)


def _torch_padding(spec: ConvSpec) -> tuple[int, ...] | None:
    """The symmetric padding PyTorch's pooling kernels accept for this window, else ``None``.

    PyTorch pads the same amount on both sides, at most half the kernel, and rounds
    ``ceil_mode`` by the same rule as :mod:`anyconv.padding`.
    """
    pairs = zip(spec.padding, spec.kernel_size, strict=True)
    if all(lo == hi and lo <= k // 2 for (lo, hi), k in pairs):
        return tuple(lo for lo, _ in spec.padding)
    return None


def _counts(spec: ConvSpec, include_pad: bool) -> list[torch.Tensor]:
    """Per axis, how many taps of each output window land on counted positions."""
    result = []
    for n, (lo, hi), o, s, k, d, _ in _axes(spec):
        first, stop = (0, n + lo + hi) if include_pad else (lo, lo + n)
        taps = torch.arange(o).unsqueeze(1) * s + torch.arange(k) * d
        result.append(((taps >= first) & (taps < stop)).sum(1))
    return result


def _check_nonempty(spec: ConvSpec, func: str) -> None:
    """Refuse windows made of padding alone: their max, mean or softmax has no input."""
    for axis, (n, (lo, hi), o, s, k, d, k_eff) in enumerate(_axes(spec)):
        # Only windows that start in the left padding or reach past the input can miss it.
        left = range(min(o, -(-lo // s)))
        right = range(max(len(left), -(-(lo + n - k_eff + 1) // s)), o)
        for j in (*left, *right):
            t = j * s
            first = max(0, -(-(lo - t) // d))  # first tap at or after the input's start
            if n == 0 or first >= k or t + first * d >= lo + n:
                raise ValueError(
                    f"{func}(): argument 'padding' resolves to (lo, hi) = {(lo, hi)} on "
                    f"spatial axis {axis} of size {n}, which leaves output window {j} with "
                    f"no input element (kernel_size {k}, stride {s}, dilation {d}); every "
                    "pooling window must see the input: use less padding (PyTorch allows at "
                    "most kernel_size // 2) or a smaller dilation"
                )


def _pool_spec(
    x: Any, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: Any, func: str
) -> ConvSpec:
    """The window's geometry from :func:`anyconv.padding.window_spec`; ``stride=None``
    means the kernel size."""
    ndim = check_input(x, func)
    if stride is None:
        stride = int_tuple(kernel_size, ndim, "kernel_size", func, minimum=1)
    spec = window_spec(x.shape[2:], kernel_size, stride, padding, dilation, ceil_mode, func=func)
    _check_nonempty(spec, func)
    return spec


def _narrow(y: torch.Tensor, out: tuple[int, ...]) -> torch.Tensor:
    """Drop the extra windows an unused input tail produced (ceil-mode corner case)."""
    for axis, o in enumerate(out):
        if y.shape[2 + axis] != o:
            y = y.narrow(2 + axis, 0, o)
    return y


def _sum_pool(x: torch.Tensor, spec: ConvSpec) -> torch.Tensor:
    """Exact window sums: zero padding, no overhang, any dilation."""
    xp = pad(x, _exact_padding(spec, crop=False))
    ndim, kernel = len(spec.kernel_size), spec.kernel_size
    if all(d == 1 for d in spec.dilation):
        y = _AVG[ndim](xp, kernel, spec.stride) * math.prod(kernel)
    else:
        # PyTorch's average pooling has no dilation; a depthwise all-ones conv does.
        n, c = xp.shape[:2]
        ones = xp.new_ones((1, 1, *kernel))
        y = _CONV[ndim](
            xp.reshape(n * c, 1, *xp.shape[2:]), ones, None, spec.stride, 0, spec.dilation
        )
        y = y.view(n, c, *y.shape[2:])
    return keep_format(_narrow(y, spec.out_shape), memory_format(x))


@document_rules
def max_pool(
    x: torch.Tensor,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: Any = 0,
    dilation: IntOrTuple = 1,
    ceil_mode: bool = False,
) -> torch.Tensor:
    """N-d max pooling with every padding rule of :mod:`anyconv.padding`.

    Padding is ``-inf``, so it never wins; ceil-mode overhang is ignored.

    Args:
        x: input ``(N, C, *spatial)`` with 1, 2 or 3 spatial axes.
        kernel_size: an int or one int per spatial axis.
        stride: an int or one per axis; ``None`` (default) means ``kernel_size``.
        padding: a rule ({padding_rules}), an int, or a tuple with one entry per spatial
            axis (a rule, an int or a ``(lo, hi)`` pair).
        dilation: spacing between window taps, an int or one per axis.
        ceil_mode: round the window count up (PyTorch's rule).

    Returns:
        ``(N, C, *out_spatial)``, ``out_spatial == anyconv.output_shape(...)``.

    Example:
        >>> x = torch.arange(16.0).view(1, 1, 4, 4)
        >>> max_pool(x, 2)
        tensor([[[[ 5.,  7.],
                  [13., 15.]]]])
        >>> max_pool(torch.randn(1, 2, 7), 3, stride=2, padding="same").shape
        torch.Size([1, 2, 4])
    """
    spec = _pool_spec(x, kernel_size, stride, padding, dilation, ceil_mode, "max_pool")
    run = _MAX[len(spec.kernel_size)]
    direct = _torch_padding(spec)
    if direct is not None:
        return run(x, spec.kernel_size, spec.stride, direct, spec.dilation, ceil_mode)
    xp = pad(x, _exact_padding(spec, crop=False), value=-math.inf)
    return _narrow(run(xp, spec.kernel_size, spec.stride, 0, spec.dilation), spec.out_shape)


def avg_pool(
    x: torch.Tensor,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    *,
    dilation: IntOrTuple = 1,
) -> torch.Tensor:
    """N-d average pooling with every padding rule of :mod:`anyconv.padding`.

    Padding is zeros. ``count_include_pad=True`` divides by the window clipped to the padded
    input (the full window except for ceil-mode overhang), ``False`` by the number of real
    input elements in the window — both as in PyTorch.

    Args:
        x: input ``(N, C, *spatial)`` with 1, 2 or 3 spatial axes.
        kernel_size, stride, padding, ceil_mode: as in :func:`max_pool`.
        count_include_pad: whether padded positions count in the divisor.
        dilation: spacing between window taps (PyTorch's average pooling has none).

    Returns:
        ``(N, C, *out_spatial)``.

    Example:
        >>> x = torch.ones(1, 1, 4)
        >>> avg_pool(x, 3, stride=1, padding="same")
        tensor([[[0.6667, 1.0000, 1.0000, 0.6667]]])
        >>> avg_pool(x, 3, stride=1, padding="same", count_include_pad=False)
        tensor([[[1., 1., 1., 1.]]])
    """
    spec = _pool_spec(x, kernel_size, stride, padding, dilation, ceil_mode, "avg_pool")
    check_bool(count_include_pad, "count_include_pad", "avg_pool")
    ndim, kernel = len(spec.kernel_size), spec.kernel_size
    direct = _torch_padding(spec)
    # avg_pool3d also insists on an unpadded input at least as large as the kernel.
    fits = all(n >= k for n, k in zip(spec.in_shape, kernel, strict=True))
    if direct is not None and fits and all(d == 1 for d in spec.dilation):
        y = _AVG[ndim](x, kernel, spec.stride, direct, ceil_mode, count_include_pad)
        return keep_format(y, memory_format(x))  # avg_pool3d drops channels_last_3d
    y = _sum_pool(x, spec)
    divisor = torch.ones((), dtype=torch.long)
    for axis, c in enumerate(_counts(spec, count_include_pad)):
        divisor = divisor * c.view(-1, *(1,) * (ndim - 1 - axis))
    return y / divisor.to(y)


def lp_pool(
    x: torch.Tensor,
    norm_type: float,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    *,
    dilation: IntOrTuple = 1,
) -> torch.Tensor:
    """N-d power-average (LP) pooling: ``y = (sum_window |x|^p)^(1/p)``.

    Equals PyTorch's ``lp_pool`` for even ``p`` or non-negative input (PyTorch raises the
    signed ``x`` to ``p`` and, in ceil mode, rescales clipped windows; here the sum is exact).
    ``p = 1`` is sum pooling of ``|x|``, ``p = inf`` max pooling of ``|x|``. Padding is zeros
    and so never contributes. A window of zeros gets gradient 0, not NaN.

    Args:
        x: input ``(N, C, *spatial)`` with 1, 2 or 3 spatial axes.
        norm_type: the power ``p > 0``.
        kernel_size, stride, padding, ceil_mode, dilation: as in :func:`max_pool`.

    Returns:
        ``(N, C, *out_spatial)``.

    Example:
        >>> lp_pool(torch.tensor([[[3.0, -4.0, 0.0, 0.0]]]), 2, 2)
        tensor([[[5., 0.]]])
    """
    p = check_real(norm_type, "norm_type", "lp_pool", above=0)
    spec = _pool_spec(x, kernel_size, stride, padding, dilation, ceil_mode, "lp_pool")
    if math.isinf(p):
        return max_pool(
            x.abs(), spec.kernel_size, spec.stride, spec.padding, spec.dilation, ceil_mode
        )
    s = _sum_pool(x.abs().pow(p) if p != 2 else x * x, spec)
    positive = s > 0
    # d/ds s^(1/p) is infinite at 0; route zero windows through a constant instead.
    return torch.where(positive, torch.where(positive, s, 1).pow(1 / p), 0)


def _unshifted_is_exact(x: torch.Tensor, spec: ConvSpec) -> bool:
    """Whether ``exp(x)`` needs no shift: true on CPU when every ``|x| <= log(max / K) / 2``
    (``K`` taps per window, ``max`` the dtype's largest value; 43.6 for float32 2x2).

    Then every ``e^x`` is a normal number (no underflow, full precision) and every window
    sum of ``x e^x`` stays far below overflow, so the shift by each window's maximum, which
    costs a pass over the input, changes nothing but rounding. Deciding costs one read of
    the input and a host sync, so other devices always shift (a sync stalls their queue).
    """
    if x.device.type != "cpu" or x.numel() == 0:
        return False
    bound = 0.5 * math.log(torch.finfo(x.dtype).max / math.prod(spec.kernel_size))
    lo, hi = torch.aminmax(x.detach())
    return bool((lo >= -bound) & (hi <= bound))  # False for NaN


def _window_max(x6: torch.Tensor, kernel: tuple[int, ...]) -> torch.Tensor:
    """The maximum of each window of the tiled view ``(N, C, o_1, k_1, o_2, k_2, ...)``,
    as ``(N, C, o_1, o_2, ...)``: an elementwise maximum over the ``K`` strided views of one
    tap each. For 2x2 windows on the CPU it ran 2.7x faster than ``max_pool2d`` (one run)."""
    taps = itertools.product(*(range(k) for k in kernel))
    views = [x6[(..., *(v for t in tap for v in (slice(None), t)))] for tap in taps]
    peak = views[0].clone(memory_format=torch.contiguous_format)
    for v in views[1:]:
        torch.maximum(peak, v, out=peak)
    return peak


class _SoftPoolTiled(torch.autograd.Function):
    """SoftPool over non-overlapping windows that tile the input exactly.

    Forward shifts each window by its own maximum (so ``exp`` never overflows and the
    maximum element weighs exactly 1), unless ``shift`` is false because the input is small
    enough not to need it (:func:`_unshifted_is_exact`), and reuses PyTorch's pooling
    kernels for the sums. Backward is the closed form ``dy/dx_i = p_i (1 + x_i - y)`` with
    ``p = softmax(window)``, a few elementwise passes instead of autograd's chain through
    exp, mul and two pools; ``p = e / sum(e)`` holds with or without the shift. The
    forward-mode tangent is the same closed form, ``dy = sum_i p_i (1 + x_i - y) dx_i``.

    ``forward`` also returns the weights ``e`` and their window sums, marked
    non-differentiable, for the other passes (``setup_context`` apart from ``forward``,
    as ``torch.func`` transforms need); :meth:`run` returns the pooled output alone.
    """

    @staticmethod
    def forward(xt: torch.Tensor, kernel: tuple[int, ...], padded: bool, shift: bool):
        nd = len(kernel)
        tiled, bcast = _SoftPoolTiled.shapes(xt.shape, kernel)
        x6 = xt.view(tiled)
        e = torch.sub(x6, _window_max(x6, kernel).view(bcast)).exp_() if shift else x6.exp()
        if padded:
            # Padding is -inf (weight 0); give it value 0 so that 0 * value is 0, not NaN.
            x6 = torch.where(e > 0, x6, 0)
        num = _AVG[nd]((e * x6).view(xt.shape), kernel)
        den = _AVG[nd](e.view(xt.shape), kernel)
        return num / den, e, den

    @staticmethod
    def shapes(shape, kernel) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The tiled view ``(N, C, o_1, k_1, ...)`` and its broadcast ``(N, C, o_1, 1, ...)``."""
        n, c, *size = shape
        out = [m // k for m, k in zip(size, kernel, strict=True)]
        tiled = (n, c, *(v for o, k in zip(out, kernel, strict=True) for v in (o, k)))
        return tiled, (n, c, *(v for o in out for v in (o, 1)))

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: tuple) -> None:
        xt, kernel, padded, _ = inputs
        y, e, den = output
        ctx.mark_non_differentiable(e, den)
        tiled, bcast = _SoftPoolTiled.shapes(xt.shape, kernel)
        x6 = xt.view(tiled)
        if padded:
            x6 = torch.where(e > 0, x6, 0)
        ctx.save_for_backward(x6, e, y, den)
        ctx.save_for_forward(x6, e, y, den)
        ctx.shapes = (tuple(xt.shape), bcast, math.prod(kernel), kernel)

    @classmethod
    def run(cls, *args: Any) -> torch.Tensor:
        """The pooled output alone."""
        return cls.apply(*args)[0]

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor, *_: Any) -> tuple[torch.Tensor | None, ...]:
        x6, e, y, den = ctx.saved_tensors
        shape, bcast, size, _ = ctx.shapes
        grad = grad.contiguous()  # e.g. channels_last, from an output kept in that format
        # grad_i = g * e_i / sum(e) * (x_i - (y - 1)) = e_i * (a * x_i - b)
        a = grad / (den * size)
        b = a * (y - 1)
        gx = torch.addcmul(-b.view(bcast), a.view(bcast), x6).mul_(e)
        return gx.view(shape), None, None, None

    @staticmethod
    def jvp(ctx: Any, dxt: Any, *_: Any) -> tuple[torch.Tensor | None, None, None]:
        if dxt is None:
            return None, None, None
        x6, e, y, den = ctx.saved_tensors
        shape, bcast, _, kernel = ctx.shapes
        # the -inf padding is a constant: its tangent is 0, and so is its weight e
        terms = e * (1 + x6 - y.view(bcast)) * dxt.reshape(x6.shape)
        return _AVG[len(kernel)](terms.view(shape), kernel) / den, None, None


def _soft_pool_sums(x: torch.Tensor, spec: ConvSpec) -> torch.Tensor:
    """SoftPool of any windows as ``sum(x e^x) / sum(e^x)`` with no shift, for inputs that
    pass :func:`_unshifted_is_exact`; padding adds zero to both sums."""
    e = torch.exp(x)
    return _sum_pool(x * e, spec) / _sum_pool(e, spec)


def _soft_pool_unfold(x: torch.Tensor, spec: ConvSpec) -> torch.Tensor:
    """SoftPool for overlapping or dilated windows: softmax over unfolded windows."""
    xp = pad(x, _exact_padding(spec, crop=True), value=-math.inf)
    windows = sliding_windows(xp, spec.kernel_size, spec.stride, spec.dilation)
    windows = windows.reshape(*windows.shape[: 2 + len(spec.kernel_size)], -1)
    weights = torch.softmax(windows, dim=-1)
    values = windows.masked_fill(weights == 0, 0)  # padding: weight 0 and value -inf
    return (weights * values).sum(-1)


def soft_pool(
    x: torch.Tensor,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    *,
    dilation: IntOrTuple = 1,
) -> torch.Tensor:
    """N-d SoftPool (Stergiou et al. 2021): ``y = sum_window softmax(x) * x``.

    Inputs of any magnitude (e.g. +-1000) neither overflow nor give NaN: each window is
    shifted by its own maximum, except on CPU when the whole input is small enough for
    ``e^x`` to need no shift (``|x| <= 43`` in float32 with 2x2 windows), which saves a
    pass. Padded positions and ceil-mode overhang weigh zero. Non-overlapping windows
    (``stride == kernel_size``, no dilation) take a fused path with a closed-form backward
    (first-order gradients only); other windows are pooled sums or, shifted, unfolded.

    Args:
        x: input ``(N, C, *spatial)`` with 1, 2 or 3 spatial axes.
        kernel_size, stride, padding, ceil_mode, dilation: as in :func:`max_pool`.

    Returns:
        ``(N, C, *out_spatial)``.

    Example:
        >>> x = torch.tensor([[[1000.0, 1000.0, -1000.0, 0.0]]])
        >>> soft_pool(x, 2)
        tensor([[[1000.,    0.]]])
        >>> soft_pool(torch.randn(2, 3, 8, 8), 3, stride=2, padding=1).shape
        torch.Size([2, 3, 4, 4])
    """
    spec = _pool_spec(x, kernel_size, stride, padding, dilation, ceil_mode, "soft_pool")
    unshifted = _unshifted_is_exact(x, spec)
    if spec.stride == spec.kernel_size and all(d == 1 for d in spec.dilation):
        exact = _exact_padding(spec, crop=True)
        padded = any(lo > 0 or hi > 0 for lo, hi in exact)
        xt = pad(x, exact, value=-math.inf).contiguous()
        y = _SoftPoolTiled.run(xt, spec.kernel_size, padded, not unshifted)
    elif unshifted:
        y = _soft_pool_sums(x, spec)
    else:
        y = _soft_pool_unfold(x, spec)
    return keep_format(y, memory_format(x))


def global_avg_pool(x: torch.Tensor, keepdim: bool = False) -> torch.Tensor:
    """Mean over all spatial axes.

    Args:
        x: input ``(N, C, *spatial)`` with any number (>= 1) of spatial axes.
        keepdim: keep the spatial axes with size 1.

    Returns:
        ``(N, C)``, or ``(N, C, 1, ..., 1)`` with ``keepdim=True``.

    Example:
        >>> global_avg_pool(torch.ones(2, 3, 4, 5)).shape
        torch.Size([2, 3])
        >>> global_avg_pool(torch.ones(2, 3, 4, 5), keepdim=True).shape
        torch.Size([2, 3, 1, 1])
    """
    check_input(x, "global_avg_pool", spatial=(1, None))
    check_bool(keepdim, "keepdim", "global_avg_pool")
    return x.mean(dim=_spatial_dims(x, "global_avg_pool"), keepdim=keepdim)


def global_max_pool(x: torch.Tensor, keepdim: bool = False) -> torch.Tensor:
    """Maximum over all spatial axes.

    Args:
        x: input ``(N, C, *spatial)`` with any number (>= 1) of spatial axes.
        keepdim: keep the spatial axes with size 1.

    Returns:
        ``(N, C)``, or ``(N, C, 1, ..., 1)`` with ``keepdim=True``.

    Example:
        >>> global_max_pool(torch.arange(6.0).view(1, 2, 3))
        tensor([[2., 5.]])
    """
    check_input(x, "global_max_pool", spatial=(1, None))
    check_bool(keepdim, "keepdim", "global_max_pool")
    return x.amax(dim=_spatial_dims(x, "global_max_pool"), keepdim=keepdim)


def _spatial_dims(x: torch.Tensor, func: str) -> tuple[int, ...]:
    """The spatial axes of ``x``, each of which must hold an element: an empty window has no
    mean or maximum (as for every window of the pooling functions here)."""
    if 0 in x.shape[2:]:
        raise fail(
            func,
            "input",
            "a tensor with at least one element along every spatial axis (an empty window "
            "has no mean or maximum)",
            x,
        )
    return tuple(range(2, x.dim()))


def channel_max_pool(x: torch.Tensor, pool_size: int) -> torch.Tensor:
    """Maxout: the maximum over each group of ``pool_size`` consecutive channels.

    Args:
        x: input ``(N, C, *spatial)`` (any number of spatial axes, also none).
        pool_size: channels per group; must divide ``C``.

    Returns:
        ``(N, C // pool_size, *spatial)``.

    Example:
        >>> channel_max_pool(torch.tensor([[1.0, 4.0, 3.0, 2.0]]), 2)
        tensor([[4., 3.]])
    """
    func = "channel_max_pool"
    check_input(x, func, spatial=(0, None))
    n, c, *spatial = x.shape
    allowed = f"a positive int dividing the {c} input channels"
    if not is_int(pool_size):
        raise fail(func, "pool_size", allowed, pool_size, TypeError)
    if pool_size < 1 or c % pool_size:
        raise fail(func, "pool_size", allowed, pool_size)
    return x.reshape(n, c // pool_size, pool_size, *spatial).amax(dim=2)


PPV_BLOCK = 1 << 18
"""Comparisons per step of :func:`ppv_count`: the float mask of a step stays in a core's L2
cache (1 MiB), so each comparison and its sum cost a few tenths of a nanosecond."""


def ppv_count(
    values: torch.Tensor, thresholds: torch.Tensor, out: torch.Tensor, scratch: torch.Tensor
) -> torch.Tensor:
    """The counting core of :func:`ppv_pool`, without checks: ``out[b, c, m]`` becomes the
    number of positions ``p`` where ``values[c, m, p] > thresholds[b, c, 0, 0]``.

    Every argument may be a strided view (of a larger buffer: the callers reuse theirs). The
    comparisons run ``len(scratch) // values.numel()`` thresholds at a time, as 0/1 floats
    written to ``scratch`` and summed along ``p`` (a float comparison and a float sum are
    vectorised where a boolean's sum is not). Counts are exact up to ``2**24`` positions.

    Args:
        values: ``(C, M, P)``.
        thresholds: ``(B, C, 1, 1)``.
        out: ``(B, C, M)``, of ``values``' dtype.
        scratch: a 1-D buffer of ``values``' dtype holding at least ``values.numel()``.

    Returns:
        ``out``.

    Example:
        >>> counts = torch.empty(2, 1, 1)
        >>> limits = torch.tensor([0.5, -1.0]).view(2, 1, 1, 1)
        >>> ppv_count(torch.tensor([[[0.0, 1.0, 2.0]]]), limits, counts, torch.empty(8))
        tensor([[[2.]],
        <BLANKLINE>
                [[3.]]])
    """
    per, total = values.numel(), len(thresholds)
    step = max(1, scratch.numel() // max(per, 1))
    if step >= total:  # the usual case: one comparison and one sum
        mask = scratch[: total * per].view(total, *values.shape)
        torch.gt(values, thresholds, out=mask)
        return torch.sum(mask, dim=-1, out=out)
    for start in range(0, total, step):
        part = thresholds[start : start + step]
        mask = scratch[: len(part) * per].view(len(part), *values.shape)
        torch.gt(values, part, out=mask)
        torch.sum(mask, dim=-1, out=out[start : start + step])
    return out


def ppv_pool(x: torch.Tensor, thresholds: torch.Tensor) -> torch.Tensor:
    """Global PPV pooling (the proportion of positive values, Dempster et al. 2020, ROCKET):
    for every channel ``c`` and each of its thresholds ``b = thresholds[c, j]``, the
    fraction of positions where ``x - b`` is positive, i.e. ``mean(x[n, c] > b)`` over all
    spatial axes. It is MiniRocket's only pooling: the thresholds play the role of a
    convolution's bias, and the comparison that of its activation.

    The comparisons run in blocks of samples and thresholds (:func:`ppv_count`), so memory
    stays at :data:`PPV_BLOCK` values whatever the input's size. Not differentiable (a
    count).

    Args:
        x: input ``(N, C, *spatial)`` with at least one spatial axis holding an element.
        thresholds: ``(C, B)``, ``B >= 1`` thresholds per channel, of ``x``'s dtype and
            device.

    Returns:
        ``(N, C, B)`` in ``[0, 1]``, in ``x``'s dtype.

    Example:
        >>> x = torch.tensor([[[0.0, 1.0, 2.0, 3.0]]])
        >>> ppv_pool(x, torch.tensor([[0.5, 2.0, -1.0]]))
        tensor([[[0.7500, 0.2500, 1.0000]]])
    """
    func = "ppv_pool"
    check_input(x, func, spatial=(1, None))
    _spatial_dims(x, func)  # every spatial axis holds an element
    check_float_tensor(thresholds, "thresholds", func)
    channels = x.shape[1]
    if thresholds.dim() != 2 or thresholds.shape[0] != channels or thresholds.shape[1] < 1:
        raise fail(
            func,
            "thresholds",
            f"a tensor of shape (C, B) with C = {channels} (the input's channels) and B >= 1",
            f"a tensor of shape {tuple(thresholds.shape)}",
        )
    if thresholds.dtype != x.dtype or thresholds.device != x.device:
        raise fail(
            func,
            "thresholds",
            f"a tensor of the input's dtype and device ({x.dtype}, {x.device})",
            f"{thresholds.dtype} on {thresholds.device}",
            TypeError,
        )
    n, count = x.shape[0], math.prod(x.shape[2:])
    values = x.reshape(n, channels, count).transpose(0, 1)  # (C, N, P), a view
    counts = x.new_empty(thresholds.shape[1], channels, n)
    limits = thresholds.t()[..., None, None]
    step = max(1, PPV_BLOCK // (channels * count))
    scratch = x.new_empty(max(PPV_BLOCK, channels * count))
    for start in range(0, n, step):
        part = counts[..., start : start + step]
        ppv_count(values[:, start : start + step], limits, part, scratch)
    return torch.div(counts.permute(2, 1, 0), count, out=x.new_empty(n, channels, counts.shape[0]))
