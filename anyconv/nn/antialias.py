"""Anti-aliased pooling layers (Zhang, ICML 2019): ``BlurPool1d/2d/3d`` and
``MaxBlurPool`` over :mod:`anyconv.functional.antialias`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import torch

from anyconv._checks import check_bool, check_input, choice, int_tuple, positive_int
from anyconv.functional.antialias import binomial_kernel, blur_pool
from anyconv.functional.formats import with_batch
from anyconv.nn.base import Module, WindowLayer, spatial_ndim
from anyconv.nn.pool import MaxPool1d, MaxPool2d, MaxPool3d
from anyconv.padding import PADDING_MODES, ConvSpec, pad, padding_entries, window_spec

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
        channels: int | None = None,
        *,
        filter_size: IntOrTuple = 3,
        stride: IntOrTuple = 2,
        padding: Any = "same",
        padding_mode: str = "reflect",
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.channels = None if channels is None else positive_int(channels, "channels", name)
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
        name = type(self).__name__
        channels = "C" if self.channels is None else self.channels
        check_input(x, name, spatial=self.ndim, unbatched=True, channels=channels)
        given = x.shape[1 - (x.dim() == self.ndim + 1)]
        if self.channels is not None and given != self.channels:
            raise ValueError(
                f"{name}(): the layer was built for {self.channels} channels, but argument "
                f"'input' of shape {tuple(x.shape)} has {given}"
            )
        return with_batch(x, self.ndim, self._blur)

    def _blur(self, x: torch.Tensor) -> torch.Tensor:
        return blur_pool(x, self.kernel_size, self.stride, self.padding, self.padding_mode)

    def extra_repr(self) -> str:
        text = "" if self.channels is None else f"{self.channels}, "
        return text + (
            f"filter_size={self.kernel_size}, stride={self.stride}, padding={self.padding!r}, "
            f"padding_mode={self.padding_mode!r}"
        )


_BLURPOOL_DOC = """

    Differences from Zhang's ``antialiased_cnns.BlurPool(channels, pad_type='reflect',
    filt_size=4, stride=2)``: ``channels`` is optional (the filter is the same for every
    channel; given, the input is checked against it), the default ``filter_size`` is 3, not
    4, and every argument but ``channels`` is keyword-only, so ``BlurPool2d(64)`` means 64
    channels in both. The padding is a rule of :mod:`anyconv.padding`, by default
    ``"same"`` (``ceil(n / stride)`` outputs, as Zhang's); it pads ``((k - 1) // 2,
    k // 2)`` exactly as Zhang's except for an odd ``filter_size`` on an even input, where
    ``"same"`` puts the extra sample on the right. ``padding=((k - 1) // 2, k // 2)`` per
    axis reproduces Zhang's padding for every size.
"""


class BlurPool1d(_BlurPoolNd):
    """Anti-aliased subsampling over 1 spatial axis: binomial blur, then stride.

    Args: ``channels`` (optional: the input's channel count, checked), and keyword-only
    ``filter_size`` (binomial taps, default 3: ``[1, 2, 1]/4``), ``stride`` (default 2),
    ``padding`` (any rule of :mod:`anyconv.padding`, default ``"same"``), ``padding_mode``
    (default ``"reflect"``). No parameters.

    Shape: ``(N, C, L)`` or unbatched ``(C, L)`` -> ``(N, C, L_out)`` or ``(C, L_out)``,
    ``L_out = ceil(L / stride)`` with ``"same"``.

    Example:
        >>> BlurPool1d()(torch.randn(2, 3, 9)).shape
        torch.Size([2, 3, 5])
    """

    ndim = 1


class BlurPool2d(_BlurPoolNd):
    """Anti-aliased subsampling over 2 spatial axes: binomial blur, then stride.

    Args: as :class:`BlurPool1d`.

    Shape: ``(N, C, H, W)`` or unbatched ``(C, H, W)`` -> ``(N, C, H_out, W_out)`` or
    ``(C, H_out, W_out)``.

    Example:
        >>> BlurPool2d(filter_size=4)(torch.randn(2, 3, 8, 8)).shape
        torch.Size([2, 3, 4, 4])
        >>> BlurPool2d(64)  # channels first, as in Zhang's antialiased-cnns
        BlurPool2d(64, filter_size=(3, 3), stride=(2, 2), padding='same', padding_mode='reflect')
    """

    ndim = 2


class BlurPool3d(_BlurPoolNd):
    """Anti-aliased subsampling over 3 spatial axes: binomial blur, then stride.

    Args: as :class:`BlurPool1d`.

    Shape: ``(N, C, D, H, W)`` or unbatched ``(C, D, H, W)`` -> the same with ``_out``.

    Example:
        >>> BlurPool3d(stride=(1, 2, 2), padding=("causal", "same", "same"))(
        ...     torch.randn(1, 2, 4, 8, 8)).shape
        torch.Size([1, 2, 4, 4, 4])
    """

    ndim = 3


for _layer in (BlurPool1d, BlurPool2d, BlurPool3d):
    _layer.__doc__ = _layer.__doc__.replace("\n\n    Example:", _BLURPOOL_DOC + "\n    Example:", 1)

_BLUR = {1: BlurPool1d, 2: BlurPool2d, 3: BlurPool3d}
_MAX = {1: MaxPool1d, 2: MaxPool2d, 3: MaxPool3d}


class MaxBlurPool(Module):
    """Anti-aliased max pooling (Zhang 2019): max over ``kernel_size`` windows with stride
    1 (which keeps every shift's maximum), then :class:`BlurPool2d`-style blur and
    subsampling by ``stride``.

    A drop-in for ``MaxPool(kernel_size, stride, padding, ceil_mode=...)``: the output has
    max pooling's size, ``ceil((n + 2p - k + 1) / s)`` = ``(n + 2p - k) // s + 1``, and with
    ``ceil_mode=True`` its ceiling rule (the max stage then also takes the windows that run
    past the end, as max pooling's last window does).

    Args:
        kernel_size: the max window (default 2).
        stride: the subsampling factor (default 2).
        padding: the max stage's padding, any rule of :mod:`anyconv.padding` (the blur
            pads ``"same"``).
        ceil_mode: round the output size up, as ``MaxPool2d(..., ceil_mode=True)``.
        filter_size: binomial taps of the blur (default 3).
        padding_mode: the blur's border (default ``"reflect"``).
        ndim: spatial axes, 1 to 3 (fixed by ``MaxBlurPool1d/2d/3d``); by default the
            length of a tuple ``kernel_size``, else 2.

    Shape: ``(N, C, *spatial)`` or unbatched ``(C, *spatial)`` -> ``(N, C, *out_spatial)``
    or ``(C, *out_spatial)``.

    Example:
        >>> MaxBlurPool(2)(torch.randn(1, 4, 28, 28)).shape
        torch.Size([1, 4, 14, 14])
        >>> MaxBlurPool(3, ndim=1)(torch.randn(1, 4, 9)).shape
        torch.Size([1, 4, 4])
        >>> MaxBlurPool(2, ceil_mode=True)(torch.randn(1, 4, 7, 7)).shape
        torch.Size([1, 4, 4, 4])
    """

    fixed_ndim: ClassVar[int | None] = None

    def __init__(
        self,
        kernel_size: IntOrTuple = 2,
        stride: IntOrTuple = 2,
        padding: Any = 0,
        *,
        ceil_mode: bool = False,
        filter_size: IntOrTuple = 3,
        padding_mode: str = "reflect",
        ndim: int | None = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.ndim = spatial_ndim(kernel_size, ndim or self.fixed_ndim, name)
        self.max = _MAX[self.ndim](kernel_size, 1, padding)
        self.blur = _BLUR[self.ndim](
            filter_size=filter_size, stride=stride, padding="same", padding_mode=padding_mode
        )
        self.ceil_mode = check_bool(ceil_mode, "ceil_mode", name)
        # max pooling's own geometry, for the output size ceil_mode gives
        self._arguments = (self.max.kernel_size, self.blur.stride, padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        note = (
            f"(the layer pools {self.ndim} spatial axes; MaxBlurPool1d/2d/3d or "
            "MaxBlurPool(..., ndim=n) pool others)"
        )
        check_input(x, type(self).__name__, spatial=self.ndim, unbatched=True, note=note)
        return with_batch(x, self.ndim, self._pool)

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        if self.ceil_mode:
            x = pad(x, self._overhang(tuple(x.shape[2:])), value=-math.inf)
        return self.blur(self.max(x))

    def _overhang(self, spatial: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
        """Per axis ``(0, e)``: the ``e`` samples of ``-inf`` that give the max stage the
        windows max pooling's ceil mode adds (``e < stride``; each such window starts in
        the input, so it holds one of its samples)."""
        kernel, stride, padding = self._arguments
        spec = window_spec(spatial, kernel, stride, padding, 1, True, func=type(self).__name__)
        extra = []
        for n, k, s, (lo, hi), o in zip(
            spatial, kernel, stride, spec.padding, spec.out_shape, strict=True
        ):
            windows = n + lo + hi - k + 1  # the max stage's outputs (stride 1)
            extra.append((0, max(0, (o - 1) * s + 1 - windows)))
        return tuple(extra)

    def extra_repr(self) -> str:
        return "ceil_mode=True" if self.ceil_mode else ""


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
