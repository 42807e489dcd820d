"""A tiny Inception network (after GoogLeNet, Szegedy et al. 2015): a stem and two
Inception blocks."""

from __future__ import annotations

import torch

from anyconv._checks import fail, positive_int
from anyconv.models._common import check_common, make_pool
from anyconv.models.registry import register_model
from anyconv.nn.base import Module
from anyconv.nn.conv import Conv2d
from anyconv.nn.inception import Inception
from anyconv.nn.pool import GlobalAvgPool


@register_model(
    "inception_tiny", "conv stem + 2 Inception blocks + global average pooling; images (C, H, W)"
)
class InceptionTiny(Module):
    """Stem, Inception block, 2x2 max pooling, Inception block, global pooling, linear.

    Stem: 3x3 ``"same"`` convolution to ``width`` channels and ReLU, then a 2x2 max pooling
    when the smaller input side is at least 16 (28x28 -> 14 -> 7; 8x8 stays 8 -> 4).
    Block 1 has branches ``(1x1, 3x3, 5x5, pool) = (w/2, 3w/4, w/4, w/4)`` (``1.75 w``
    channels), block 2 twice as many (``3.5 w``), with 1x1 reductions of half the 3x3 and
    5x5 widths, the proportions of GoogLeNet's inception (3a).

    Args:
        in_channels, num_classes, input_size: image channels, classes and ``(H, W)``.
        width: stem channels; a multiple of 4.

    Shapes:
        input ``(N, in_channels, H, W)`` -> logits ``(N, num_classes)``.

    Example:
        >>> net = InceptionTiny(in_channels=1, num_classes=10, input_size=(28, 28))
        >>> net(torch.randn(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        num_classes: int = 10,
        input_size: tuple[int, int] = (28, 28),
        width: int = 32,
    ) -> None:
        super().__init__()
        func = type(self).__name__
        size = check_common(in_channels, num_classes, input_size, 2, func)
        w = positive_int(width, "width", func)
        if w % 4:
            raise fail(func, "width", "a positive multiple of 4", width)
        stem: list[torch.nn.Module] = [Conv2d(in_channels, w, 3, padding="same"), torch.nn.ReLU()]
        if min(size) >= 16:
            stem.append(make_pool("max", 2, 2, func))
        q = w // 4
        block1 = Inception(w, 2 * q, 3 * q // 2 or 1, 3 * q, q // 2 or 1, q, q)
        block2 = Inception(block1.out_channels, 4 * q, 3 * q, 6 * q, q, 2 * q, 2 * q)
        self.features = torch.nn.Sequential(*stem, block1, make_pool("max", 2, 2, func), block2)
        self.pool = GlobalAvgPool()
        self.classifier = torch.nn.Linear(block2.out_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x)))
