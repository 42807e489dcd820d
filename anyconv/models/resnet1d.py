"""The residual network for time-series classification (Wang, Yan and Oates 2017, "Time
series classification from scratch with deep neural networks: a strong baseline")."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from anyconv._checks import positive_int
from anyconv.models._common import check_common
from anyconv.models.fcn import check_widths, conv_bn_relu
from anyconv.models.registry import register_model
from anyconv.nn.base import Module
from anyconv.nn.conv import Conv1d
from anyconv.nn.pool import GlobalAvgPool


class ResidualBlock1d(Module):
    """Three convolutions (kernels 8, 5, 3 by default, "same" padding, batch norm, ReLU
    after the first two) added to a shortcut, then ReLU.

    The shortcut is a 1x1 convolution with batch norm when the channel count changes, and
    batch norm alone when it does not (as in the paper's code).

    Shapes:
        ``(N, in_channels, L)`` -> ``(N, out_channels, L)``.

    Example:
        >>> ResidualBlock1d(3, 16)(torch.randn(2, 3, 40)).shape
        torch.Size([2, 16, 40])
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_sizes: Sequence[int] = (8, 5, 3)
    ) -> None:
        super().__init__()
        func = type(self).__name__
        positive_int(in_channels, "in_channels", func)
        positive_int(out_channels, "out_channels", func)
        _, kernel_sizes = check_widths((out_channels,) * len(kernel_sizes), kernel_sizes, func)
        inputs = (in_channels,) + (out_channels,) * (len(kernel_sizes) - 1)
        convs = zip(inputs, kernel_sizes, strict=True)
        layers = [conv_bn_relu(a, out_channels, k) for a, k in convs]
        last = layers[-1]
        layers[-1] = torch.nn.Sequential(last[0], last[1])  # ReLU comes after the addition
        self.body = torch.nn.Sequential(*layers)
        project = [Conv1d(in_channels, out_channels, 1, bias=False)]
        self.shortcut = torch.nn.Sequential(
            *(project if in_channels != out_channels else []), torch.nn.BatchNorm1d(out_channels)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


@register_model(
    "resnet1d",
    "the residual network for time series (Wang et al. 2017): three residual blocks of "
    "convs 8/5/3 with 64/128/128 channels, global average pooling; sequences (C, L)",
    input_shape=(1, 128),
)
class ResNet1d(Module):
    """Residual blocks (:class:`ResidualBlock1d`), global average pooling over time, and a
    linear classifier.

    Args:
        in_channels, num_classes: channels of a series and classes.
        input_size: ``(L,)``; checked, not needed by the layers.
        channels: of the residual blocks (the paper's 64, 128, 128).
        kernel_sizes: of the three convolutions in every block.

    Shapes:
        input ``(N, in_channels, L)`` -> logits ``(N, num_classes)``.

    Example:
        >>> net = ResNet1d(in_channels=2, num_classes=4, input_size=(60,))
        >>> net(torch.randn(3, 2, 60)).shape
        torch.Size([3, 4])
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        num_classes: int = 2,
        input_size: tuple[int] = (128,),
        channels: Sequence[int] = (64, 128, 128),
        kernel_sizes: Sequence[int] = (8, 5, 3),
    ) -> None:
        super().__init__()
        func = type(self).__name__
        check_common(in_channels, num_classes, input_size, 1, func)
        channels, _ = check_widths(channels, (1,) * len(channels), func)
        inputs = (in_channels, *channels[:-1])
        blocks = zip(inputs, channels, strict=True)
        self.features = torch.nn.Sequential(
            *(ResidualBlock1d(a, b, kernel_sizes) for a, b in blocks)
        )
        self.pool = GlobalAvgPool()
        self.classifier = torch.nn.Linear(channels[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x)))
