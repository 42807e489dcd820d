"""Convolution layers: ``Conv1d/2d/3d`` on one N-d base, depthwise, pointwise and
depthwise-separable convolution, and ``convert`` for existing PyTorch models (their
transposed convolutions too: :mod:`anyconv.nn.transposed`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from anyconv._checks import check_input, fail, positive_int
from anyconv.functional.formats import with_batch
from anyconv.nn.base import ConvLayer, Module, spatial_ndim
from anyconv.padding import document_rules


@document_rules
class ConvNd(ConvLayer):
    """N-d convolution layer: holds ``weight`` and ``bias``, calls :func:`anyconv.conv`.

    Parameter names, shapes and initialisation are PyTorch's, so a ``torch.nn.Conv{d}d``
    state dict loads unchanged. ``padding`` takes everything :func:`anyconv.conv` takes (the
    rules {padding_rules}, ints, per-axis tuples with ``(lo, hi)`` pairs); ``flip`` and
    ``algorithm`` are passed through.

    Shapes:
        input ``(N, in_channels, *spatial)`` -> output ``(N, out_channels, *out_spatial)``;
        ``weight``: ``(out_channels, in_channels/groups, *kernel_size)``; ``bias``:
        ``(out_channels,)``.

    Example:
        >>> layer = ConvNd(3, 8, (3, 5), padding=("same", "causal"))
        >>> layer(torch.randn(4, 3, 16, 16)).shape
        torch.Size([4, 8, 16, 16])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: Any = 0,
        dilation: int | Sequence[int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        *,
        ndim: int | None = None,
        flip: bool = False,
        algorithm: str = "auto",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
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
            ndim=ndim,
            flip=flip,
            algorithm=algorithm,
        )
        self._create_parameters(bias, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.weight)


class Conv1d(ConvNd):
    """1-d convolution, a drop-in for ``torch.nn.Conv1d`` with every padding rule, true
    convolution (``flip=True``) and a choice of ``algorithm``.

    Shapes:
        ``(N, C_in, L)`` -> ``(N, C_out, L_out)``; weight ``(C_out, C_in/groups, k)``.

    Example:
        >>> layer = Conv1d(3, 8, 5, dilation=2, padding="causal")
        >>> layer(torch.randn(2, 3, 100)).shape
        torch.Size([2, 8, 100])
    """

    ndim = 1


class Conv2d(ConvNd):
    """2-d convolution, a drop-in for ``torch.nn.Conv2d`` (its state dict loads unchanged)
    with every padding rule, true convolution (``flip=True``) and a choice of ``algorithm``.

    Shapes:
        ``(N, C_in, H, W)`` -> ``(N, C_out, H_out, W_out)``; weight
        ``(C_out, C_in/groups, kh, kw)``.

    Example:
        >>> layer = Conv2d(3, 8, 3, stride=2, padding="same")
        >>> layer(torch.randn(2, 3, 15, 15)).shape
        torch.Size([2, 8, 8, 8])
        >>> layer.num_parameters == 3 * 3 * 3 * 8 + 8
        True
    """

    ndim = 2


class Conv3d(ConvNd):
    """3-d convolution, a drop-in for ``torch.nn.Conv3d`` with every padding rule (e.g.
    ``("causal", "same", "same")`` for video), true convolution and a choice of algorithm.

    Shapes:
        ``(N, C_in, D, H, W)`` -> ``(N, C_out, D_out, H_out, W_out)``; weight
        ``(C_out, C_in/groups, kd, kh, kw)``.

    Example:
        >>> layer = Conv3d(3, 8, 3, padding=("causal", "same", "same"))
        >>> layer(torch.randn(1, 3, 10, 16, 16)).shape
        torch.Size([1, 8, 10, 16, 16])
    """

    ndim = 3


CONV_BY_NDIM: dict[int, type[ConvNd]] = {1: Conv1d, 2: Conv2d, 3: Conv3d}


class DepthwiseConv(ConvNd):
    """Depthwise convolution: each channel filtered by its own ``multiplier`` kernels.

    ``groups = channels``; the number of spatial axes is ``ndim`` (default: the length of
    a tuple ``kernel_size``, else 2).

    Shapes:
        ``(N, channels, *spatial)`` -> ``(N, channels * multiplier, *out_spatial)``;
        weight ``(channels * multiplier, 1, *kernel)``.

    Example:
        >>> layer = DepthwiseConv(16, 3, padding="same")
        >>> layer(torch.randn(2, 16, 8, 8)).shape
        torch.Size([2, 16, 8, 8])
        >>> layer.num_parameters == 16 * 9 + 16
        True
    """

    def __init__(
        self,
        channels: int,
        kernel_size: int | Sequence[int],
        *,
        ndim: int | None = None,
        multiplier: int = 1,
        stride: Any = 1,
        padding: Any = "same",
        dilation: Any = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        **kwargs: Any,
    ) -> None:
        func = type(self).__name__
        out = positive_int(channels, "channels", func) * positive_int(
            multiplier, "multiplier", func
        )
        super().__init__(
            channels,
            out,
            kernel_size,
            stride,
            padding,
            dilation,
            channels,
            bias,
            padding_mode,
            ndim=ndim,
            **kwargs,
        )


class PointwiseConv(ConvNd):
    """Pointwise (1x1) convolution: a per-position linear map across channels.

    Shapes:
        ``(N, in_channels, *spatial)`` -> ``(N, out_channels, *spatial)``.

    Example:
        >>> layer = PointwiseConv(16, 32, ndim=1)
        >>> layer(torch.randn(2, 16, 50)).shape
        torch.Size([2, 32, 50])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        ndim: int = 2,
        groups: int = 1,
        bias: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            in_channels, out_channels, 1, groups=groups, bias=bias, ndim=ndim, **kwargs
        )


class DepthwiseSeparableConv(Module):
    """Depthwise then pointwise convolution (the MobileNet block, Howard et al. 2017).

    With the defaults it is exactly ``pointwise(depthwise(x))``; ``norm=True`` adds batch
    normalisation after each convolution and ``activation`` (e.g. ``torch.nn.ReLU``) after
    each of those, as in MobileNet.

    Shapes:
        ``(N, in_channels, *spatial)`` -> ``(N, out_channels, *out_spatial)``.

    Example:
        >>> block = DepthwiseSeparableConv(16, 32, 3, stride=2, padding="same")
        >>> block(torch.randn(2, 16, 8, 8)).shape
        torch.Size([2, 32, 4, 4])
        >>> block.num_parameters == (16 * 9 + 16) + (16 * 32 + 32)
        True
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        *,
        ndim: int | None = None,
        multiplier: int = 1,
        stride: Any = 1,
        padding: Any = "same",
        dilation: Any = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        norm: bool = False,
        activation: type[torch.nn.Module] | None = None,
        algorithm: str = "auto",
    ) -> None:
        super().__init__()
        ndim = spatial_ndim(kernel_size, ndim, type(self).__name__)
        self.depthwise = DepthwiseConv(
            in_channels,
            kernel_size,
            ndim=ndim,
            multiplier=multiplier,
            stride=stride,
            padding=padding,
            dilation=dilation,
            bias=bias and not norm,
            padding_mode=padding_mode,
            algorithm=algorithm,
        )
        self.pointwise = PointwiseConv(
            in_channels * multiplier,
            out_channels,
            ndim=ndim,
            bias=bias and not norm,
            algorithm=algorithm,
        )
        batch_norm = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)[ndim - 1]
        self.norm1 = batch_norm(in_channels * multiplier) if norm else torch.nn.Identity()
        self.norm2 = batch_norm(out_channels) if norm else torch.nn.Identity()
        self.act1 = activation() if activation else torch.nn.Identity()
        self.act2 = activation() if activation else torch.nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ndim, channels = len(self.depthwise.kernel_size), self.depthwise.in_channels
        check_input(x, type(self).__name__, spatial=ndim, unbatched=True, channels=channels)
        # as a batch of one, so that the batch norms (norm=True) take an unbatched sample too
        return with_batch(x, ndim, self._blocks)

    def _blocks(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act1(self.norm1(self.depthwise(x)))
        return self.act2(self.norm2(self.pointwise(x)))


_TORCH_CONVS = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)
_TORCH_TRANSPOSED = (torch.nn.ConvTranspose1d, torch.nn.ConvTranspose2d, torch.nn.ConvTranspose3d)


def from_torch(layer: torch.nn.Module) -> ConvLayer:
    """The anyconv layer equal to a ``torch.nn.Conv{1,2,3}d`` or
    ``torch.nn.ConvTranspose{1,2,3}d``, sharing its parameters.

    Example:
        >>> t = torch.nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect")
        >>> a = from_torch(t)
        >>> x = torch.randn(1, 3, 8, 8)
        >>> torch.equal(a(x), t(x))
        True
        >>> type(from_torch(torch.nn.ConvTranspose2d(4, 3, 4, stride=2))).__name__
        'ConvTranspose2d'
    """
    from anyconv.nn.transposed import CONV_TRANSPOSE_BY_NDIM

    if not isinstance(layer, _TORCH_CONVS + _TORCH_TRANSPOSED):
        raise fail(
            "from_torch",
            "layer",
            "a torch.nn.Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d or "
            "ConvTranspose3d",
            type(layer).__name__,
            TypeError,
        )
    ndim = layer.weight.dim() - 2
    padding = layer.padding if isinstance(layer.padding, str) else tuple(layer.padding)
    kw = {"device": layer.weight.device, "dtype": layer.weight.dtype}
    if isinstance(layer, _TORCH_TRANSPOSED):
        new: ConvLayer = CONV_TRANSPOSE_BY_NDIM[ndim](
            layer.in_channels,
            layer.out_channels,
            layer.kernel_size,
            layer.stride,
            padding,
            tuple(layer.output_padding),
            layer.groups,
            layer.bias is not None,
            layer.dilation,
            layer.padding_mode,
            **kw,
        )
    else:
        new = CONV_BY_NDIM[ndim](
            layer.in_channels,
            layer.out_channels,
            layer.kernel_size,
            layer.stride,
            padding,
            layer.dilation,
            layer.groups,
            layer.bias is not None,
            layer.padding_mode,
            **kw,
        )
    # The same Parameter objects: an optimiser built before the conversion still sees them.
    new.weight, new.bias = layer.weight, layer.bias
    new.train(layer.training)
    return new


def convert(model: torch.nn.Module) -> torch.nn.Module:
    """Swap every ``torch.nn.Conv{1,2,3}d`` and ``torch.nn.ConvTranspose{1,2,3}d`` in
    ``model`` for the anyconv layer, in place.

    Outputs are identical (the same parameters, the same arithmetic); afterwards a layer's
    ``algorithm``, ``flip`` or padding rule can be changed.

    Returns:
        ``model`` itself, or the converted layer when ``model`` is a bare conv.

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(),
        ...                           torch.nn.ConvTranspose2d(4, 1, 3))
        >>> x = torch.randn(2, 1, 8, 8)
        >>> before = net(x)
        >>> net = convert(net)
        >>> type(net[0]).__name__, type(net[2]).__name__, torch.equal(net(x), before)
        ('Conv2d', 'ConvTranspose2d', True)
    """
    if isinstance(model, _TORCH_CONVS + _TORCH_TRANSPOSED):
        return from_torch(model)
    for name, child in model.named_children():
        setattr(model, name, convert(child))
    return model
