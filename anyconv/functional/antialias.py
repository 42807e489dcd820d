"""Anti-aliased downsampling (Zhang, "Making convolutional networks shift-invariant again",
ICML 2019): low-pass filter with a binomial kernel, then subsample."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from anyconv._spec import MAX_SPATIAL_DIMS, fail, int_tuple
from anyconv.functional.conv import conv, conv_spec
from anyconv.functional.pool import _check_input


def binomial_kernel(
    size: int | Sequence[int],
    ndim: int = 2,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The normalised binomial filter: the outer product of rows of Pascal's triangle.

    Size 1 is the identity, 2 the box ``[1, 1]/2``, 3 the triangle ``[1, 2, 1]/4``, 5
    ``[1, 4, 6, 4, 1]/16``: the discrete approximations of a Gaussian that Zhang (2019)
    blurs with before subsampling.

    Args:
        size: taps per axis, an int or one per axis.
        ndim: spatial axes, 1 to 3.
        dtype, device: of the result (torch's default dtype, the CPU).

    Returns:
        ``(*size)``, summing to 1.

    Example:
        >>> binomial_kernel(3, ndim=1)
        tensor([0.2500, 0.5000, 0.2500])
        >>> binomial_kernel((2, 3)).shape, float(binomial_kernel(4).sum())
        (torch.Size([2, 3]), 1.0)
    """
    func = "binomial_kernel"
    if not (isinstance(ndim, int) and 1 <= ndim <= MAX_SPATIAL_DIMS):
        raise fail(func, "ndim", "1, 2 or 3 (spatial axes)", ndim)
    size = int_tuple(size, ndim, "size", func, minimum=1)
    kernel = torch.ones((), dtype=torch.float64)
    for n in size:
        row = torch.tensor([math.comb(n - 1, i) for i in range(n)], dtype=torch.float64)
        kernel = kernel.unsqueeze(-1) * (row / row.sum())
    return kernel.to(dtype=dtype or torch.get_default_dtype(), device=device)


def blur_pool(
    x: torch.Tensor,
    filter_size: int | Sequence[int] = 3,
    stride: int | Sequence[int] = 2,
    padding: Any = "same",
    padding_mode: str = "reflect",
) -> torch.Tensor:
    """Blur every channel with a binomial filter, then keep every ``stride``-th sample.

    A depthwise convolution with :func:`binomial_kernel` weights, so every padding rule
    and border of :func:`anyconv.conv` applies; the default ``"same"`` padding with a
    reflected border gives ``ceil(n / stride)`` outputs, as in Zhang's BlurPool.

    Args:
        x: ``(N, C, *spatial)`` with 1 to 3 spatial axes, any channel count.
        filter_size: binomial taps per axis (1 disables the blur: plain subsampling).
        stride: subsampling factor per axis.
        padding: any rule of :mod:`anyconv.padding`.
        padding_mode: ``"reflect"`` (default), ``"zeros"``, ``"replicate"`` or
            ``"circular"``.

    Returns:
        ``(N, C, *out_spatial)`` with ``out_spatial`` from :func:`anyconv.output_shape`.

    Example:
        >>> x = torch.zeros(1, 1, 8)
        >>> x[..., 3] = 1.0
        >>> x[..., ::2]  # plain subsampling loses the impulse at 3
        tensor([[[0., 0., 0., 0.]]])
        >>> blur_pool(x, 3, 2, padding_mode="zeros")  # blurred first, half of it is kept
        tensor([[[0.0000, 0.5000, 0.0000, 0.0000]]])
        >>> blur_pool(torch.randn(2, 5, 9, 9)).shape
        torch.Size([2, 5, 5, 5])
    """
    func = "blur_pool"
    ndim, channels = _check_input(x, func), x.shape[1]
    size = int_tuple(filter_size, ndim, "filter_size", func, minimum=1)
    stride = int_tuple(stride, ndim, "stride", func, minimum=1)
    if channels < 1:
        raise fail(func, "input", "a tensor with at least one channel", x)
    weight = binomial_kernel(size, ndim, dtype=x.dtype, device=x.device)
    weight = weight.expand(channels, 1, *size)
    # validated here so that errors name blur_pool, not the convolution inside it
    conv_spec(
        tuple(x.shape),
        tuple(weight.shape),
        stride=stride,
        padding=padding,
        dilation=1,
        groups=channels,
        padding_mode=padding_mode,
        func=func,
    )
    return conv(
        x, weight, stride=stride, padding=padding, groups=channels, padding_mode=padding_mode
    )
