"""Transposed convolution layers: ``ConvTranspose1d/2d/3d`` on one N-d base, drop-ins for
``torch.nn``'s with every padding rule."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from anyconv._checks import fail
from anyconv.functional.transposed import conv_transpose
from anyconv.nn.base import ConvLayer
from anyconv.padding import (
    ConvSpec,
    check_transposed_border,
    document_rules,
    transposed_arguments,
    transposed_spec,
)


@document_rules
class ConvTransposeNd(ConvLayer):
    """N-d transposed convolution layer: holds ``weight`` and ``bias``, calls
    :func:`anyconv.conv_transpose` (the adjoint of the convolution with the same arguments).

    Constructor, parameter names, shapes and initialisation are PyTorch's, so a
    ``torch.nn.ConvTranspose{d}d`` state dict loads unchanged, and ``forward`` takes
    ``output_size`` as PyTorch's does. ``padding`` takes everything :func:`anyconv.conv`
    takes (the rules {padding_rules}, ints, per-axis tuples with ``(lo, hi)`` pairs): it is
    the padding of the convolution whose adjoint the layer is, so ``"same"`` gives an output
    ``stride`` times the input (as Keras's ``Conv2DTranspose``); ``flip`` and ``algorithm``
    are passed through. Borders other than zeros are refused, as in PyTorch.

    Shapes:
        input ``(N, in_channels, *spatial)`` or unbatched ``(in_channels, *spatial)`` ->
        output ``(N, out_channels, *out_spatial)`` (unbatched likewise), with
        ``out_spatial`` from :func:`anyconv.transposed_output_shape`; ``weight``:
        ``(in_channels, out_channels/groups, *kernel_size)``; ``bias``: ``(out_channels,)``.

    Example:
        >>> layer = ConvTransposeNd(8, 3, 4, stride=2, padding=1)
        >>> layer(torch.randn(2, 8, 14, 14)).shape
        torch.Size([2, 3, 28, 28])
        >>> ConvTransposeNd(8, 3, 3, stride=2, padding="same")(torch.randn(2, 8, 7, 7)).shape
        torch.Size([2, 3, 14, 14])
    """

    transposed = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: Any = 0,
        output_padding: int | Sequence[int] = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: int | Sequence[int] = 1,
        padding_mode: str = "zeros",
        *,
        ndim: int | None = None,
        flip: bool = False,
        algorithm: str = "auto",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        func = type(self).__name__
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
        check_transposed_border(padding_mode, func)
        *_, self.output_padding = transposed_arguments(
            len(self.kernel_size),
            self.kernel_size,
            self.stride,
            padding,
            output_padding,
            self.dilation,
            func,
        )
        kw = {"device": device, "dtype": dtype}
        shape = (in_channels, out_channels // groups, *self.kernel_size)
        self.weight = torch.nn.Parameter(torch.empty(shape, **kw))
        self._create_parameters(bias, weight_axes=None, device=device, dtype=dtype)

    @property
    def fan_in(self) -> int:
        """PyTorch's fan-in of the transposed weight ``(in, out/groups, *kernel)``:
        ``out_channels / groups * prod(kernel_size)``, which its initialisation uses."""
        return self.out_channels // self.groups * math.prod(self.kernel_size)

    def spec(self, input_size: Sequence[int], output_size: Any = None) -> ConvSpec:
        """The convolution whose adjoint the layer computes for an input of spatial size
        ``input_size`` (:func:`anyconv.padding.transposed_spec`): its ``in_shape`` is the
        layer's output size."""
        return transposed_spec(
            (1, self.in_channels, *input_size),
            tuple(self.weight.shape),
            stride=self.stride,
            padding=self.padding,
            output_padding=0 if output_size is not None else self.output_padding,
            output_size=output_size,
            dilation=self.dilation,
            groups=self.groups,
            func=type(self).__name__,
        )

    def forward(self, x: torch.Tensor, output_size: Sequence[int] | None = None) -> torch.Tensor:
        """``output_size`` (spatial, or with the batch and channel axes) picks one of the
        sizes that map back, in place of ``output_padding``, as in PyTorch."""
        ndim = len(self.kernel_size)
        if isinstance(x, torch.Tensor) and x.dim() not in (ndim + 1, ndim + 2):
            raise fail(
                type(self).__name__,
                "input",
                f"a tensor of shape (N, {self.in_channels}, *spatial) or unbatched "
                f"({self.in_channels}, *spatial) with {ndim} spatial "
                f"ax{'is' if ndim == 1 else 'es'}",
                x,
            )
        return conv_transpose(
            x,
            self.weight,
            self.bias,
            stride=self.stride,
            padding=self.padding,
            output_padding=0 if output_size is not None else self.output_padding,
            output_size=output_size,
            dilation=self.dilation,
            groups=self.groups,
            flip=self.flip,
            algorithm=self.algorithm,
        )

    def extra_repr(self) -> str:
        text = super().extra_repr()
        if any(self.output_padding):
            text += f", output_padding={self.output_padding}"
        return text


class ConvTranspose1d(ConvTransposeNd):
    """1-d transposed convolution, a drop-in for ``torch.nn.ConvTranspose1d`` (its state dict
    loads unchanged) with every padding rule, ``flip`` and a choice of ``algorithm``.

    Shapes:
        ``(N, C_in, L)`` -> ``(N, C_out, L_out)``; weight ``(C_in, C_out/groups, k)``.

    Example:
        >>> layer = ConvTranspose1d(4, 2, 3, stride=2, padding="same")
        >>> layer(torch.randn(1, 4, 50)).shape
        torch.Size([1, 2, 100])
    """

    ndim = 1


class ConvTranspose2d(ConvTransposeNd):
    """2-d transposed convolution, a drop-in for ``torch.nn.ConvTranspose2d`` (its state dict
    loads unchanged) with every padding rule, ``flip`` and a choice of ``algorithm``.

    Shapes:
        ``(N, C_in, H, W)`` -> ``(N, C_out, H_out, W_out)``; weight
        ``(C_in, C_out/groups, kh, kw)``.

    Example:
        >>> layer = ConvTranspose2d(16, 8, 4, stride=2, padding=1)
        >>> layer(torch.randn(2, 16, 7, 7)).shape
        torch.Size([2, 8, 14, 14])
        >>> layer(torch.randn(2, 16, 7, 7), output_size=(15, 15)).shape
        torch.Size([2, 8, 15, 15])
        >>> layer.num_parameters == 16 * 8 * 4 * 4 + 8
        True
    """

    ndim = 2


class ConvTranspose3d(ConvTransposeNd):
    """3-d transposed convolution, a drop-in for ``torch.nn.ConvTranspose3d`` with every
    padding rule (e.g. ``("causal", "same", "same")``), ``flip`` and a choice of algorithm.

    Shapes:
        ``(N, C_in, D, H, W)`` -> ``(N, C_out, D_out, H_out, W_out)``; weight
        ``(C_in, C_out/groups, kd, kh, kw)``.

    Example:
        >>> layer = ConvTranspose3d(4, 2, 3, stride=(1, 2, 2), padding=("causal", "same", "same"))
        >>> layer(torch.randn(1, 4, 5, 8, 8)).shape
        torch.Size([1, 2, 5, 16, 16])
    """

    ndim = 3


CONV_TRANSPOSE_BY_NDIM: dict[int, type[ConvTransposeNd]] = {
    1: ConvTranspose1d,
    2: ConvTranspose2d,
    3: ConvTranspose3d,
}
