"""Networks whose weights are not (or only partly) shared across positions: a locally
connected layer after a conv stem (as in DeepFace, Taigman et al. 2014) and tiled
convolutions (Ngiam et al. 2010)."""

from __future__ import annotations

import math

import torch

from anyconv._checks import positive_int
from anyconv.models._common import check_common, make_pool, pooled
from anyconv.models.registry import register_model
from anyconv.nn.base import Module
from anyconv.nn.conv import Conv2d
from anyconv.nn.local import LocallyConnected2d, TiledConv2d

SMALL_MAP = 8
"""Stages of conv + 2x2 pooling are stacked until the map is at most this wide."""


def _stages(
    conv: type[torch.nn.Module] | None,
    in_channels: int,
    channels: int,
    size: tuple[int, int],
    func: str,
    **conv_kwargs: object,
) -> tuple[list[torch.nn.Module], tuple[int, int], int]:
    """Conv (3x3 "same") + ReLU + 2x2 max pooling, at least once, then again while the map
    is wider than :data:`SMALL_MAP` (28 -> 14 -> 7, 8 -> 4); channels double per stage.

    Returns the layers, the map size and the channel count at the end.
    """
    layers: list[torch.nn.Module] = []
    c_in, c_out = in_channels, channels
    while not layers or max(size) > SMALL_MAP:
        layers += [
            conv(c_in, c_out, 3, padding="same", **conv_kwargs),
            torch.nn.ReLU(),
            make_pool("max", 2, 2, func),
        ]
        size = pooled(size, 2)
        c_in, c_out = c_out, 2 * c_out
    return layers, size, c_in


@register_model(
    "locally_connected_net",
    "conv stem + a locally connected (unshared) layer + "
    "linear; images (C, H, W) of the size it was built for",
)
class LocallyConnectedNet(Module):
    """Conv stem, one locally connected 3x3 layer (a separate kernel at every position),
    flattened into a linear classifier.

    Stem: stages of 3x3 ``"same"`` convolution, ReLU and 2x2 max pooling until the map is
    at most 8 wide (28x28 -> 14 -> 7, 8x8 -> 4), channels ``width, 2 width, ...``. A
    locally connected layer has ``H_out * W_out`` times the parameters of a convolution, so
    it comes after the pooling, where the map is small, as in DeepFace. Its weights depend
    on the map size: the network only accepts images of ``input_size``.

    Args:
        in_channels, num_classes, input_size: image channels, classes and ``(H, W)``.
        width: channels of the first stem stage.
        local_channels: output channels of the locally connected layer.

    Shapes:
        input ``(N, in_channels, *input_size)`` -> logits ``(N, num_classes)``.

    Example:
        >>> net = LocallyConnectedNet(in_channels=1, num_classes=10, input_size=(8, 8))
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
        local_channels: int = 32,
    ) -> None:
        super().__init__()
        func = type(self).__name__
        size = check_common(in_channels, num_classes, input_size, 2, func)
        positive_int(width, "width", func)
        positive_int(local_channels, "local_channels", func)
        stem, size, c = _stages(Conv2d, in_channels, width, size, func)
        local = LocallyConnected2d(c, local_channels, 3, input_size=size, padding="same")
        self.features = torch.nn.Sequential(*stem, local, torch.nn.ReLU())
        self.classifier = torch.nn.Sequential(
            torch.nn.Flatten(),
            torch.nn.Linear(local_channels * math.prod(local.output_size), num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


@register_model(
    "tiled_net",
    "tiled convolutions (weights shared modulo a period) + pooling + linear; images (C, H, W)",
)
class TiledNet(Module):
    """Stages of tiled 3x3 convolution (``tiles`` kernels per layer, kernel ``j mod tiles``
    at output position ``j``), ReLU and 2x2 max pooling, one more tiled convolution, then a
    linear classifier on the flattened maps.

    Stages repeat until the map is at most 8 wide (28x28 -> 14 -> 7, 8x8 -> 4), channels
    ``width, 2 width, ...``, and the last tiled convolution doubles them once more. All
    padding is ``"same"``. ``tiles=1`` is an ordinary CNN, so the effect of untying the
    weights can be measured with everything else fixed.

    Args:
        in_channels, num_classes, input_size: image channels, classes and ``(H, W)``.
        width: channels of the first stage.
        tiles: the tiling period (an int or one per axis).

    Shapes:
        input ``(N, in_channels, *input_size)`` -> logits ``(N, num_classes)``.

    Example:
        >>> net = TiledNet(in_channels=1, num_classes=10, input_size=(8, 8))
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
        tiles: int | tuple[int, int] = 2,
    ) -> None:
        super().__init__()
        func = type(self).__name__
        size = check_common(in_channels, num_classes, input_size, 2, func)
        positive_int(width, "width", func)
        layers, size, c = _stages(TiledConv2d, in_channels, width, size, func, tiles=tiles)
        last = TiledConv2d(c, 2 * c, 3, tiles=tiles, padding="same")
        self.features = torch.nn.Sequential(*layers, last, torch.nn.ReLU())
        self.classifier = torch.nn.Sequential(
            torch.nn.Flatten(), torch.nn.Linear(2 * c * math.prod(size), num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
