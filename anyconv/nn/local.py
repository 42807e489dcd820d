"""Locally connected and tiled layers: parameter holders over :mod:`anyconv.functional.local`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from anyconv._spec import PADDING_MODES, check_bool, choice, fail, int_tuple, positive_int
from anyconv.functional.algorithms import get_algorithm
from anyconv.functional.conv import conv_spec
from anyconv.functional.local import locally_connected
from anyconv.functional.tiled import METHODS, tiled_conv
from anyconv.nn.base import Module
from anyconv.padding import effective_kernel


class _PositionalConvNd(Module):
    """What locally connected and tiled layers share: arguments, validation, initialisation.

    The weight is a conv weight with extra trailing axes (output positions or tiles).
    """

    _ndim = 0

    def _setup(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any,
        padding: Any,
        dilation: Any,
        groups: int,
        padding_mode: str,
    ) -> tuple[int, ...]:
        name, d = type(self).__name__, self._ndim
        self.in_channels = positive_int(in_channels, "in_channels", name)
        self.out_channels = positive_int(out_channels, "out_channels", name)
        self.kernel_size = int_tuple(kernel_size, d, "kernel_size", name, minimum=1)
        self.stride = int_tuple(stride, d, "stride", name, minimum=1)
        self.dilation = int_tuple(dilation, d, "dilation", name, minimum=1)
        self.groups = positive_int(groups, "groups", name)
        self.padding, self.padding_mode = padding, padding_mode
        return self.kernel_size

    def _init_parameters(
        self, trailing: tuple[int, ...], bias_shape: tuple[int, ...] | None, device: Any, dtype: Any
    ) -> None:
        shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size, *trailing)
        self.weight = torch.nn.Parameter(torch.empty(shape, device=device, dtype=dtype))
        self.bias = (
            None
            if bias_shape is None
            else torch.nn.Parameter(torch.empty(bias_shape, device=device, dtype=dtype))
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's conv initialisation: kaiming-uniform with ``a = sqrt(5)``, i.e.
        ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` for weight and bias, where ``fan_in =
        in_channels/groups * prod(kernel_size)`` — one kernel's inputs, not counting the
        position or tile axes that torch's own fan computation would include."""
        fan_in = self.in_channels // self.groups * math.prod(self.kernel_size)
        bound = 1 / math.sqrt(fan_in)
        torch.nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            torch.nn.init.uniform_(self.bias, -bound, bound)

    def _base_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != "valid":
            s += f", padding={self.padding!r}"
        if self.dilation != (1,) * self._ndim:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode!r}"
        return s


class _LocallyConnectedNd(_PositionalConvNd):
    """N-d locally connected layer; see :class:`LocallyConnected2d` for the documentation."""

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
        super().__init__()
        name = type(self).__name__
        kernel = self._setup(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, padding_mode
        )
        self.input_size = int_tuple(input_size, self._ndim, "input_size", name, minimum=1)
        check_bool(bias, "bias", name)
        # the functional layer's own validation decides the output size, so the two agree
        spec = conv_spec(
            (1, self.in_channels, *self.input_size),
            (self.out_channels, self.in_channels // self.groups, *kernel),
            stride=self.stride,
            padding=padding,
            dilation=self.dilation,
            groups=groups,
            padding_mode=padding_mode,
            func=name,
        )
        self.output_size = spec.out_shape
        self._init_parameters(
            self.output_size,
            (self.out_channels, *self.output_size) if bias else None,
            device,
            dtype,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if isinstance(x, torch.Tensor) and tuple(x.shape[2:]) != self.input_size:
            sizes = ", ".join(map(str, self.input_size))
            raise fail(
                type(self).__name__,
                "input",
                f"a tensor of shape (N, {self.in_channels}, {sizes}) (the layer's input_size)",
                x,
            )
        return locally_connected(
            x,
            self.weight,
            self.bias,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            groups=self.groups,
            padding_mode=self.padding_mode,
        )

    def extra_repr(self) -> str:
        return f"{self._base_repr()}, input_size={self.input_size}"


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

    _ndim = 1


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

    _ndim = 2


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

    _ndim = 3


class _TiledConvNd(_PositionalConvNd):
    """N-d tiled convolution layer; see :class:`TiledConv2d` for the documentation."""

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
        super().__init__()
        name = type(self).__name__
        self._setup(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, padding_mode
        )
        self.method = choice(method, METHODS, "method", name)
        self.tiles = int_tuple(tiles, self._ndim, "tiles", name, minimum=1)
        check_bool(bias, "bias", name)
        # validate padding, groups and mode now against a nominal input the kernel fits
        nominal = effective_kernel(self.kernel_size, self.dilation)
        conv_spec(
            (1, self.in_channels, *nominal),
            (self.out_channels, self.in_channels // self.groups, *self.kernel_size),
            stride=self.stride,
            padding=padding,
            dilation=self.dilation,
            groups=groups,
            padding_mode="zeros",
            func=name,
        )
        choice(padding_mode, PADDING_MODES, "padding_mode", name)
        get_algorithm(algorithm, name)
        self.algorithm = algorithm
        self._init_parameters(self.tiles, (self.out_channels,) if bias else None, device, dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return tiled_conv(
            x,
            self.weight,
            self.bias,
            tiles=self.tiles,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            groups=self.groups,
            padding_mode=self.padding_mode,
            algorithm=self.algorithm,
            method=self.method,
        )

    def extra_repr(self) -> str:
        s = f"{self._base_repr()}, tiles={self.tiles}"
        if self.algorithm != "auto":
            s += f", algorithm={self.algorithm!r}"
        return s if self.method == "auto" else f"{s}, method={self.method!r}"


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

    _ndim = 1


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

    _ndim = 2


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

    _ndim = 3
