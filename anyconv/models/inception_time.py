"""InceptionTime (Fawaz, Lucas, Forestier et al. 2020, "InceptionTime: Finding AlexNet for
time series classification"): six Inception modules with a residual connection every
three, global average pooling and a linear classifier. The paper's ensemble of five is
``anyconv train inception_time --ensemble 5``; its recipe on ``ucr:`` data is FCN's
(:data:`anyconv.train.recipes.TSC_RECIPE`, see ``MODEL_RECIPES``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from anyconv._checks import check_bool, positive_int
from anyconv.models._common import check_common
from anyconv.models.registry import register_model
from anyconv.nn.base import Module
from anyconv.nn.conv import Conv1d
from anyconv.nn.inception import InceptionTimeBlock
from anyconv.nn.pool import GlobalAvgPool


class InceptionResidual(Module):
    """Modules (:class:`~anyconv.nn.InceptionTimeBlock`) in sequence, plus a shortcut from
    their input: a 1x1 convolution and batch norm (always, as in the paper's code), added
    to the last module's output, then ReLU.

    Shapes:
        ``(N, in_channels, L)`` -> ``(N, out_channels, L)``.

    Example:
        >>> blocks = [InceptionTimeBlock(1, 4), InceptionTimeBlock(16, 4)]
        >>> InceptionResidual(blocks)(torch.randn(2, 1, 30)).shape
        torch.Size([2, 16, 30])
    """

    def __init__(self, blocks: Sequence[InceptionTimeBlock]) -> None:
        super().__init__()
        self.blocks = torch.nn.Sequential(*blocks)
        first, last = blocks[0], blocks[-1]
        in_channels = first.pool_proj.in_channels
        self.shortcut = torch.nn.Sequential(
            Conv1d(in_channels, last.out_channels, 1, bias=False),
            torch.nn.BatchNorm1d(last.out_channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.blocks(x) + self.shortcut(x))


@register_model(
    "inception_time",
    "InceptionTime (Fawaz et al. 2020): six Inception modules (bottleneck, kernels 40/20/10, "
    "max-pool branch), a residual connection every three, global average pooling; "
    "sequences (C, L)",
    input_shape=(1, 128),
)
class InceptionTime(Module):
    """InceptionTime's network.

    ====================================================  ================
    layer                                                 output
    ====================================================  ================
    ``depth`` x :class:`~anyconv.nn.InceptionTimeBlock`   4 x filters x L
    (a shortcut added after every 3rd, when residual)
    global average pooling                                4 x filters
    linear                                                num_classes
    ====================================================  ================

    The last module's maps times the classifier's weights are class activation maps, as
    for :class:`~anyconv.models.FCN`.

    Args:
        in_channels, num_classes: channels of a series and classes.
        input_size: ``(L,)``; checked, not needed by the layers (any length works).
        depth: Inception modules (the paper's 6).
        filters: channels of each branch (32).
        bottleneck: channels of the bottleneck (32).
        kernel_sizes: the long kernels of each module (40, 20, 10).
        residual: a shortcut around every three modules.

    Shapes:
        input ``(N, in_channels, L)`` -> logits ``(N, num_classes)``.

    Example:
        >>> net = InceptionTime(in_channels=1, num_classes=3, input_size=(50,))
        >>> net(torch.randn(2, 1, 50)).shape, net.num_parameters
        (torch.Size([2, 3]), 420579)
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        num_classes: int = 2,
        input_size: tuple[int] = (128,),
        depth: int = 6,
        filters: int = 32,
        bottleneck: int = 32,
        kernel_sizes: Sequence[int] = (40, 20, 10),
        residual: bool = True,
    ) -> None:
        super().__init__()
        func = type(self).__name__
        check_common(in_channels, num_classes, input_size, 1, func)
        positive_int(depth, "depth", func)
        check_bool(residual, "residual", func)
        kernel_sizes = tuple(kernel_sizes) if isinstance(kernel_sizes, Sequence) else kernel_sizes
        blocks, channels = [], in_channels
        for _ in range(depth):
            blocks.append(InceptionTimeBlock(channels, filters, bottleneck, kernel_sizes))
            channels = blocks[-1].out_channels
        if residual:
            stages = [blocks[i : i + 3] for i in range(0, depth, 3)]
            full = [InceptionResidual(s) for s in stages if len(s) == 3]
            rest = [b for s in stages if len(s) < 3 for b in s]  # after the last shortcut
            self.features = torch.nn.Sequential(*full, *rest)
        else:
            self.features = torch.nn.Sequential(*blocks)
        self.pool = GlobalAvgPool()
        self.classifier = torch.nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x)))
