"""Locally connected and tiled layers: parameter holders over :mod:`anyconv.functional.local`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from anyconv._checks import choice, fail, int_tuple
from anyconv.functional.local import locally_connected
from anyconv.functional.tiled import METHODS, tiled_conv
from anyconv.nn.base import ConvLayer


class _LocallyConnectedNd(ConvLayer):
    """N-d locally connected layer; see :class:`LocallyConnected2d` for the documentation."""

    _repr_fields = ("input_size",)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        input_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: Any = "valid",
        dilation: int | Sequence[int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=groups,
            bias=bias,
            padding_mode=padding_mode,
        )
        name = type(self).__name__
        self.input_size = int_tuple(input_size, self.ndim, "input_size", name, minimum=1)
        # the functional layer's own validation decides the output size, so the two agree
        self.output_size = self.spec(self.input_size).out_shape
        out = self.output_size
        self._create_parameters(bias, weight_axes=out, bias_axes=out, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        unbatched = self._check_input(x)
        if tuple(x.shape[2 - unbatched :]) != self.input_size:
            sizes = ", ".join(map(str, self.input_size))
            raise fail(
                type(self).__name__,
                "input",
                f"a tensor of shape (N, {self.in_channels}, {sizes}) or, unbatched, "
                f"({self.in_channels}, {sizes}) (the layer's input_size)",
                x,
            )
        return locally_connected(x, self.weight, self.bias, groups=self.groups, **self._geometry())


class LocallyConnected1d(_LocallyConnectedNd):
    """Locally connected (unshared) 1-d layer: a separate kernel and bias per output step.

    Shapes:
        input ``(N, C_in, L)`` with ``L == input_size``; output ``(N, C_out, L_out)``;
        weight ``(C_out, C_in/groups, k, L_out)``; bias ``(C_out, L_out)``.

    See :class:`LocallyConnected2d` for the arguments.

    Example:
        >>> layer = LocallyConnected1d(2, 4, 3, input_size=10, padding="same")
        >>> layer(torch.randn(8, 2, 10)).shape
        torch.Size([8, 4, 10])
        >>> layer.num_parameters == (3 * 2 * 4 + 4) * 10
        True
    """

    ndim = 1


class LocallyConnected2d(_LocallyConnectedNd):
    """Locally connected (unshared) 2-d layer: a separate kernel and bias per output pixel.

    ``y[n, o, j] = bias[o, j] + sum_{c, p} weight[o, c, p, j] * x_pad[n, c, j*stride +
    p*dilation]`` (within ``o``'s group), computed by
    :func:`anyconv.functional.local.locally_connected`.

    Args:
        in_channels, out_channels: channel counts, both divisible by ``groups``.
        kernel_size: an int or one int per spatial axis.
        input_size: the spatial size the layer is built for (the weights depend on it).
        stride, padding, dilation, groups, padding_mode: as in :func:`anyconv.conv`
            (every padding rule, per-axis mixes, four border modes).
        bias: learn a bias per output channel and position.
        device, dtype: where and how to allocate the parameters.

    Shapes:
        input ``(N, C_in, H, W)`` with ``(H, W) == input_size``; output
        ``(N, C_out, H_out, W_out)``; weight ``(C_out, C_in/groups, kH, kW, H_out, W_out)``;
        bias ``(C_out, H_out, W_out)``. ``num_parameters`` is
        ``(kH*kW * C_in/groups * C_out + C_out) * H_out*W_out``.

    Example:
        >>> layer = LocallyConnected2d(3, 8, 3, input_size=(12, 12), stride=2)
        >>> layer(torch.randn(4, 3, 12, 12)).shape
        torch.Size([4, 8, 5, 5])
        >>> layer.num_parameters == (9 * 3 * 8 + 8) * 25
        True
    """

    ndim = 2


class LocallyConnected3d(_LocallyConnectedNd):
    """Locally connected (unshared) 3-d layer: a separate kernel and bias per output voxel.

    Shapes:
        input ``(N, C_in, D, H, W)`` with ``(D, H, W) == input_size``; output
        ``(N, C_out, D_out, H_out, W_out)``; weight ``(C_out, C_in/groups, kD, kH, kW,
        D_out, H_out, W_out)``; bias ``(C_out, D_out, H_out, W_out)``.

    See :class:`LocallyConnected2d` for the arguments.

    Example:
        >>> layer = LocallyConnected3d(2, 4, 3, input_size=(4, 6, 6),
        ...                            padding=("causal", "same", "same"))
        >>> layer(torch.randn(1, 2, 4, 6, 6)).shape
        torch.Size([1, 4, 4, 6, 6])
    """

    ndim = 3


class _TiledConvNd(ConvLayer):
    """N-d tiled convolution layer; see :class:`TiledConv2d` for the documentation."""

    _repr_fields = ("tiles", "method")

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        tiles: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: Any = "valid",
        dilation: int | Sequence[int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        algorithm: str = "auto",
        method: str = "auto",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=groups,
            bias=bias,
            padding_mode=padding_mode,
            algorithm=algorithm,
        )
        name = type(self).__name__
        self.method = choice(method, METHODS, "method", name)
        self.tiles = int_tuple(tiles, self.ndim, "tiles", name, minimum=1)
        self._create_parameters(bias, weight_axes=self.tiles, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        options = {"groups": self.groups, "algorithm": self.algorithm, "method": self.method}
        return tiled_conv(
            x, self.weight, self.bias, tiles=self.tiles, **options, **self._geometry()
        )


class TiledConv1d(_TiledConvNd):
    """Tiled 1-d convolution: kernels shared modulo a period ``tiles``.

    Shapes:
        input ``(N, C_in, L)``; output ``(N, C_out, L_out)`` (as for a conv);
        weight ``(C_out, C_in/groups, k, T)``; bias ``(C_out,)``.

    See :class:`TiledConv2d` for the arguments.

    Example:
        >>> layer = TiledConv1d(2, 4, 3, tiles=2, padding="causal")
        >>> layer(torch.randn(8, 2, 10)).shape
        torch.Size([8, 4, 10])
        >>> layer.num_parameters == 3 * 2 * 4 * 2 + 4
        True
    """

    ndim = 1


class TiledConv2d(_TiledConvNd):
    """Tiled 2-d convolution (Ngiam et al. 2010): output pixel ``j`` uses kernel ``j mod T``.

    ``tiles=1`` is an ordinary convolution; ``tiles`` at least the output size is a locally
    connected layer. Computed by :func:`anyconv.functional.tiled.tiled_conv`.

    Args:
        in_channels, out_channels: channel counts, both divisible by ``groups``.
        kernel_size: an int or one int per spatial axis.
        tiles: the period ``T``, an int or one int per spatial axis.
        stride, padding, dilation, groups, padding_mode: as in :func:`anyconv.conv`.
        bias: learn a bias per output channel, shared by all tiles (as in the paper).
        algorithm: the convolution algorithm the tile convolutions run with (``"auto"``).
        method: ``"phases"`` (one strided convolution per tile), ``"blocks"`` (one
            convolution of the input's polyphase components) or ``"auto"``; see
            :func:`anyconv.functional.tiled.tiled_conv`.
        device, dtype: where and how to allocate the parameters.

    Shapes:
        input ``(N, C_in, H, W)`` (any size); output ``(N, C_out, H_out, W_out)``;
        weight ``(C_out, C_in/groups, kH, kW, T_H, T_W)``; bias ``(C_out,)``.
        ``num_parameters`` is ``kH*kW * C_in/groups * C_out * T_H*T_W + C_out``.

    Example:
        >>> layer = TiledConv2d(3, 8, 3, tiles=2, padding="same")
        >>> layer(torch.randn(4, 3, 16, 16)).shape
        torch.Size([4, 8, 16, 16])
        >>> layer.num_parameters == 9 * 3 * 8 * 4 + 8
        True
    """

    ndim = 2


class TiledConv3d(_TiledConvNd):
    """Tiled 3-d convolution: kernels shared modulo a period ``tiles`` per axis.

    Shapes:
        input ``(N, C_in, D, H, W)``; output ``(N, C_out, D_out, H_out, W_out)``;
        weight ``(C_out, C_in/groups, kD, kH, kW, T_D, T_H, T_W)``; bias ``(C_out,)``.

    See :class:`TiledConv2d` for the arguments.

    Example:
        >>> layer = TiledConv3d(2, 4, 3, tiles=(1, 2, 2), padding=("causal", "same", "same"))
        >>> layer(torch.randn(1, 2, 5, 8, 8)).shape
        torch.Size([1, 4, 5, 8, 8])
    """

    ndim = 3
