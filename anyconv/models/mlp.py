"""A multilayer perceptron: the dense baseline that convolutional networks are measured
against."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from anyconv._checks import int_sequence, is_int, positive_int
from anyconv.models._common import activation_class, check_probability
from anyconv.models.registry import register_model
from anyconv.nn.base import Module


def _check_hidden(value: Any, func: str) -> tuple[int, ...]:
    if is_int(value):
        value = (value,)
    if isinstance(value, Sequence) and not value:
        return ()
    return int_sequence(value, "hidden", func)


def mlp_width(parameters: int, in_features: int, num_classes: int, depth: int = 1) -> int:
    """The width ``w`` of ``depth`` equal hidden layers that brings an :class:`MLP` closest
    to ``parameters`` parameters: ``(F + 1)w + (depth - 1)(w + 1)w + (w + 1)K``.

    Example:
        >>> w = mlp_width(61_706, 784, 10)  # LeNet-5's count on 28x28 images
        >>> w, MLP(input_size=(28, 28), hidden=w).num_parameters
        (78, 62020)
    """
    func = "mlp_width"
    for arg, value in (
        ("parameters", parameters),
        ("in_features", in_features),
        ("num_classes", num_classes),
        ("depth", depth),
    ):
        positive_int(value, arg, func)
    a = depth - 1  # w^2 terms from the hidden-to-hidden layers
    b = in_features + 1 + (depth - 1) + num_classes
    c = num_classes - parameters
    w = -c / b if a == 0 else (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)

    def count(width: int) -> int:
        return (in_features + 1) * width + a * (width + 1) * width + (width + 1) * num_classes

    return min(
        {max(1, math.floor(w)), max(1, math.ceil(w))}, key=lambda v: abs(count(v) - parameters)
    )


@register_model(
    "mlp",
    "multilayer perceptron on the flattened input (the dense baseline), hidden (256, 128) "
    "by default; any input shape (C, *spatial)",
)
class MLP(Module):
    """Flatten, then linear layers with an activation between them (and optional dropout).

    Every input value has its own weight to every hidden unit: there is no locality and no
    weight sharing, so it needs far more parameters than a CNN of the same accuracy, and
    what it learns at one position does not carry over to another.

    Args:
        in_channels, num_classes: input channels and classes.
        input_size: the spatial size of one sample (any number of axes).
        hidden: widths of the hidden layers (an int for one layer; empty for a linear
            classifier). :func:`mlp_width` sizes them for a parameter budget.
        activation: ``"relu"`` or ``"tanh"``.
        dropout: dropout rate after each hidden layer.

    Shapes:
        input ``(N, in_channels, *input_size)`` -> logits ``(N, num_classes)``.

    Example:
        >>> net = MLP(in_channels=1, num_classes=10, input_size=(28, 28), hidden=(256, 128))
        >>> net(torch.randn(2, 1, 28, 28)).shape, net.num_parameters
        (torch.Size([2, 10]), 235146)
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        num_classes: int = 10,
        input_size: Sequence[int] = (28, 28),
        hidden: int | Sequence[int] = (256, 128),
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        func = type(self).__name__
        positive_int(in_channels, "in_channels", func)
        positive_int(num_classes, "num_classes", func)
        input_size = int_sequence(input_size, "input_size", func)
        widths = _check_hidden(hidden, func)
        act = activation_class(activation, func)
        rate = check_probability(dropout, "dropout", func)
        self.input_size = tuple(input_size)
        layers: list[torch.nn.Module] = [torch.nn.Flatten()]
        features = in_channels * math.prod(input_size)
        for width in widths:
            layers += [torch.nn.Linear(features, width), act()]
            if rate:
                layers.append(torch.nn.Dropout(rate))
            features = width
        layers.append(torch.nn.Linear(features, num_classes))
        self.layers = torch.nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)
