"""Spatially separable convolution layers: each kernel a sum of ``rank`` outer products."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from anyconv._checks import fail, positive_int
from anyconv.functional.separable import factorize, reconstruct, separable_conv
from anyconv.nn.base import ConvLayer


class _SeparableConvNd(ConvLayer):
    """N-d base of :class:`SeparableConv2d` and :class:`SeparableConv3d`."""

    _repr_fields = ("rank",)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        rank: int = 1,
        stride: int | Sequence[int] = 1,
        padding: Any = "valid",
        dilation: int | Sequence[int] = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        *,
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
            bias=bias,
            padding_mode=padding_mode,
        )
        self.rank = positive_int(rank, "rank", type(self).__name__)
        kw = {"device": device, "dtype": dtype}
        self.factors = torch.nn.ParameterList(
            torch.nn.Parameter(torch.empty(out_channels, in_channels, rank, k, **kw))
            for k in self.kernel_size
        )
        self._create_parameters(bias, weight_axes=None, **kw)

    def _reset_weight(self, fan_in: int) -> None:
        """Factors matched in variance to PyTorch's default conv initialisation.

        ``torch.nn.Conv`` draws the weight from ``U(−b, b)``, ``b = 1/√fan_in``, variance
        ``1/(3·fan_in)``. A sum of ``rank`` products of ``ndim`` independent ``U(−c, c)``
        factors has variance ``rank·(c²/3)^ndim``; ``c`` is chosen to make the two equal.
        """
        c = math.sqrt(3) * (3 * fan_in * self.rank) ** (-1 / (2 * self.ndim))
        for f in self.factors:
            torch.nn.init.uniform_(f, -c, c)

    @property
    def weight(self) -> torch.Tensor:
        """The equivalent full kernel ``(out, in, *kernel_size)`` (differentiable)."""
        return reconstruct(tuple(self.factors))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, in_channels, *spatial)`` -> ``(N, out_channels, *out_spatial)`` (unbatched
        ``(in_channels, *spatial)`` -> ``(out_channels, *out_spatial)``)."""
        self._check_input(x)
        return separable_conv(x, tuple(self.factors), self.bias, **self._geometry())

    @classmethod
    def from_conv(cls, conv: torch.nn.Module, rank: int) -> _SeparableConvNd:
        """The rank-``rank`` separable approximation of a convolution layer.

        The factors come from :func:`anyconv.functional.factorize` (truncated SVD in 2-D,
        CP in 3-D); at full rank (:func:`anyconv.functional.max_rank`) the outputs equal the
        original layer's. Stride, padding, dilation, padding mode and bias are copied.

        Args:
            conv: a ``torch.nn.Conv2d``/``Conv3d`` (for :class:`SeparableConv2d`/``3d``), or
                any module with ``weight``, ``bias``, ``stride``, ``padding``, ``dilation``
                and ``groups == 1``; a ``flip=True`` attribute (true convolution) is honoured.
            rank: the number of separable terms per kernel.

        Returns:
            a layer of this class on the weight's device and dtype.
        """
        func = f"{cls.__name__}.from_conv"
        weight = getattr(conv, "weight", None)
        if not isinstance(weight, torch.Tensor) or weight.dim() != cls.ndim + 2:
            raise fail(
                func,
                "conv",
                f"a {cls.ndim}-d convolution module with a weight "
                f"(out, in, *kernel) of {cls.ndim + 2} dims",
                type(conv).__name__,
                TypeError,
            )
        if getattr(conv, "groups", 1) != 1:
            raise fail(func, "conv", "a convolution with groups == 1", f"groups={conv.groups}")
        if getattr(conv, "flip", False):
            weight = weight.flip(tuple(range(2, weight.dim())))
        result = factorize(weight, rank)
        bias = getattr(conv, "bias", None)
        out_channels, in_channels, *kernel = weight.shape
        layer = cls(
            in_channels,
            out_channels,
            tuple(kernel),
            rank,
            stride=getattr(conv, "stride", 1),
            padding=getattr(conv, "padding", 0),
            dilation=getattr(conv, "dilation", 1),
            bias=bias is not None,
            padding_mode=getattr(conv, "padding_mode", "zeros"),
            device=weight.device,
            dtype=weight.dtype,
        )
        with torch.no_grad():
            for mine, theirs in zip(layer.factors, result.factors, strict=True):
                mine.copy_(theirs)
            if bias is not None:
                layer.bias.copy_(bias)
        return layer


class SeparableConv2d(_SeparableConvNd):
    """2-D convolution whose every kernel is a sum of ``rank`` outer products ``u ⊗ v``.

    Holds ``factors[0]`` ``(out, in, rank, kh)`` and ``factors[1]`` ``(out, in, rank, kw)``
    and runs them as two 1-D passes (:func:`anyconv.functional.separable_conv`);
    ``out·in·rank·(kh + kw) + out`` parameters instead of ``out·in·kh·kw + out``.

    Args:
        in_channels, out_channels: channel counts.
        kernel_size: ``k`` or ``(kh, kw)``.
        rank: separable terms per kernel (any positive int).
        stride, padding, dilation, padding_mode: as in :func:`anyconv.conv`.
        bias: add a learnable bias per output channel.

    Shape:
        ``(N, in_channels, H, W)`` -> ``(N, out_channels, H_out, W_out)``.

    Example:
        >>> layer = SeparableConv2d(3, 8, 5, rank=2, padding="same")
        >>> layer(torch.randn(1, 3, 32, 32)).shape
        torch.Size([1, 8, 32, 32])
        >>> layer.num_parameters  # 8·3·2·(5 + 5) + 8
        488
        >>> dense = torch.nn.Conv2d(3, 8, 5, padding=2)
        >>> exact = SeparableConv2d.from_conv(dense, rank=5)
        >>> x = torch.randn(1, 3, 16, 16)
        >>> torch.allclose(exact(x), dense(x), atol=1e-4)
        True
    """

    ndim = 2


class SeparableConv3d(_SeparableConvNd):
    """3-D convolution whose every kernel is a sum of ``rank`` outer products ``a ⊗ b ⊗ c``.

    Holds one factor ``(out, in, rank, k_a)`` per axis (depth, height, width), run as three
    1-D passes; ``out·in·rank·(kd + kh + kw) + out`` parameters. :meth:`from_conv` uses a
    CP decomposition (see :func:`anyconv.functional.factorize`).

    Args:
        in_channels, out_channels: channel counts.
        kernel_size: ``k`` or ``(kd, kh, kw)``.
        rank: separable terms per kernel (any positive int).
        stride, padding, dilation, padding_mode: as in :func:`anyconv.conv`, e.g.
            ``padding=("causal", "same", "same")`` for video.
        bias: add a learnable bias per output channel.

    Shape:
        ``(N, in_channels, D, H, W)`` -> ``(N, out_channels, D_out, H_out, W_out)``.

    Example:
        >>> layer = SeparableConv3d(2, 4, 3, rank=3, padding=("causal", "same", "same"))
        >>> layer(torch.randn(1, 2, 8, 16, 16)).shape
        torch.Size([1, 4, 8, 16, 16])
        >>> layer.num_parameters  # 4·2·3·(3 + 3 + 3) + 4
        220
    """

    ndim = 3
