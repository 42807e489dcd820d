"""Anti-aliased pooling layers (Zhang, ICML 2019): ``BlurPool1d/2d/3d`` and
``MaxBlurPool`` over :mod:`anyconv.functional.antialias`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch

from anyconv._checks import choice, fail, int_tuple
from anyconv.functional.antialias import binomial_kernel, blur_pool
from anyconv.nn.base import Module, WindowLayer
from anyconv.nn.pool import MaxPool1d, MaxPool2d, MaxPool3d
from anyconv.padding import PADDING_MODES, ConvSpec, padding_entries, window_spec

IntOrTuple = int | Sequence[int]


class _BlurPoolNd(WindowLayer):
    """Binomial blur, then subsampling: see :func:`anyconv.functional.blur_pool`.

    ``kernel_size`` (the filter's taps), ``stride``, ``padding`` and ``dilation`` are
    attributes like a pooling layer's, so the receptive field and the geometry read them
    the same way. The filter holds no parameters.
    """

    ndim: ClassVar[int]

    def __init__(
        self,
        filter_size: IntOrTuple = 3,
        stride: IntOrTuple = 2,
        padding: Any = "same",
        padding_mode: str = "reflect",
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.kernel_size = int_tuple(filter_size, self.ndim, "filter_size", name, minimum=1)
        self.stride = int_tuple(stride, self.ndim, "stride", name, minimum=1)
        padding_entries(padding, self.ndim, name)
        self.padding = padding
        self.padding_mode = choice(padding_mode, PADDING_MODES, "padding_mode", name)
        self.dilation = (1,) * self.ndim

    def spec(self, input_size: Sequence[int]) -> ConvSpec:
        """The blur's resolved geometry (:func:`anyconv.padding.window_spec`) for an
        input of spatial size ``input_size``.

        Example:
            >>> BlurPool1d().spec((7,)).padding, BlurPool1d().spec((7,)).out_shape
            (((1, 1),), (4,))
        """
        return window_spec(
            input_size, self.kernel_size, self.stride, self.padding, func=type(self).__name__
        )

    @property
    def filter(self) -> torch.Tensor:
        """The normalised binomial filter ``(*kernel_size)``."""
        return binomial_kernel(self.kernel_size, self.ndim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if isinstance(x, torch.Tensor) and x.dim() != self.ndim + 2:
            raise fail(
                type(self).__name__,
                "input",
                f"a tensor of shape (N, C, *spatial) with {self.ndim} spatial axes "
                f"({self.ndim + 2} dims)",
                x,
            )
        return blur_pool(x, self.kernel_size, self.stride, self.padding, self.padding_mode)

    def extra_repr(self) -> str:
        return (
            f"filter_size={self.kernel_size}, stride={self.stride}, padding={self.padding!r}, "
            f"padding_mode={self.padding_mode!r}"
        )


class BlurPool1d(_BlurPoolNd):
    """Anti-aliased subsampling over 1 spatial axis: binomial blur, then stride.

    Args: ``filter_size`` (binomial taps, default 3: ``[1, 2, 1]/4``), ``stride``
    (default 2), ``padding`` (any rule of :mod:`anyconv.padding`, default ``"same"``),
    ``padding_mode`` (default ``"reflect"``). Any channel count; no parameters.

    Shape: ``(N, C, L)`` -> ``(N, C, L_out)``, ``L_out = ceil(L / stride)`` with
    ``"same"``.

    Example:
        >>> BlurPool1d()(torch.randn(2, 3, 9)).shape
        torch.Size([2, 3, 5])
    """

    ndim = 1


class BlurPool2d(_BlurPoolNd):
    """Anti-aliased subsampling over 2 spatial axes: binomial blur, then stride.

    Args: as :class:`BlurPool1d`.

    Shape: ``(N, C, H, W)`` -> ``(N, C, H_out, W_out)``.

    Example:
        >>> BlurPool2d(filter_size=4)(torch.randn(2, 3, 8, 8)).shape
        torch.Size([2, 3, 4, 4])
    """

    ndim = 2


class BlurPool3d(_BlurPoolNd):
    """Anti-aliased subsampling over 3 spatial axes: binomial blur, then stride.

    Args: as :class:`BlurPool1d`.

    Shape: ``(N, C, D, H, W)`` -> ``(N, C, D_out, H_out, W_out)``.

    Example:
        >>> BlurPool3d(stride=(1, 2, 2), padding=("causal", "same", "same"))(
        ...     torch.randn(1, 2, 4, 8, 8)).shape
        torch.Size([1, 2, 4, 4, 4])
    """

    ndim = 3


_BLUR = {1: BlurPool1d, 2: BlurPool2d, 3: BlurPool3d}
_MAX = {1: MaxPool1d, 2: MaxPool2d, 3: MaxPool3d}


class MaxBlurPool(Module):
    """Anti-aliased max pooling (Zhang 2019): max over ``kernel_size`` windows with stride
    1 (which keeps every shift's maximum), then :class:`BlurPool2d`-style blur and
    subsampling by ``stride``.

    With the default ``padding=0`` it is a drop-in for ``MaxPool(kernel_size, stride)``:
    the output size ``ceil((n - k + 1) / s)`` equals max pooling's ``(n - k) // s + 1``.

    Args:
        kernel_size: the max window (default 2).
        stride: the subsampling factor (default 2).
        padding: the max stage's padding, any rule of :mod:`anyconv.padding` (the blur
            pads ``"same"``).
        filter_size: binomial taps of the blur (default 3).
        padding_mode: the blur's border (default ``"reflect"``).
        ndim: spatial axes, 1 to 3 (fixed by ``MaxBlurPool1d/2d/3d``).

    Shape: ``(N, C, *spatial)`` -> ``(N, C, *out_spatial)``.

    Example:
        >>> MaxBlurPool(2)(torch.randn(1, 4, 28, 28)).shape
        torch.Size([1, 4, 14, 14])
        >>> MaxBlurPool(3, ndim=1)(torch.randn(1, 4, 9)).shape
        torch.Size([1, 4, 4])
    """

    def __init__(
        self,
        kernel_size: IntOrTuple = 2,
        stride: IntOrTuple = 2,
        padding: Any = 0,
        *,
        filter_size: IntOrTuple = 3,
        padding_mode: str = "reflect",
        ndim: int | None = None,
    ) -> None:
        super().__init__()
        ndim = ndim or getattr(self, "fixed_ndim", 2)
        if ndim not in _BLUR:
            raise fail(type(self).__name__, "ndim", "1, 2 or 3 (spatial axes)", ndim)
        self.max = _MAX[ndim](kernel_size, 1, padding)
        self.blur = _BLUR[ndim](filter_size, stride, "same", padding_mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blur(self.max(x))


class MaxBlurPool1d(MaxBlurPool):
    """:class:`MaxBlurPool` over 1 spatial axis.

    Example:
        >>> MaxBlurPool1d(2)(torch.randn(1, 2, 10)).shape
        torch.Size([1, 2, 5])
    """

    fixed_ndim = 1


class MaxBlurPool2d(MaxBlurPool):
    """:class:`MaxBlurPool` over 2 spatial axes.

    Example:
        >>> MaxBlurPool2d(2, filter_size=4)(torch.randn(1, 2, 10, 10)).shape
        torch.Size([1, 2, 5, 5])
    """

    fixed_ndim = 2


class MaxBlurPool3d(MaxBlurPool):
    """:class:`MaxBlurPool` over 3 spatial axes.

    Example:
        >>> MaxBlurPool3d((1, 2, 2), stride=(1, 2, 2))(torch.randn(1, 2, 3, 8, 8)).shape
        torch.Size([1, 2, 3, 4, 4])
    """

    fixed_ndim = 3
