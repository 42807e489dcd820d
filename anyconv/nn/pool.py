"""Pooling layers: thin modules over :mod:`anyconv.functional.pool`, one N-d base per kind."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch

from anyconv._checks import check_bool, check_input, check_real, positive_int
from anyconv.functional.formats import with_batch
from anyconv.functional.pool import (
    IntOrTuple,
    avg_pool,
    channel_max_pool,
    global_avg_pool,
    global_max_pool,
    lp_pool,
    max_pool,
    soft_pool,
)
from anyconv.nn.base import Module, WindowLayer
from anyconv.padding import ConvSpec, window_arguments, window_spec


class _PoolNd(WindowLayer):
    """Shared arguments of the sliding-window pools; subclasses fix ``ndim`` and the maths.

    Arguments are validated when the layer is built, so a bad layer fails at construction
    rather than at the first forward pass. The input is ``(N, C, *spatial)`` or, as
    ``torch.nn`` takes it, unbatched ``(C, *spatial)``; a subclass writes ``_pool`` for the
    batched case.
    """

    ndim: ClassVar[int]

    def __init__(
        self,
        kernel_size: IntOrTuple,
        stride: IntOrTuple | None = None,
        padding: Any = 0,
        dilation: IntOrTuple = 1,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        stride = kernel_size if stride is None else stride
        self.kernel_size, self.stride, self.dilation, _ = window_arguments(
            self.ndim, kernel_size, stride, padding, dilation, name
        )
        self.padding = padding
        self.ceil_mode = check_bool(ceil_mode, "ceil_mode", name)

    def spec(self, input_size: Sequence[int]) -> ConvSpec:
        """The window's resolved geometry (:func:`anyconv.padding.window_spec`) for an
        input of spatial size ``input_size``.

        Example:
            >>> MaxPool2d(2, ceil_mode=True).spec((5, 4)).out_shape
            (3, 2)
        """
        return window_spec(
            input_size,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
            func=type(self).__name__,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, type(self).__name__, spatial=self.ndim, unbatched=True)
        return with_batch(x, self.ndim, self._pool)

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def extra_repr(self) -> str:
        text = f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding!r}"
        if any(d != 1 for d in self.dilation):
            text += f", dilation={self.dilation}"
        return text + f", ceil_mode={self.ceil_mode}"


class _MaxPoolNd(_PoolNd):
    def __init__(
        self,
        kernel_size: IntOrTuple,
        stride: IntOrTuple | None = None,
        padding: Any = 0,
        dilation: IntOrTuple = 1,
        *,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__(kernel_size, stride, padding, dilation, ceil_mode)

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return max_pool(
            x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode
        )


class MaxPool1d(_MaxPoolNd):
    """Max pooling over 1 spatial axis with every padding rule (padding is ``-inf``).

    Args: ``kernel_size``, ``stride`` (default ``kernel_size``), ``padding`` (any rule of
    :mod:`anyconv.padding`), ``dilation``, keyword ``ceil_mode``; see
    :func:`anyconv.functional.pool.max_pool`.

    Shape: ``(N, C, L)`` -> ``(N, C, L_out)``; unbatched ``(C, L)`` -> ``(C, L_out)``.

    Example:
        >>> MaxPool1d(3, stride=1, padding="causal")(torch.tensor([[[1.0, 3.0, 2.0, 0.0]]]))
        tensor([[[1., 3., 3., 3.]]])
    """

    ndim = 1


class MaxPool2d(_MaxPoolNd):
    """Max pooling over 2 spatial axes with every padding rule (padding is ``-inf``).

    Args: as :class:`MaxPool1d`.

    Shape: ``(N, C, H, W)`` -> ``(N, C, H_out, W_out)``; unbatched ``(C, H, W)`` too.

    Example:
        >>> MaxPool2d(3, stride=2, padding="same")(torch.randn(1, 4, 9, 9)).shape
        torch.Size([1, 4, 5, 5])
    """

    ndim = 2


class MaxPool3d(_MaxPoolNd):
    """Max pooling over 3 spatial axes with every padding rule (padding is ``-inf``).

    Args: as :class:`MaxPool1d`.

    Shape: ``(N, C, D, H, W)`` -> ``(N, C, D_out, H_out, W_out)``; unbatched
    ``(C, D, H, W)`` too.

    Example:
        >>> MaxPool3d((1, 2, 2), ceil_mode=True)(torch.randn(1, 2, 4, 5, 5)).shape
        torch.Size([1, 2, 4, 3, 3])
    """

    ndim = 3


class _AvgPoolNd(_PoolNd):
    def __init__(
        self,
        kernel_size: IntOrTuple,
        stride: IntOrTuple | None = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        *,
        dilation: IntOrTuple = 1,
    ) -> None:
        super().__init__(kernel_size, stride, padding, dilation, ceil_mode)
        self.count_include_pad = check_bool(
            count_include_pad, "count_include_pad", type(self).__name__
        )

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return avg_pool(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            dilation=self.dilation,
        )

    def extra_repr(self) -> str:
        return super().extra_repr() + f", count_include_pad={self.count_include_pad}"


class AvgPool1d(_AvgPoolNd):
    """Average pooling over 1 spatial axis with every padding rule (padding is zeros).

    Args: ``kernel_size``, ``stride`` (default ``kernel_size``), ``padding``, ``ceil_mode``,
    ``count_include_pad`` (divide by the whole window or only by real elements), keyword
    ``dilation``; see :func:`anyconv.functional.pool.avg_pool`.

    Shape: ``(N, C, L)`` -> ``(N, C, L_out)``; unbatched ``(C, L)`` -> ``(C, L_out)``.

    Example:
        >>> AvgPool1d(2, padding=((1, 0),), count_include_pad=False)(torch.ones(1, 1, 3))
        tensor([[[1., 1.]]])
    """

    ndim = 1


class AvgPool2d(_AvgPoolNd):
    """Average pooling over 2 spatial axes with every padding rule (padding is zeros).

    Args: as :class:`AvgPool1d`.

    Shape: ``(N, C, H, W)`` -> ``(N, C, H_out, W_out)``; unbatched ``(C, H, W)`` too.

    Example:
        >>> AvgPool2d(2)(torch.arange(16.0).view(1, 1, 4, 4))
        tensor([[[[ 2.5000,  4.5000],
                  [10.5000, 12.5000]]]])
    """

    ndim = 2


class AvgPool3d(_AvgPoolNd):
    """Average pooling over 3 spatial axes with every padding rule (padding is zeros).

    Args: as :class:`AvgPool1d`.

    Shape: ``(N, C, D, H, W)`` -> ``(N, C, D_out, H_out, W_out)``; unbatched
    ``(C, D, H, W)`` too.

    Example:
        >>> AvgPool3d(2, padding=("causal", 0, 0))(torch.randn(2, 3, 4, 4, 4)).shape
        torch.Size([2, 3, 2, 2, 2])
    """

    ndim = 3


class _LPPoolNd(_PoolNd):
    def __init__(
        self,
        norm_type: float,
        kernel_size: IntOrTuple,
        stride: IntOrTuple | None = None,
        padding: Any = 0,
        *,
        ceil_mode: bool = False,
        dilation: IntOrTuple = 1,
    ) -> None:
        super().__init__(kernel_size, stride, padding, dilation, ceil_mode)
        self.norm_type = check_real(norm_type, "norm_type", type(self).__name__, above=0)

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return lp_pool(
            x,
            self.norm_type,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            dilation=self.dilation,
        )

    def extra_repr(self) -> str:
        return f"norm_type={self.norm_type}, " + super().extra_repr()


class LPPool1d(_LPPoolNd):
    """Power-average pooling ``(sum_window |x|^p)^(1/p)`` over 1 spatial axis.

    Args: ``norm_type`` (``p > 0``), ``kernel_size``, ``stride`` (default ``kernel_size``),
    ``padding``, keywords ``ceil_mode`` and ``dilation``; see
    :func:`anyconv.functional.pool.lp_pool`.

    Shape: ``(N, C, L)`` -> ``(N, C, L_out)``; unbatched ``(C, L)`` -> ``(C, L_out)``.

    Example:
        >>> LPPool1d(2, 2)(torch.tensor([[[3.0, 4.0, 6.0, 8.0]]]))
        tensor([[[ 5., 10.]]])
    """

    ndim = 1


class LPPool2d(_LPPoolNd):
    """Power-average pooling ``(sum_window |x|^p)^(1/p)`` over 2 spatial axes.

    Args: as :class:`LPPool1d`.

    Shape: ``(N, C, H, W)`` -> ``(N, C, H_out, W_out)``; unbatched ``(C, H, W)`` too.

    Example:
        >>> LPPool2d(3, 2, padding="same")(torch.randn(1, 2, 5, 5)).shape
        torch.Size([1, 2, 3, 3])
    """

    ndim = 2


class LPPool3d(_LPPoolNd):
    """Power-average pooling ``(sum_window |x|^p)^(1/p)`` over 3 spatial axes.

    Args: as :class:`LPPool1d`.

    Shape: ``(N, C, D, H, W)`` -> ``(N, C, D_out, H_out, W_out)``; unbatched
    ``(C, D, H, W)`` too.

    Example:
        >>> LPPool3d(2, 2)(torch.randn(1, 2, 4, 4, 4)).shape
        torch.Size([1, 2, 2, 2, 2])
    """

    ndim = 3


class _SoftPoolNd(_PoolNd):
    def __init__(
        self,
        kernel_size: IntOrTuple,
        stride: IntOrTuple | None = None,
        padding: Any = 0,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__(kernel_size, stride, padding, 1, ceil_mode)

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return soft_pool(x, self.kernel_size, self.stride, self.padding, self.ceil_mode)


class SoftPool1d(_SoftPoolNd):
    """SoftPool (Stergiou et al. 2021) over 1 spatial axis: ``sum_window softmax(x) * x``.

    Numerically stable for inputs of any size; padding and ceil-mode overhang weigh zero.

    Args: ``kernel_size``, ``stride`` (default ``kernel_size``), ``padding``,
    ``ceil_mode``; see :func:`anyconv.functional.pool.soft_pool`.

    Shape: ``(N, C, L)`` -> ``(N, C, L_out)``; unbatched ``(C, L)`` -> ``(C, L_out)``.

    Example:
        >>> SoftPool1d(2)(torch.tensor([[[0.0, 0.0, 1000.0, -1000.0]]]))
        tensor([[[   0., 1000.]]])
    """

    ndim = 1


class SoftPool2d(_SoftPoolNd):
    """SoftPool (Stergiou et al. 2021) over 2 spatial axes: ``sum_window softmax(x) * x``.

    Args: as :class:`SoftPool1d`.

    Shape: ``(N, C, H, W)`` -> ``(N, C, H_out, W_out)``; unbatched ``(C, H, W)`` too.

    Example:
        >>> SoftPool2d(2, ceil_mode=True)(torch.randn(8, 16, 15, 15)).shape
        torch.Size([8, 16, 8, 8])
    """

    ndim = 2


class SoftPool3d(_SoftPoolNd):
    """SoftPool (Stergiou et al. 2021) over 3 spatial axes: ``sum_window softmax(x) * x``.

    Args: as :class:`SoftPool1d`.

    Shape: ``(N, C, D, H, W)`` -> ``(N, C, D_out, H_out, W_out)``; unbatched
    ``(C, D, H, W)`` too.

    Example:
        >>> SoftPool3d((1, 2, 2))(torch.randn(2, 3, 4, 8, 8)).shape
        torch.Size([2, 3, 4, 4, 4])
    """

    ndim = 3


class _GlobalPool(Module):
    """Global pooling works for any number of spatial axes, so it reads that number from
    the input's rank and takes batched input only: pool an unbatched ``(C, *spatial)``
    sample as ``x[None]``."""

    def __init__(self, keepdim: bool = False) -> None:
        super().__init__()
        self.keepdim = check_bool(keepdim, "keepdim", type(self).__name__)

    def extra_repr(self) -> str:
        return f"keepdim={self.keepdim}"


class GlobalAvgPool(_GlobalPool):
    """Mean over every spatial axis, for any number of them.

    Args:
        keepdim: keep the spatial axes with size 1 instead of flattening to ``(N, C)``.

    Shape: ``(N, C, *spatial)`` -> ``(N, C)`` or ``(N, C, 1, ..., 1)``.

    Example:
        >>> GlobalAvgPool()(torch.ones(2, 8, 5, 5, 5)).shape
        torch.Size([2, 8])
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return global_avg_pool(x, self.keepdim)


class GlobalMaxPool(_GlobalPool):
    """Maximum over every spatial axis, for any number of them.

    Args:
        keepdim: keep the spatial axes with size 1 instead of flattening to ``(N, C)``.

    Shape: ``(N, C, *spatial)`` -> ``(N, C)`` or ``(N, C, 1, ..., 1)``.

    Example:
        >>> GlobalMaxPool(keepdim=True)(torch.ones(2, 8, 7)).shape
        torch.Size([2, 8, 1])
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return global_max_pool(x, self.keepdim)


class ChannelMaxPool(Module):
    """Maxout (Goodfellow et al. 2013): max over groups of ``pool_size`` consecutive channels.

    Put it after a layer with ``pool_size * k`` output channels to pool across separately
    parametrised filters. Any number of spatial axes, so the input is batched (``x[None]``
    for one unbatched sample).

    Args:
        pool_size: channels per group; must divide the input's channel count.

    Shape: ``(N, C, *spatial)`` -> ``(N, C // pool_size, *spatial)``.

    Example:
        >>> ChannelMaxPool(4)(torch.randn(2, 12, 5, 5)).shape
        torch.Size([2, 3, 5, 5])
    """

    def __init__(self, pool_size: int) -> None:
        super().__init__()
        self.pool_size = positive_int(pool_size, "pool_size", "ChannelMaxPool")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return channel_max_pool(x, self.pool_size)

    def extra_repr(self) -> str:
        return f"pool_size={self.pool_size}"
