"""Anti-aliased downsampling (Zhang, "Making convolutional networks shift-invariant again",
ICML 2019): low-pass filter with a binomial kernel
(:func:`anyconv.functional.filters.binomial_kernel`), then subsample."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from anyconv._checks import check_input, fail, int_tuple
from anyconv.functional.conv import conv
from anyconv.functional.filters import binomial_kernel
from anyconv.padding import conv_spec


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
    ndim, channels = check_input(x, func), x.shape[1]
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
