"""The fully convolutional network for time-series classification (Wang, Yan and Oates
2017, "Time series classification from scratch with deep neural networks: a strong
baseline"). Its training recipe on ``ucr:`` data (that of its paper, adapted to minutes on a
CPU) is :data:`anyconv.train.recipes.TSC_RECIPE`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from anyconv._checks import fail, is_int
from anyconv.models._common import check_common
from anyconv.models.registry import register_model
from anyconv.nn.base import Module
from anyconv.nn.conv import Conv1d
from anyconv.nn.pool import GlobalAvgPool


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int) -> torch.nn.Sequential:
    """A "same"-padded 1-D convolution (no bias: batch norm follows), batch norm, ReLU.

    Example:
        >>> conv_bn_relu(1, 4, 8)(torch.randn(2, 1, 30)).shape
        torch.Size([2, 4, 30])
    """
    return torch.nn.Sequential(
        Conv1d(in_channels, out_channels, kernel_size, padding="same", bias=False),
        torch.nn.BatchNorm1d(out_channels),
        torch.nn.ReLU(),
    )


def check_widths(
    channels: Any, kernel_sizes: Any, func: str
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Equal-length, non-empty tuples of positive ints."""
    for arg, value in (("channels", channels), ("kernel_sizes", kernel_sizes)):
        if (
            not isinstance(value, Sequence)
            or not value
            or not all(is_int(v) and v > 0 for v in value)
        ):
            raise fail(func, arg, "a non-empty tuple of positive ints", value, TypeError)
    if len(channels) != len(kernel_sizes):
        raise fail(func, "kernel_sizes", f"{len(channels)} sizes, one per conv", kernel_sizes)
    return tuple(map(int, channels)), tuple(map(int, kernel_sizes))


@register_model(
    "fcn",
    "the fully convolutional network for time series (Wang et al. 2017): convs 128/256/128 "
    "with kernels 8/5/3, batch norm, ReLU, global average pooling; sequences (C, L)",
    input_shape=(1, 128),
)
class FCN(Module):
    """Three convolution blocks (conv, batch norm, ReLU), global average pooling over time,
    and a linear classifier.

    ==============================  ======================
    layer                           output
    ==============================  ======================
    conv 8, "same", BN, ReLU        128 x L
    conv 5, "same", BN, ReLU        256 x L
    conv 3, "same", BN, ReLU        128 x L   (``features``)
    global average pooling          128
    linear                          num_classes
    ==============================  ======================

    Any length works (the network has no length-dependent layer). The last feature maps
    times the classifier's weights give the class activation maps of the paper
    (:func:`anyconv.viz.cam.class_activation_maps`).

    Args:
        in_channels, num_classes: channels of a series and classes.
        input_size: ``(L,)``; checked, not needed by the layers.
        channels, kernel_sizes: of the convolution blocks.

    Shapes:
        input ``(N, in_channels, L)`` -> logits ``(N, num_classes)``.

    Example:
        >>> net = FCN(in_channels=1, num_classes=3, input_size=(50,))
        >>> net(torch.randn(2, 1, 50)).shape, net.num_parameters
        (torch.Size([2, 3]), 264579)
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        num_classes: int = 2,
        input_size: tuple[int] = (128,),
        channels: Sequence[int] = (128, 256, 128),
        kernel_sizes: Sequence[int] = (8, 5, 3),
    ) -> None:
        super().__init__()
        func = type(self).__name__
        check_common(in_channels, num_classes, input_size, 1, func)
        channels, kernel_sizes = check_widths(channels, kernel_sizes, func)
        inputs = (in_channels, *channels[:-1])
        blocks = zip(inputs, channels, kernel_sizes, strict=True)
        self.features = torch.nn.Sequential(*(conv_bn_relu(a, b, k) for a, b, k in blocks))
        self.pool = GlobalAvgPool()
        self.classifier = torch.nn.Linear(channels[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x)))
