"""The Inception block (Szegedy et al. 2015, "Going deeper with convolutions")."""

from __future__ import annotations

import torch

from anyconv._checks import check_input, fail, positive_int
from anyconv.functional.formats import with_batch
from anyconv.functional.pool import max_pool
from anyconv.nn.base import Module
from anyconv.nn.conv import ConvNd, spatial_ndim


class _ConvAct(torch.nn.Sequential):
    """A "same" convolution followed by an activation."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        ndim: int,
        activation: type[torch.nn.Module],
        algorithm: str,
    ) -> None:
        super().__init__(
            ConvNd(
                in_channels,
                out_channels,
                kernel_size,
                padding="same",
                ndim=ndim,
                algorithm=algorithm,
            ),
            activation(),
        )


class Inception(Module):
    """Four parallel branches, concatenated along the channels.

    1. a 1x1 convolution;
    2. a 1x1 reduction, then a 3x3 convolution;
    3. a 1x1 reduction, then a 5x5 convolution;
    4. a 3x3 max pooling (stride 1), then a 1x1 projection.

    Every convolution uses ``"same"`` padding and is followed by ``activation``. The
    spatial size is kept and the output has ``ch1x1 + ch3x3 + ch5x5 + pool_proj`` channels.
    ``ndim`` selects 1, 2 or 3 spatial axes; a kernel of "3x3" is then 3 or 3x3x3.

    Shapes:
        ``(N, in_channels, *spatial)`` -> ``(N, ch1x1 + ch3x3 + ch5x5 + pool_proj, *spatial)``.

    Example:
        >>> block = Inception(192, 64, 96, 128, 16, 32, 32)  # GoogLeNet's inception (3a)
        >>> block(torch.randn(1, 192, 28, 28)).shape
        torch.Size([1, 256, 28, 28])
        >>> Inception(8, 4, 4, 4, 2, 2, 2, ndim=1)(torch.randn(2, 8, 50)).shape
        torch.Size([2, 12, 50])
    """

    def __init__(
        self,
        in_channels: int,
        ch1x1: int,
        ch3x3_reduce: int,
        ch3x3: int,
        ch5x5_reduce: int,
        ch5x5: int,
        pool_proj: int,
        *,
        ndim: int = 2,
        activation: type[torch.nn.Module] = torch.nn.ReLU,
        algorithm: str = "auto",
    ) -> None:
        super().__init__()
        func = type(self).__name__
        self.ndim = spatial_ndim(None, ndim, func)
        sizes = dict(
            in_channels=in_channels,
            ch1x1=ch1x1,
            ch3x3_reduce=ch3x3_reduce,
            ch3x3=ch3x3,
            ch5x5_reduce=ch5x5_reduce,
            ch5x5=ch5x5,
            pool_proj=pool_proj,
        )
        for name, value in sizes.items():
            positive_int(value, name, func)
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj

        def unit(c_in: int, c_out: int, k: int) -> _ConvAct:
            return _ConvAct(c_in, c_out, k, self.ndim, activation, algorithm)

        self.branch1 = unit(in_channels, ch1x1, 1)
        self.branch3 = torch.nn.Sequential(
            unit(in_channels, ch3x3_reduce, 1), unit(ch3x3_reduce, ch3x3, 3)
        )
        self.branch5 = torch.nn.Sequential(
            unit(in_channels, ch5x5_reduce, 1), unit(ch5x5_reduce, ch5x5, 5)
        )
        self.pool_proj = unit(in_channels, pool_proj, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, type(self).__name__, spatial=self.ndim, unbatched=True)
        return with_batch(x, self.ndim, self._branches)

    def _branches(self, x: torch.Tensor) -> torch.Tensor:
        pooled = max_pool(x, 3, stride=1, padding="same")
        return torch.cat(
            [self.branch1(x), self.branch3(x), self.branch5(x), self.pool_proj(pooled)], dim=1
        )

    def extra_repr(self) -> str:
        return f"ndim={self.ndim}, out_channels={self.out_channels}"


class InceptionTimeBlock(Module):
    """The module of InceptionTime (Fawaz et al. 2020): a bottleneck, parallel long
    kernels, and a max-pooling branch, concatenated, then batch norm and ReLU.

    1. a 1x1 bottleneck to ``bottleneck`` channels (only when the input has more than one
       channel, as in the paper's code), then one convolution per size in
       ``kernel_sizes`` (the paper's 40, 20, 10; ``filters`` channels each);
    2. a 3-wide max pooling (stride 1) of the input, then a 1x1 convolution to
       ``filters`` channels;
    3. the ``(len(kernel_sizes) + 1) * filters`` channels, batch norm, ReLU.

    The same idea as :class:`Inception` (parallel receptive fields and a pooling branch,
    concatenated along channels), laid out differently: the branches share one
    bottleneck, there is no 1x1 branch, and there is one activation after the
    concatenation instead of one per convolution. Convolutions are "same"-padded (an even
    kernel puts its extra tap at the end, as Keras does) and have no bias (batch norm
    follows).

    Shapes:
        ``(N, in_channels, *spatial)`` -> ``(N, out_channels, *spatial)`` with
        ``out_channels = (len(kernel_sizes) + 1) * filters``; unbatched
        ``(in_channels, *spatial)`` too.

    Example:
        >>> block = InceptionTimeBlock(3, filters=8, ndim=1)
        >>> block(torch.randn(2, 3, 50)).shape, block.out_channels
        (torch.Size([2, 32, 50]), 32)
    """

    def __init__(
        self,
        in_channels: int,
        filters: int = 32,
        bottleneck: int = 32,
        kernel_sizes: tuple[int, ...] = (40, 20, 10),
        *,
        ndim: int = 1,
        algorithm: str = "auto",
    ) -> None:
        super().__init__()
        func = type(self).__name__
        self.ndim = spatial_ndim(None, ndim, func)
        for name, value in (("in_channels", in_channels), ("filters", filters),
                            ("bottleneck", bottleneck)):  # fmt: skip
            positive_int(value, name, func)
        if not isinstance(kernel_sizes, tuple | list) or not kernel_sizes:
            raise fail(func, "kernel_sizes", "a non-empty tuple of positive ints", kernel_sizes)
        for k in kernel_sizes:
            positive_int(k, "kernel_sizes", func)

        def conv(c_in: int, c_out: int, k: int) -> ConvNd:
            return ConvNd(c_in, c_out, k, padding="same", bias=False, ndim=self.ndim,
                          algorithm=algorithm)  # fmt: skip

        self.bottleneck = conv(in_channels, bottleneck, 1) if in_channels > 1 else None
        width = bottleneck if in_channels > 1 else in_channels
        self.branches = torch.nn.ModuleList(conv(width, filters, k) for k in kernel_sizes)
        self.pool_proj = conv(in_channels, filters, 1)
        self.out_channels = filters * (len(kernel_sizes) + 1)
        self.norm = _batch_norm(self.ndim, self.out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, type(self).__name__, spatial=self.ndim, unbatched=True)
        return with_batch(x, self.ndim, self._branches)

    def _branches(self, x: torch.Tensor) -> torch.Tensor:
        narrow = self.bottleneck(x) if self.bottleneck is not None else x
        pooled = max_pool(x, 3, stride=1, padding="same")
        out = torch.cat([b(narrow) for b in self.branches] + [self.pool_proj(pooled)], dim=1)
        return torch.relu(self.norm(out))

    def extra_repr(self) -> str:
        return f"ndim={self.ndim}, out_channels={self.out_channels}"


def _batch_norm(ndim: int, channels: int) -> torch.nn.Module:
    return (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)[ndim - 1](channels)
