"""The temporal convolutional network (Bai, Kolter and Koltun 2018, "An empirical evaluation
of generic convolutional and recurrent networks for sequence modeling")."""

from __future__ import annotations

import torch

from anyconv._checks import check_bool, choice, positive_int
from anyconv.models._common import check_common, check_probability
from anyconv.models.registry import register_model
from anyconv.nn.base import Module
from anyconv.nn.conv import Conv1d, PointwiseConv

READOUTS = ("last", "mean")


class TemporalBlock(Module):
    """Two causal dilated convolutions with ReLU and dropout, plus a residual connection.

    ``y = relu(x' + dropout(relu(conv2(dropout(relu(conv1(x)))))))`` where ``x'`` is ``x``,
    or a 1x1 convolution of it when the channel count changes. ``"causal"`` padding
    (``dilation * (k - 1)`` zeros on the left only) keeps the length and makes step ``t``
    of the output depend on steps ``<= t`` of the input only.

    Shapes:
        ``(N, in_channels, L)`` -> ``(N, out_channels, L)``.

    Example:
        >>> block = TemporalBlock(3, 8, kernel_size=3, dilation=4)
        >>> block(torch.randn(2, 3, 50)).shape
        torch.Size([2, 8, 50])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        dilation: int,
        dropout: float = 0.0,
        weight_norm: bool = False,
    ) -> None:
        super().__init__()
        convs = [
            Conv1d(c, out_channels, kernel_size, padding="causal", dilation=dilation)
            for c in (in_channels, out_channels)
        ]
        if weight_norm:
            convs = [torch.nn.utils.parametrizations.weight_norm(c) for c in convs]
        self.net = torch.nn.Sequential(
            convs[0],
            torch.nn.ReLU(),
            torch.nn.Dropout(dropout),
            convs[1],
            torch.nn.ReLU(),
            torch.nn.Dropout(dropout),
        )
        self.residual = (
            PointwiseConv(in_channels, out_channels, ndim=1)
            if in_channels != out_channels
            else torch.nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.net(x) + self.residual(x))


def levels_for(length: int, kernel_size: int) -> int:
    """Fewest blocks (dilations 1, 2, 4, ...) whose receptive field covers ``length`` steps.

    Each block has two convolutions, so ``levels`` blocks see
    ``1 + 2 (k - 1) (2^levels - 1)`` steps.

    Example:
        >>> levels_for(40, 5), levels_for(784, 7)
        (3, 7)
    """
    levels = 1
    while 1 + 2 * (kernel_size - 1) * (2**levels - 1) < length:
        levels += 1
    return levels


@register_model(
    "tcn",
    "causal dilated 1-D residual network (Bai et al. 2018), classifies "
    "from the last step; sequences (C, L)",
    input_shape=(1, 40),
)
class TCN(Module):
    """A TCN classifier: residual blocks of causal dilated convolutions, dilations
    ``1, 2, 4, ...``, then a linear layer on the features of the **last time step**.

    The last step is what Bai et al. use for sequence classification (sequential MNIST):
    with enough levels its receptive field covers the whole sequence, and the network stays
    causal, so the same weights can classify every prefix (:meth:`features` gives the
    per-step features). ``readout="mean"`` averages the features over time instead, which
    is not causal. Weight normalisation (in the paper) is optional because it slows a CPU
    down and matters little at this depth.

    Args:
        in_channels, num_classes: input channels and classes.
        input_size: ``(L,)``; only used to choose ``levels`` when it is ``None``; the
            network accepts any length.
        channels: hidden channels of every block.
        kernel_size: kernel of every convolution.
        levels: number of blocks; default: the fewest whose receptive field covers ``L``.
        dropout: dropout rate inside the blocks.
        weight_norm: weight-normalise the convolutions.
        readout: ``"last"`` (causal) or ``"mean"``.

    Shapes:
        input ``(N, in_channels, L)`` -> logits ``(N, num_classes)``;
        :meth:`features`: ``(N, channels, L)``.

    Example:
        >>> net = TCN(in_channels=1, num_classes=10, input_size=(40,))
        >>> net(torch.randn(2, 1, 40)).shape, net.receptive_field
        (torch.Size([2, 10]), 57)
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        num_classes: int = 10,
        input_size: tuple[int] = (40,),
        channels: int = 32,
        kernel_size: int = 5,
        levels: int | None = None,
        dropout: float = 0.1,
        weight_norm: bool = False,
        readout: str = "last",
    ) -> None:
        super().__init__()
        func = type(self).__name__
        (length,) = check_common(in_channels, num_classes, input_size, 1, func)
        positive_int(channels, "channels", func)
        positive_int(kernel_size, "kernel_size", func)
        levels = (
            levels_for(length, kernel_size)
            if levels is None
            else positive_int(levels, "levels", func)
        )
        dropout = check_probability(dropout, "dropout", func)
        check_bool(weight_norm, "weight_norm", func)
        self.readout = choice(readout, READOUTS, "readout", func)
        self.receptive_field = 1 + 2 * (kernel_size - 1) * (2**levels - 1)
        self.blocks = torch.nn.Sequential(
            *(
                TemporalBlock(
                    in_channels if i == 0 else channels,
                    channels,
                    kernel_size,
                    2**i,
                    dropout,
                    weight_norm,
                )
                for i in range(levels)
            )
        )
        self.classifier = torch.nn.Linear(channels, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Per-step features ``(N, channels, L)``; step ``t`` depends on input steps ``<= t``."""
        return self.blocks(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        return self.classifier(h[..., -1] if self.readout == "last" else h.mean(-1))
