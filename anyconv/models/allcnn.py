"""All-CNN-C (Springenberg, Dosovitskiy, Brox and Riedmiller 2014, "Striving for simplicity:
the all convolutional net"): no pooling layers, no fully connected layers."""

from __future__ import annotations

import torch

from anyconv._checks import positive_int
from anyconv.models._common import check_common, check_probability
from anyconv.models.registry import register_model
from anyconv.nn.base import Module
from anyconv.nn.conv import Conv2d
from anyconv.nn.pool import GlobalAvgPool
from anyconv.padding import output_shape


@register_model(
    "allcnn",
    "All-CNN-C (Springenberg et al. 2014): strided 3x3 convs instead of "
    "pooling, 1x1 convs to the classes, global average pooling; images (C, H, W)",
)
class AllCNN(Module):
    """All-CNN-C: only convolutions, and global average pooling of the class maps.

    ==========================  =============================================
    layer                       channels (``width`` = w, the paper's w = 96)
    ==========================  =============================================
    dropout ``input_dropout``
    conv 3x3 "same", ReLU       w
    conv 3x3 "same", ReLU       w
    conv 3x3 stride 2, ReLU     w    (replaces a 3x3 max pooling, stride 2)
    dropout ``dropout``
    conv 3x3 "same", ReLU       2w
    conv 3x3 "same", ReLU       2w
    conv 3x3 stride 2, ReLU     2w
    dropout ``dropout``
    conv 3x3, ReLU              2w   ("valid" as in the paper when the map is at least
                                     5 wide, else "same", so 8x8 digits still fit)
    conv 1x1, ReLU              2w
    conv 1x1                    num_classes
    global average pooling
    ==========================  =============================================

    Strided convolutions use ``"same"`` padding, so any size halves (rounding up). The
    default ``width=32`` is a third of the paper's 96, small enough for a CPU; the paper's
    input dropout of 0.2 is off by default because it hurts on 8x8 images.

    Args:
        in_channels, num_classes, input_size: image channels, classes and ``(H, W)``.
        width: channels of the first stage (the second stage has twice as many).
        dropout: dropout rate after each strided convolution (the paper's 0.5).
        input_dropout: dropout rate on the input pixels (the paper's 0.2).

    Shapes:
        input ``(N, in_channels, H, W)`` -> logits ``(N, num_classes)``.

    Example:
        >>> net = AllCNN(in_channels=3, num_classes=10, input_size=(32, 32), width=8)
        >>> net(torch.randn(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self,
        *,
        in_channels: int = 3,
        num_classes: int = 10,
        input_size: tuple[int, int] = (32, 32),
        width: int = 32,
        dropout: float = 0.5,
        input_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        func = type(self).__name__
        size = check_common(in_channels, num_classes, input_size, 2, func)
        w = positive_int(width, "width", func)
        dropout = check_probability(dropout, "dropout", func)
        input_dropout = check_probability(input_dropout, "input_dropout", func)
        after_strides = output_shape(
            output_shape(size, 3, stride=2, padding="same"), 3, stride=2, padding="same"
        )
        last_padding = "valid" if min(after_strides) >= 5 else "same"

        def conv(
            c_in: int, c_out: int, k: int = 3, stride: int = 1, padding: str = "same"
        ) -> list[torch.nn.Module]:
            return [Conv2d(c_in, c_out, k, stride=stride, padding=padding), torch.nn.ReLU()]

        self.net = torch.nn.Sequential(
            torch.nn.Dropout(input_dropout),
            *conv(in_channels, w),
            *conv(w, w),
            *conv(w, w, stride=2),
            torch.nn.Dropout(dropout),
            *conv(w, 2 * w),
            *conv(2 * w, 2 * w),
            *conv(2 * w, 2 * w, stride=2),
            torch.nn.Dropout(dropout),
            *conv(2 * w, 2 * w, padding=last_padding),
            *conv(2 * w, 2 * w, k=1),
            Conv2d(2 * w, num_classes, 1),
            GlobalAvgPool(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
