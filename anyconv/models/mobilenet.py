"""A tiny MobileNet (Howard et al. 2017, "MobileNets: efficient convolutional neural networks
for mobile vision applications"): depthwise-separable blocks."""

from __future__ import annotations

import torch

from anyconv._checks import positive_int
from anyconv.models._common import check_common
from anyconv.models.registry import register_model
from anyconv.nn.base import Module
from anyconv.nn.conv import Conv2d, DepthwiseSeparableConv
from anyconv.nn.pool import GlobalAvgPool

# (output channels as a multiple of `width`, stride) of each depthwise-separable block
BLOCKS = ((2, 1), (4, 2), (4, 1), (8, 2), (8, 1))


@register_model(
    "mobilenet_tiny",
    "a tiny MobileNet: conv stem + 5 depthwise-separable "
    "blocks (BN, ReLU) + global average pooling; images (C, H, W)",
)
class MobileNetTiny(Module):
    """Conv stem, five depthwise-separable blocks, global average pooling, linear.

    Stem: 3x3 convolution to ``width`` channels, batch norm, ReLU; stride 2 (as in
    MobileNet) when the smaller input side is at least 16, else stride 1 so that 8x8 images
    keep their detail. Blocks: depthwise 3x3 -> BN -> ReLU -> pointwise -> BN -> ReLU
    (:class:`anyconv.nn.DepthwiseSeparableConv`) with ``2w, 4w (stride 2), 4w, 8w (stride
    2), 8w`` channels. All padding is ``"same"``, so any size works: 28x28 -> 14 -> 7 -> 4,
    8x8 -> 8 -> 4 -> 2.

    Args:
        in_channels, num_classes, input_size: image channels, classes and ``(H, W)``.
        width: channels of the stem (MobileNet's 32 times its width multiplier).

    Shapes:
        input ``(N, in_channels, H, W)`` -> logits ``(N, num_classes)``.

    Example:
        >>> net = MobileNetTiny(in_channels=1, num_classes=10, input_size=(8, 8))
        >>> net(torch.randn(2, 1, 8, 8)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        num_classes: int = 10,
        input_size: tuple[int, int] = (28, 28),
        width: int = 16,
    ) -> None:
        super().__init__()
        func = type(self).__name__
        size = check_common(in_channels, num_classes, input_size, 2, func)
        w = positive_int(width, "width", func)
        stride = 2 if min(size) >= 16 else 1
        layers: list[torch.nn.Module] = [
            Conv2d(in_channels, w, 3, stride=stride, padding="same", bias=False),
            torch.nn.BatchNorm2d(w),
            torch.nn.ReLU(),
        ]
        c_in = w
        for mult, s in BLOCKS:
            layers.append(
                DepthwiseSeparableConv(
                    c_in, mult * w, 3, stride=s, padding="same", norm=True, activation=torch.nn.ReLU
                )
            )
            c_in = mult * w
        self.features = torch.nn.Sequential(*layers)
        self.pool = GlobalAvgPool()
        self.classifier = torch.nn.Linear(c_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x)))
