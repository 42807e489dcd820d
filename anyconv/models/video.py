"""Video classifiers: a 3-D CNN over space and time (after Ji, Xu, Yang and Yu 2013, "3D
convolutional neural networks for human action recognition") and, for comparison, the same
network with 2-D convolutions applied to each frame on its own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from anyconv._checks import check_bool, int_sequence
from anyconv.models._common import check_common, make_pool
from anyconv.models.registry import register_model
from anyconv.nn.base import Module
from anyconv.nn.conv import Conv2d, Conv3d
from anyconv.nn.pool import GlobalAvgPool


def _channels(value: Any, func: str) -> tuple[int, ...]:
    return int_sequence(value, "channels", func)


@register_model(
    "c3d",
    "3-D CNN for action recognition (after Ji et al. 2013), optionally "
    "causal in time; videos (C, T, H, W)",
    input_shape=(1, 10, 16, 16),
)
class C3D(Module):
    """3x3x3 convolutions over ``(T, H, W)`` with ReLU, 2x2 spatial max pooling between
    them, global average pooling and a linear classifier.

    A 3x3x3 kernel sees three consecutive frames, so the first layer can already respond to
    motion in a given direction, which no single frame reveals. Pooling is spatial only
    (``(1, 2, 2)``): every time step keeps its own features, so the network stays causal in
    time when asked. ``causal_time=True`` pads ``("causal", "same", "same")``: features at
    frame ``t`` (:meth:`features`) depend on frames ``<= t`` only, as needed for streaming;
    the default pads ``"same"`` on every axis. Pooling stops halving a side once it is 1.

    Args:
        in_channels, num_classes: video channels and classes.
        input_size: ``(T, H, W)``; it limits how many spatial poolings fit.
        channels: output channels of each convolution (one entry per layer).
        causal_time: causal padding in time.

    Shapes:
        input ``(N, in_channels, T, H, W)`` -> logits ``(N, num_classes)``;
        :meth:`features`: ``(N, channels[-1], T, H', W')``.

    Example:
        >>> net = C3D(in_channels=1, num_classes=8, input_size=(8, 16, 16), causal_time=True)
        >>> net(torch.randn(2, 1, 8, 16, 16)).shape
        torch.Size([2, 8])
    """

    conv_class: type[torch.nn.Module] = Conv3d

    def __init__(
        self,
        *,
        in_channels: int = 1,
        num_classes: int = 8,
        input_size: tuple[int, int, int] = (10, 16, 16),
        channels: Sequence[int] = (16, 32, 32),
        causal_time: bool = False,
    ) -> None:
        super().__init__()
        func = type(self).__name__
        size = check_common(in_channels, num_classes, input_size, 3, func)
        widths = _channels(channels, func)
        self.causal_time = check_bool(causal_time, "causal_time", func)
        self.input_size = size
        layers: list[torch.nn.Module] = []
        side, c_in = min(size[1:]), in_channels
        for i, c_out in enumerate(widths):
            layers += [self._conv(c_in, c_out), torch.nn.ReLU()]
            if i < len(widths) - 1 and side >= 2:  # pool between convolutions, while it fits
                layers.append(self._pool(func))
                side = -(-side // 2)
            c_in = c_out
        self.body = torch.nn.Sequential(*layers)
        self.pool = GlobalAvgPool()
        self.classifier = torch.nn.Linear(widths[-1], num_classes)

    def _conv(self, c_in: int, c_out: int) -> torch.nn.Module:
        padding = ("causal", "same", "same") if self.causal_time else "same"
        return Conv3d(c_in, c_out, 3, padding=padding)

    def _pool(self, func: str) -> torch.nn.Module:
        return make_pool("max", 3, (1, 2, 2), func)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Space-time features ``(N, channels[-1], T, H', W')`` before global pooling."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x)))


@register_model(
    "frame2d",
    "the c3d network with 2-D convs on each frame alone, features "
    "averaged over time (a no-motion baseline); videos (C, T, H, W)",
    input_shape=(1, 10, 16, 16),
)
class Frame2D(C3D):
    """The :class:`C3D` network with 3x3 **2-D** convolutions applied to every frame on its
    own; the per-frame features are averaged over space and time, then classified.

    Frames are folded into the batch, so no layer ever sees two frames together: the
    prediction is a symmetric function of the set of frames and cannot depend on their
    order. Where the class is the direction of motion and every frame on its own is
    uninformative (``moving-digits``), it stays near chance while :class:`C3D` solves the
    task, which is the point of the comparison. ``causal_time`` is accepted for the same
    interface; with no temporal kernel every frame's features are trivially causal.

    Shapes:
        input ``(N, in_channels, T, H, W)`` -> logits ``(N, num_classes)``;
        :meth:`features`: ``(N, channels[-1], T, H', W')``.

    Example:
        >>> net = Frame2D(in_channels=1, num_classes=8, input_size=(8, 16, 16))
        >>> net(torch.randn(2, 1, 8, 16, 16)).shape
        torch.Size([2, 8])
    """

    def _conv(self, c_in: int, c_out: int) -> torch.nn.Module:
        return Conv2d(c_in, c_out, 3, padding="same")

    def _pool(self, func: str) -> torch.nn.Module:
        return make_pool("max", 2, 2, func)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, h, w = x.shape
        frames = x.transpose(1, 2).reshape(n * t, c, h, w)  # frames into the batch
        y = self.body(frames)
        return y.reshape(n, t, *y.shape[1:]).transpose(1, 2)
