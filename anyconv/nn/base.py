"""The base classes of anyconv's layers: ``Module`` and ``ConvLayer``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import torch

from anyconv._checks import check_bool, check_input, check_ndim, int_tuple, positive_int
from anyconv.functional.algorithms import get_algorithm
from anyconv.functional.conv import conv
from anyconv.padding import ConvSpec, conv_arguments, conv_spec

# torch.nn.Conv's weight init is kaiming_uniform(a=√5); computed as torch computes it, so
# that anyconv's Conv2d draws the very same numbers as torch.nn.Conv2d from the same seed.
_GAIN = torch.nn.init.calculate_gain("leaky_relu", math.sqrt(5))


class Module(torch.nn.Module):
    """A ``torch.nn.Module`` that reports its parameter count.

    Example:
        >>> import anyconv.nn
        >>> anyconv.nn.Conv2d(3, 8, 3).num_parameters
        224
    """

    @property
    def num_parameters(self) -> int:
        """Number of scalar parameters (learnable or frozen) held by the layer."""
        return sum(p.numel() for p in self.parameters())


def spatial_ndim(kernel_size: Any, ndim: Any, func: str) -> int:
    """Number of spatial axes: ``ndim`` if given, else a tuple kernel's length, else 2."""
    if ndim is None and isinstance(kernel_size, Sequence) and not isinstance(kernel_size, str):
        ndim = len(kernel_size)
    return check_ndim(2 if ndim is None else ndim, func)


class WindowLayer(Module):
    """A layer that slides a window over the spatial axes of its input: every convolution
    (:class:`ConvLayer`), pooling and blur layer of anyconv.

    It answers :meth:`spec`, its resolved geometry for an input size, so that the
    analysis (output sizes, receptive fields, MACs) asks each layer rather than knowing
    its class or reading its attributes. A transposed convolution (``transposed``) answers
    with the convolution whose adjoint it is: ``spec(input_size, output_size)`` has
    ``in_shape`` its output size and ``out_shape`` its input size.
    """

    transposed: ClassVar[bool] = False

    def spec(self, input_size: Sequence[int]) -> ConvSpec:
        """The resolved geometry (kernel, stride, dilation, explicit ``(lo, hi)`` padding,
        output shape) for an input of spatial size ``input_size``."""
        raise NotImplementedError(f"{type(self).__name__} does not give its spec()")


class ConvLayer(WindowLayer):
    """The base of every conv-like layer: arguments, validation, initialisation and repr.

    The constructor validates the convolution's arguments by the path the functional layer
    takes (:func:`anyconv.padding.conv_arguments`, the size-independent half of
    :func:`~anyconv.padding.conv_spec`), so a layer fails at construction with the message
    its first call would give, and sets ``in_channels``, ``out_channels``, ``kernel_size``,
    ``stride``, ``padding``, ``dilation``, ``groups``, ``padding_mode`` and, where given,
    ``flip`` and ``algorithm``. A subclass adds only its weight layout and ``forward``:

    - ``ndim``: the number of spatial axes, fixed by the subclass (``Conv2d.ndim == 2``);
      ``None`` where the constructor takes it (``ConvNd``, ``DepthwiseConv``).
    - :meth:`_create_parameters`: ``weight`` ``(out, in/groups, *kernel_size,
      *weight_axes)`` and ``bias`` ``(out, *bias_axes)``, then :meth:`reset_parameters`
      (PyTorch's conv initialisation). A layer with another parametrisation of its kernels
      creates them itself and overrides :meth:`_reset_weight`.
    - ``_repr_fields``: its own attributes to show in the repr.

    Example:
        A weight-standardised convolution (Qiao et al. 2019) in a few lines:

        >>> class WSConv2d(ConvLayer):
        ...     ndim = 2
        ...     def __init__(self, in_channels, out_channels, kernel_size, stride=1,
        ...                  padding="same", bias=True):
        ...         super().__init__(in_channels, out_channels, kernel_size, stride=stride,
        ...                          padding=padding, bias=bias)
        ...         self._create_parameters(bias)
        ...     def forward(self, x):
        ...         w = self.weight.flatten(1)
        ...         w = (w - w.mean(1, keepdim=True)) / (w.std(1, keepdim=True) + 1e-5)
        ...         return self._conv_forward(x, w.view_as(self.weight))
        >>> layer = WSConv2d(3, 8, 3, stride=2)
        >>> layer
        WSConv2d(3, 8, kernel_size=(3, 3), stride=(2, 2), padding='same')
        >>> layer(torch.randn(1, 3, 9, 9)).shape
        torch.Size([1, 8, 5, 5])
        >>> WSConv2d(3, 8, 3, padding="sane")
        Traceback (most recent call last):
        ...
        ValueError: WSConv2d(): argument 'padding' must be one of 'valid', 'same', 'full', \
'causal', an int >= 0, or a tuple of 2 entries (one per spatial axis), each a rule string, \
an int >= 0 or a (lo, hi) pair of ints >= 0; got 'sane'
    """

    ndim: ClassVar[int | None] = None
    _repr_fields: ClassVar[tuple[str, ...]] = ()
    # Defaults for layers whose constructor does not take them (shown in repr when changed).
    flip: bool = False
    algorithm: str = "auto"

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        *,
        stride: int | Sequence[int] = 1,
        padding: Any = 0,
        dilation: int | Sequence[int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        ndim: int | None = None,
        flip: bool | None = None,
        algorithm: str | None = None,
    ) -> None:
        super().__init__()
        func = type(self).__name__
        ndim = spatial_ndim(kernel_size, ndim or self.ndim, func)
        self.in_channels = positive_int(in_channels, "in_channels", func)
        self.out_channels = positive_int(out_channels, "out_channels", func)
        self.groups = positive_int(groups, "groups", func)
        kernel = int_tuple(kernel_size, ndim, "kernel_size", func, minimum=1)
        weight_shape = (out_channels, in_channels // groups, *kernel)
        self.kernel_size, self.stride, self.dilation, entries = conv_arguments(
            in_channels, weight_shape, stride, padding, dilation, groups, padding_mode, func
        )
        self.padding = padding if isinstance(padding, str | int) else entries
        self.padding_mode = padding_mode
        check_bool(bias, "bias", func)
        if flip is not None:
            self.flip = check_bool(flip, "flip", func)
        if algorithm is not None:
            get_algorithm(algorithm, func)
            self.algorithm = algorithm

    def _create_parameters(
        self,
        bias: bool,
        *,
        weight_axes: tuple[int, ...] | None = (),
        bias_axes: tuple[int, ...] = (),
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        """Create ``weight`` ``(out, in/groups, *kernel_size, *weight_axes)`` (none when
        ``weight_axes`` is ``None``: the subclass holds its own) and ``bias`` ``(out,
        *bias_axes)`` or ``None``; then :meth:`reset_parameters`."""
        kw = {"device": device, "dtype": dtype}
        if weight_axes is not None:
            per_group = self.in_channels // self.groups
            shape = (self.out_channels, per_group, *self.kernel_size, *weight_axes)
            self.weight = torch.nn.Parameter(torch.empty(shape, **kw))
        self.bias = (
            torch.nn.Parameter(torch.empty(self.out_channels, *bias_axes, **kw)) if bias else None
        )
        self.reset_parameters()

    @property
    def fan_in(self) -> int:
        """Inputs of one output value: ``in_channels / groups * prod(kernel_size)``."""
        return self.in_channels // self.groups * math.prod(self.kernel_size)

    def reset_parameters(self) -> None:
        """PyTorch's conv initialisation: the weight by :meth:`_reset_weight`, the bias
        ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, with ``fan_in`` one kernel's inputs (not
        counting trailing position or tile axes, which torch's own fan would include)."""
        self._reset_weight(self.fan_in)
        if self.bias is not None:
            bound = 1 / math.sqrt(self.fan_in)
            torch.nn.init.uniform_(self.bias, -bound, bound)

    def _reset_weight(self, fan_in: int) -> None:
        """kaiming_uniform with ``a = sqrt(5)``: ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``."""
        bound = math.sqrt(3.0) * (_GAIN / math.sqrt(fan_in))
        with torch.no_grad():
            self.weight.uniform_(-bound, bound)

    def _geometry(self) -> dict[str, Any]:
        """``stride``, ``padding``, ``dilation`` and ``padding_mode`` as keyword arguments
        for the functional layer (``groups`` apart: separable convolution has none)."""
        return {
            "stride": self.stride,
            "padding": self.padding,
            "dilation": self.dilation,
            "padding_mode": self.padding_mode,
        }

    def spec(self, input_size: Sequence[int]) -> ConvSpec:
        """The resolved geometry (:func:`anyconv.padding.conv_spec`) for an input of
        spatial size ``input_size``: explicit padding, output shape and the rest."""
        in_shape = (1, self.in_channels, *input_size)
        weight_shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        func = type(self).__name__
        return conv_spec(in_shape, weight_shape, groups=self.groups, func=func, **self._geometry())

    def _check_input(self, x: Any) -> bool:
        """Check the input's rank in this layer's name: ``(N, in_channels, *spatial)`` or,
        unbatched as ``torch.nn`` takes it, ``(in_channels, *spatial)``; returns whether it
        is unbatched (the functional layers take both)."""
        ndim = len(self.kernel_size)
        if not (isinstance(x, torch.Tensor) and x.dim() in (ndim + 1, ndim + 2)):
            name = type(self).__name__
            check_input(x, name, spatial=ndim, unbatched=True, channels=self.in_channels)
        return x.dim() == ndim + 1  # the dtype is the functional layer's to check

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """:func:`anyconv.conv` of ``x`` with ``weight``, this layer's bias and geometry."""
        self._check_input(x)
        options = {"groups": self.groups, "flip": self.flip, "algorithm": self.algorithm}
        return conv(x, weight, self.bias, **options, **self._geometry())

    def extra_repr(self) -> str:
        parts = [
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}",
            f"stride={self.stride}",
            f"padding={self.padding!r}",
        ]
        defaults = {
            "dilation": (1,) * len(self.kernel_size),
            "groups": 1,
            "padding_mode": "zeros",
            "flip": False,
            "algorithm": "auto",
        }
        parts += [f"{k}={getattr(self, k)!r}" for k, v in defaults.items() if getattr(self, k) != v]
        if self.bias is None:
            parts.append("bias=False")
        parts += [f"{k}={getattr(self, k)!r}" for k in self._repr_fields]
        return ", ".join(parts)
