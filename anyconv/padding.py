"""The geometry of a sliding window: padding rules, output sizes and the resolved spec.

The one place for all of it, used by every layer (convolution, locally connected, tiled,
separable, pooling): :data:`RULES` is the padding table, :func:`conv_spec` validates a
convolution's arguments and resolves them to a :class:`ConvSpec` (explicit ``(lo, hi)``
padding and output shape per axis), :func:`window_spec` does the same for a window without
weights (pooling), :func:`pad` applies a border. Adding a padding rule is one entry in
:data:`RULES`; the error messages and the lists of rule names in docstrings come from it.

With ``k_eff = dilation * (k - 1) + 1``, ``n`` the input size and ``s`` the stride along
an axis, a padding entry resolves to:

{table}

The output size along an axis is ``floor((n + lo + hi - k_eff) / s) + 1``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.nn.functional as F

from anyconv._checks import (
    check_bool,
    check_channels,
    choice,
    fail,
    int_tuple,
    is_int,
)

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
"""The borders: what the padded positions hold (``zeros``; ``reflect``, mirrored without
repeating the edge; ``replicate``, the edge repeated; ``circular``, wrapped around)."""

Padding = tuple[tuple[int, int], ...]
PaddingEntry = str | int | tuple[int, int]


@dataclass(frozen=True)
class PaddingRule:
    """One row of the padding table.

    Attributes:
        resolve: ``(n, k_eff, stride) -> (lo, hi)`` for one axis.
        lo, hi: the formulas as text, for the documentation.
    """

    resolve: Callable[[int, int, int], tuple[int, int]]
    lo: str
    hi: str


def _same(n: int, k_eff: int, s: int) -> tuple[int, int]:
    total = max((-(-n // s) - 1) * s + k_eff - n, 0)
    return total // 2, total - total // 2


RULES: dict[str, PaddingRule] = {
    "valid": PaddingRule(lambda n, k_eff, s: (0, 0), "0", "0"),
    "same": PaddingRule(
        _same, "total // 2", "total - total // 2, total = max((ceil(n/s) - 1)*s + k_eff - n, 0)"
    ),
    "full": PaddingRule(lambda n, k_eff, s: (k_eff - 1, k_eff - 1), "k_eff - 1", "k_eff - 1"),
    "causal": PaddingRule(lambda n, k_eff, s: (k_eff - 1, 0), "k_eff - 1", "0"),
}
"""The padding rules by name: a new rule is one entry here."""

PADDING_RULES = tuple(RULES)
"""The rule names, in table order."""


def _rules_table() -> str:
    rows = [(f'"{name}"', rule.lo, rule.hi) for name, rule in RULES.items()]
    rows += [("int p", "p", "p"), ("(lo, hi)", "lo", "hi")]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    widths = [max(w, len(h)) for w, h in zip(widths, ("rule", "lo", "hi"), strict=True)]
    rule = "  ".join("=" * w for w in widths)

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([rule, line(("rule", "lo", "hi")), rule, *map(line, rows), rule])


if __doc__:  # None under python -OO
    __doc__ = __doc__.format(table=_rules_table())

_Documented = TypeVar("_Documented")


def document_rules(obj: _Documented) -> _Documented:
    """Decorator: write the rule names of :data:`RULES` where a docstring says
    ``{padding_rules}``, so that docstrings list exactly the rules that exist."""
    names = ", ".join(f'``"{name}"``' for name in RULES)
    obj.__doc__ = (obj.__doc__ or "").replace("{padding_rules}", names)
    return obj


@dataclass(frozen=True)
class ConvSpec:
    """A fully resolved sliding window: everything an algorithm needs besides the tensors.

    ``padding`` holds explicit ``(lo, hi)`` amounts per spatial axis, ``out_shape`` the
    spatial output size. :func:`conv_spec` and :func:`window_spec` also record the
    ``kernel_size`` and the spatial input size ``in_shape`` they resolved; a spec built by
    hand for a sub-problem (a block or a phase of a larger convolution) may leave them empty.
    Pooling's spec has ``groups=1`` and ``padding_mode="zeros"`` (it pads with its own
    neutral value).
    """

    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    padding: Padding
    groups: int
    padding_mode: str
    out_shape: tuple[int, ...]
    kernel_size: tuple[int, ...] = ()
    in_shape: tuple[int, ...] = ()


def effective_kernel(kernel_size: Sequence[int], dilation: Sequence[int]) -> tuple[int, ...]:
    """The span of each dilated kernel axis, ``k_eff = dilation * (k - 1) + 1``.

    Example:
        >>> effective_kernel((3, 5), (2, 1))
        (5, 5)
    """
    return tuple(d * (k - 1) + 1 for k, d in zip(kernel_size, dilation, strict=True))


def _padding_error(padding: Any, ndim: int, func: str, error: type = ValueError) -> Exception:
    allowed = (
        f"one of {', '.join(map(repr, RULES))}, an int >= 0, or a tuple of "
        f"{ndim} entries (one per spatial axis), each a rule string, an int >= 0 or a "
        "(lo, hi) pair of ints >= 0"
    )
    return fail(func, "padding", allowed, padding, error)


def padding_entries(padding: Any, ndim: int, func: str) -> tuple[PaddingEntry, ...]:
    """Split ``padding`` into one validated entry per spatial axis.

    Each entry is a rule name of :data:`RULES`, an int ``>= 0`` or a ``(lo, hi)`` pair of
    ints ``>= 0``. A string or int alone applies to every axis; a tuple has exactly one
    entry per spatial axis, as in PyTorch.

    Example:
        >>> padding_entries(("causal", 1, (2, 0)), 3, "f")
        ('causal', 1, (2, 0))
    """
    if isinstance(padding, str) or is_int(padding):
        entries: tuple[Any, ...] = (padding,) * ndim
    elif isinstance(padding, Sequence):
        entries = tuple(padding)
        if len(entries) != ndim:
            hint = (
                "; for an explicit (lo, hi) pair on the one spatial axis write "
                f"({tuple(padding)!r},)"
                if ndim == 1 and len(entries) == 2
                else ""
            )
            raise ValueError(str(_padding_error(padding, ndim, func)) + hint)
    else:
        raise _padding_error(padding, ndim, func, TypeError)
    result = []
    for entry in entries:
        if isinstance(entry, str):
            if entry not in RULES:
                raise _padding_error(padding, ndim, func)
        elif is_int(entry):
            if entry < 0:
                raise _padding_error(padding, ndim, func)
            entry = int(entry)  # a NumPy integer becomes a Python int
        elif isinstance(entry, Sequence) and len(entry) == 2 and all(map(is_int, entry)):
            if min(entry) < 0:
                raise _padding_error(padding, ndim, func)
            entry = (int(entry[0]), int(entry[1]))
        else:
            raise _padding_error(padding, ndim, func, TypeError)
        result.append(entry)
    return tuple(result)


def check_border(
    padding: Sequence[tuple[int, int]], spatial: Sequence[int], mode: str, func: str
) -> None:
    """Reflect padding must be narrower than the input, circular at most as wide."""
    if mode not in ("reflect", "circular"):
        return
    for axis, ((lo, hi), n) in enumerate(zip(padding, spatial, strict=True)):
        limit = n - 1 if mode == "reflect" else n
        if max(lo, hi) > limit:
            raise ValueError(
                f"{func}(): argument 'padding' resolves to (lo, hi) = {(lo, hi)} on spatial "
                f"axis {axis} of size {n}, but padding_mode={mode!r} allows at most {limit} "
                f"per side there ({'size - 1' if mode == 'reflect' else 'the size'}); use a "
                "smaller padding or padding_mode='replicate' or 'zeros'"
            )


def window_arguments(
    ndim: int, kernel_size: Any, stride: Any, padding: Any, dilation: Any, func: str
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[PaddingEntry, ...]]:
    """The input-size-independent checks of a window: ``(kernel_size, stride, dilation,
    padding entries)`` with one entry per spatial axis. Layers call it at construction."""
    return (
        int_tuple(kernel_size, ndim, "kernel_size", func, minimum=1),
        int_tuple(stride, ndim, "stride", func, minimum=1),
        int_tuple(dilation, ndim, "dilation", func, minimum=1),
        padding_entries(padding, ndim, func),
    )


def _out_size(n: int, lo: int, hi: int, k_eff: int, s: int, ceil_mode: bool) -> int:
    span = n + lo + hi - k_eff
    if not ceil_mode:
        return span // s + 1
    out = -(-span // s) + 1
    # PyTorch's pooling rule: a window that would start inside the right padding is dropped.
    if (out - 1) * s >= n + lo:
        out -= 1
    return out


MAX_EXTENT = 1 << 48
"""Largest padded input extent along one axis (input plus padding), stride and dilation
that a resolved spec may hold: far beyond any tensor that fits in memory, and far enough
below 2**63 that the index arithmetic of every algorithm and pooling (PyTorch's kernels,
which take int64 arguments, included) stays within int64. The dilation is bounded even
where it does not widen the window (a kernel of size 1)."""


def _resolve(
    spatial: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    entries: tuple[PaddingEntry, ...],
    func: str,
    *,
    ceil_mode: bool = False,
    groups: int = 1,
    padding_mode: str = "zeros",
) -> ConvSpec:
    pads, out = [], []
    for axis, (entry, n, k, s, d) in enumerate(
        zip(entries, spatial, kernel, stride, dilation, strict=True)
    ):
        k_eff = d * (k - 1) + 1
        if isinstance(entry, str):
            lo, hi = RULES[entry].resolve(n, k_eff, s)
        elif isinstance(entry, int):
            lo = hi = entry
        else:
            lo, hi = entry
        if n + lo + hi < k_eff:
            raise ValueError(
                f"{func}(): the kernel is larger than the padded input on spatial axis {axis}: "
                f"kernel_size {k} with dilation {d} spans {k_eff}, but the input of size {n} "
                f"padded by {(lo, hi)} has only {n + lo + hi}; use a smaller kernel or more "
                "padding"
            )
        if max(n + lo + hi, s, d) > MAX_EXTENT:
            raise ValueError(
                f"{func}(): the input of size {n} padded by {(lo, hi)} with stride {s} and "
                f"dilation {d} on spatial axis {axis} spans {max(n + lo + hi, s, d):,} "
                f"positions, beyond the {MAX_EXTENT:,} (2**48) that anyconv supports; check "
                "the padding, stride, dilation and kernel size"
            )
        pads.append((lo, hi))
        out.append(_out_size(n, lo, hi, k_eff, s, ceil_mode))
    pads, out = tuple(pads), tuple(out)
    return ConvSpec(stride, dilation, pads, groups, padding_mode, out, kernel, spatial)


def _spatial(input_shape: Any, func: str) -> tuple[int, ...]:
    if not (isinstance(input_shape, Sequence | torch.Size) and len(input_shape) >= 1):
        raise fail(
            func, "input_shape", "a non-empty tuple of spatial sizes", input_shape, TypeError
        )
    return int_tuple(tuple(input_shape), len(input_shape), "input_shape", func, minimum=0)


def window_spec(
    input_shape: Sequence[int],
    kernel_size: Any,
    stride: Any = 1,
    padding: Any = "valid",
    dilation: Any = 1,
    ceil_mode: bool = False,
    *,
    func: str = "window_spec",
) -> ConvSpec:
    """Validate and resolve a window of ``kernel_size`` sliding over ``spatial`` (pooling).

    Args:
        input_shape: spatial sizes ``(*spatial)`` of the input (no batch or channel axes).
        kernel_size, stride, dilation: an int or one int per spatial axis.
        padding: as in :func:`resolve_padding`.
        ceil_mode: round the window count up (a window that would start in the right
            padding is dropped, as in PyTorch).
        func: the public function named in error messages.

    Returns:
        a :class:`ConvSpec` with ``groups=1`` and ``padding_mode="zeros"``.

    Example:
        >>> window_spec((7,), 2, stride=2, ceil_mode=True).out_shape
        (4,)
    """
    spatial = _spatial(input_shape, func)
    check_bool(ceil_mode, "ceil_mode", func)
    args = window_arguments(len(spatial), kernel_size, stride, padding, dilation, func)
    return _resolve(spatial, *args, func, ceil_mode=ceil_mode)


def conv_arguments(
    in_channels: int,
    weight_shape: Sequence[int],
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: Any,
    padding_mode: Any,
    func: str,
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[PaddingEntry, ...]]:
    """The input-size-independent half of :func:`conv_spec`: check channels, groups and
    border mode, then :func:`window_arguments`. Layers call it at construction."""
    check_channels(in_channels, weight_shape, groups, func)
    choice(padding_mode, PADDING_MODES, "padding_mode", func)
    return window_arguments(
        len(weight_shape) - 2, weight_shape[2:], stride, padding, dilation, func
    )


def conv_spec(
    input_shape: Sequence[int],
    weight_shape: Sequence[int],
    *,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: Any,
    padding_mode: Any,
    func: str = "conv",
) -> ConvSpec:
    """Validate a convolution's arguments against the shapes and resolve them.

    Args:
        input_shape: ``(N, C_in, *spatial)``.
        weight_shape: ``(C_out, C_in/groups, *kernel)``.
        stride, padding, dilation, groups, padding_mode: as in :func:`anyconv.conv`.
        func: the public function named in error messages.

    Returns:
        the :class:`ConvSpec` every algorithm consumes.

    Example:
        >>> spec = conv_spec((1, 3, 7, 7), (8, 3, 3, 3), stride=2, padding="same",
        ...                  dilation=1, groups=1, padding_mode="zeros")
        >>> spec.padding, spec.out_shape
        (((1, 1), (1, 1)), (4, 4))
    """
    args = conv_arguments(
        input_shape[1], weight_shape, stride, padding, dilation, groups, padding_mode, func
    )
    spatial = tuple(input_shape[2:])
    spec = _resolve(spatial, *args, func, groups=groups, padding_mode=padding_mode)
    check_border(spec.padding, spatial, padding_mode, func)
    return spec


@document_rules
def resolve_padding(
    input_shape: Sequence[int],
    kernel_size: int | Sequence[int],
    *,
    stride: int | Sequence[int] = 1,
    padding: Any = "valid",
    dilation: int | Sequence[int] = 1,
) -> Padding:
    """Explicit ``(lo, hi)`` padding per spatial axis for a padding specification.

    Args:
        input_shape: spatial sizes ``(*spatial)`` of the input (no batch or channel axes).
        kernel_size: an int or one int per spatial axis.
        stride, dilation: an int or one int per spatial axis.
        padding: a rule ({padding_rules}), an int, or a tuple with one entry per spatial
            axis, each a rule, an int or a ``(lo, hi)`` pair.

    Returns:
        ``((lo_0, hi_0), (lo_1, hi_1), ...)``, one pair per spatial axis.

    Example:
        >>> resolve_padding((10, 32, 32), 3, padding=("causal", "same", "same"))
        ((2, 0), (1, 1), (1, 1))
        >>> resolve_padding((7,), 4, stride=2, padding="same")
        ((1, 2),)
    """
    func = "resolve_padding"
    return window_spec(input_shape, kernel_size, stride, padding, dilation, func=func).padding


def output_shape(
    input_shape: Sequence[int],
    kernel_size: int | Sequence[int],
    *,
    stride: int | Sequence[int] = 1,
    padding: Any = "valid",
    dilation: int | Sequence[int] = 1,
    ceil_mode: bool = False,
) -> tuple[int, ...]:
    """Spatial output size of a convolution or pooling window sliding over ``input_shape``.

    Args:
        input_shape: spatial sizes ``(*spatial)`` of the input (no batch or channel axes).
        kernel_size, stride, dilation, padding: as in :func:`resolve_padding`.
        ceil_mode: round the window count up, as pooling layers may (a window that would
            start in the right padding is dropped, as in PyTorch).

    Returns:
        the spatial output shape ``(*out_spatial)``.

    Example:
        >>> output_shape((28, 28), 5)
        (24, 24)
        >>> output_shape((28, 28), 3, stride=2, padding="same")
        (14, 14)
        >>> output_shape((5,), 2, stride=2, ceil_mode=True)
        (3,)
    """
    func = "output_shape"
    spec = window_spec(input_shape, kernel_size, stride, padding, dilation, ceil_mode, func=func)
    return spec.out_shape


def pad(x: torch.Tensor, padding: Padding, mode: str = "zeros", value: float = 0.0) -> torch.Tensor:
    """Pad the trailing ``len(padding)`` axes of ``x`` by explicit ``(lo, hi)`` amounts.

    Args:
        x: tensor ``(N, C, *spatial)``.
        padding: ``((lo, hi), ...)`` per spatial axis, as :func:`resolve_padding` returns.
            With ``"zeros"`` a negative amount crops that many samples instead.
        mode: ``"zeros"``, ``"reflect"``, ``"replicate"`` or ``"circular"``.
        value: the fill for ``"zeros"`` (pooling pads with ``-inf``).

    Returns:
        ``(N, C, *(n + lo + hi))``; ``x`` itself when there is nothing to pad.

    Example:
        >>> pad(torch.arange(4.0).view(1, 1, 4), ((2, 1),), "reflect")
        tensor([[[2., 1., 0., 1., 2., 3., 2.]]])
    """
    choice(mode, PADDING_MODES, "padding_mode", "pad")
    if not any(lo or hi for lo, hi in padding):
        return x
    flat = [amount for lo_hi in reversed(padding) for amount in lo_hi]
    if mode == "zeros":
        return F.pad(x, flat, mode="constant", value=value)
    return F.pad(x, flat, mode=mode)
