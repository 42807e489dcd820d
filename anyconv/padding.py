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

A transposed convolution (:func:`anyconv.conv_transpose`) is the adjoint of the convolution
with the same arguments: it maps an input of size ``m`` back to a size ``n`` whose
convolution has ``m`` outputs. Several sizes do (``stride`` of them for most rules);
:func:`transposed_output_sizes` lists them, and the default is:

{transposed_table}

``output_padding`` (at most ``max(stride, dilation) - 1``, as in PyTorch) adds to the
smallest size; ``output_size=`` picks any size of the range.
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
    check_transposed_channels,
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
    largest: bool = False
    """A transposed convolution's default output size: the largest size that maps back
    (Keras's ``m*s`` for ``"same"``), where ``output_padding`` must be 0; else the smallest
    plus ``output_padding`` (PyTorch's formula for int padding)."""


def _same(n: int, k_eff: int, s: int) -> tuple[int, int]:
    total = max((-(-n // s) - 1) * s + k_eff - n, 0)
    return total // 2, total - total // 2


RULES: dict[str, PaddingRule] = {
    "valid": PaddingRule(lambda n, k_eff, s: (0, 0), "0", "0"),
    "same": PaddingRule(
        _same,
        "total // 2",
        "total - total // 2, total = max((ceil(n/s) - 1)*s + k_eff - n, 0)",
        largest=True,
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


def _transposed_table() -> str:
    smallest = "(m - 1)*s + k_eff - lo - hi + output_padding"
    rows = [
        (f'"{name}"', "m*s, the largest" if rule.largest else smallest)
        for name, rule in RULES.items()
    ]
    rows += [("int p", "(m - 1)*s + k_eff - 2*p + output_padding"), ("(lo, hi)", smallest)]
    widths = [max(len(row[i]) for row in [*rows, ("rule", "output size n")]) for i in range(2)]
    rule = "  ".join("=" * w for w in widths)

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([rule, line(("rule", "output size n")), rule, *map(line, rows), rule])


if __doc__:  # None under python -OO
    __doc__ = __doc__.format(table=_rules_table(), transposed_table=_transposed_table())

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


def _entry_padding(entry: PaddingEntry, n: int, k_eff: int, s: int) -> tuple[int, int]:
    """``(lo, hi)`` of one validated padding entry along an axis of size ``n``."""
    if isinstance(entry, str):
        return RULES[entry].resolve(n, k_eff, s)
    if isinstance(entry, int):
        return entry, entry
    return entry


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
        lo, hi = _entry_padding(entry, n, k_eff, s)
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


def _axis_outputs(entry: PaddingEntry, n: int, k_eff: int, s: int) -> int:
    """Outputs of the convolution along an axis of size ``n`` (0 where the kernel overhangs
    the padded input)."""
    lo, hi = _entry_padding(entry, n, k_eff, s)
    span = n + lo + hi - k_eff
    return span // s + 1 if span >= 0 else 0


def _sizes_back(entry: PaddingEntry, m: int, k_eff: int, s: int) -> range:
    """The sizes ``n`` whose convolution has ``m`` outputs along an axis.

    Explicit padding (an int or a ``(lo, hi)`` pair) does not depend on ``n``: PyTorch's
    ``range(first, first + s)`` with ``first = (m - 1)*s + k_eff - lo - hi``, which may
    start below 0 (PyTorch's ``output_padding`` may still reach a size >= 0). A rule's
    output count never decreases with ``n``, so its sizes form a range too, found by
    bisection over ``n >= 0`` for any row of :data:`RULES` (no formula per rule)."""
    if not isinstance(entry, str):
        lo, hi = _entry_padding(entry, 0, k_eff, s)
        start = (m - 1) * s + k_eff - lo - hi
        return range(start, start + s)

    def first(target: int) -> int:  # the smallest n with at least ``target`` outputs
        low, high = 0, target * s + k_eff  # the conv of ``high`` has more than ``target``
        while low < high:
            mid = (low + high) // 2
            if _axis_outputs(entry, mid, k_eff, s) >= target:
                high = mid
            else:
                low = mid + 1
        return low

    return range(first(m), first(m + 1))


def _largest(entry: PaddingEntry) -> bool:
    return isinstance(entry, str) and RULES[entry].largest


def transposed_arguments(
    ndim: int,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    output_padding: Any,
    dilation: Any,
    func: str,
) -> tuple[
    tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[PaddingEntry, ...], tuple[int, ...]
]:
    """The input-size-independent checks of a transposed convolution: ``(kernel_size,
    stride, dilation, padding entries, output_padding)``, one entry per spatial axis.
    ``output_padding`` is smaller than ``max(stride, dilation)`` (PyTorch's rule) and 0 on
    the axes whose rule takes the largest size (``"same"``). Layers call it at
    construction."""
    kernel, stride, dilation, entries = window_arguments(
        ndim, kernel_size, stride, padding, dilation, func
    )
    extra = int_tuple(output_padding, ndim, "output_padding", func, minimum=0)
    for axis, (op, s, d, entry) in enumerate(zip(extra, stride, dilation, entries, strict=True)):
        if op >= max(s, d):
            raise fail(
                func,
                "output_padding",
                "an int or a tuple of ints >= 0, each smaller than the stride or the dilation "
                f"of its axis (PyTorch's rule; axis {axis} has stride {s} and dilation {d})",
                output_padding,
            )
        if op and _largest(entry):
            raise ValueError(
                f"{func}(): argument 'output_padding' must be 0 on spatial axis {axis}, whose "
                f"padding {entry!r} gives the largest output size that maps back (input size "
                f"* stride, as Keras); got {output_padding!r}; choose a smaller size with "
                "'output_size'"
            )
    return kernel, stride, dilation, entries, extra


def _no_size_back(
    func: str, axis: int, entry: PaddingEntry, m: int, k: int, d: int, s: int, why: str
) -> ValueError:
    return ValueError(
        f"{func}(): no output size maps back to the input size {m} on spatial axis {axis} "
        f"with kernel_size {k}, dilation {d}, stride {s} and padding {entry!r}: {why}; use "
        "less padding or a larger input"
    )


def check_transposed_border(padding_mode: Any, func: str) -> str:
    """A transposed convolution's border: zeros only, or anyconv's error saying why.

    Example:
        >>> check_transposed_border("zeros", "f")
        'zeros'
        >>> check_transposed_border("reflect", "f")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: f(): argument 'padding_mode' must be 'zeros' (a transposed convolution ...
    """
    choice(padding_mode, PADDING_MODES, "padding_mode", func)
    if padding_mode != "zeros":
        raise fail(
            func,
            "padding_mode",
            "'zeros' (a transposed convolution scatters its input onto the output; a border "
            "reads outside a convolution's input, and its adjoint would fold those reads back "
            "onto the output's edges, which PyTorch's ConvTranspose refuses too)",
            padding_mode,
        )
    return padding_mode


def _output_size(output_size: Any, ndim: int, func: str) -> tuple[int, ...] | None:
    """``output_size`` as spatial sizes: ``None``, or ``ndim`` ints (or ``ndim + 2``, whose
    first two are the batch and channels, as PyTorch accepts)."""
    if output_size is None:
        return None
    allowed = f"None or a tuple of {ndim} ints >= 0 (the spatial output size)"
    if isinstance(output_size, Sequence | torch.Size) and len(output_size) in (ndim, ndim + 2):
        sizes = tuple(output_size)[-ndim:]
        if all(is_int(n) and n >= 0 for n in sizes):
            return sizes
        typed = all(is_int(n) for n in sizes)
        raise fail(func, "output_size", allowed, output_size, ValueError if typed else TypeError)
    error = ValueError if isinstance(output_size, Sequence | torch.Size) else TypeError
    raise fail(func, "output_size", allowed, output_size, error)


def _size_ranges(
    spatial: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    entries: tuple[PaddingEntry, ...],
    func: str,
) -> list[range]:
    """:func:`_sizes_back` per axis, after the checks of the input sizes."""
    sizes = []
    for axis, (entry, m, k, s, d) in enumerate(
        zip(entries, spatial, kernel, stride, dilation, strict=True)
    ):
        if max(m, s, d) > MAX_EXTENT:
            raise ValueError(
                f"{func}(): the input of size {m} with stride {s} and dilation {d} on spatial "
                f"axis {axis} is beyond the {MAX_EXTENT:,} (2**48) positions that anyconv "
                "supports; check the input size, stride and dilation"
            )
        if m == 0:
            why = "an axis of size 0 is the output of no convolution"
            raise _no_size_back(func, axis, entry, m, k, d, s, why)
        sizes.append(_sizes_back(entry, m, d * (k - 1) + 1, s))
    return sizes


def _transposed(
    spatial: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    entries: tuple[PaddingEntry, ...],
    output_padding: tuple[int, ...],
    output_size: Any,
    func: str,
    groups: int = 1,
) -> ConvSpec:
    """The convolution whose adjoint the transposed convolution is (see
    :func:`transposed_spec`)."""
    sizes = _size_ranges(spatial, kernel, stride, dilation, entries, func)
    allowed = [range(max(r.start, 0), r.stop) for r in sizes]
    requested = _output_size(output_size, len(spatial), func)
    if requested is not None:
        if any(output_padding):
            raise ValueError(
                f"{func}(): give 'output_padding' or 'output_size', not both; got "
                f"output_padding={output_padding!r} and output_size={output_size!r}"
            )
        if any(n not in r for n, r in zip(requested, allowed, strict=True)):
            ranges = ", ".join(f"{r[0]}..{r[-1]}" if r else "none" for r in allowed)
            raise fail(
                func,
                "output_size",
                f"a size that maps back to the input of spatial size {spatial}, per spatial "
                f"axis one of {ranges}",
                output_size,
            )
        chosen = requested
    else:
        picks = []
        for axis, (r, e, op, m, k, s, d) in enumerate(
            zip(sizes, entries, output_padding, spatial, kernel, stride, dilation, strict=True)
        ):
            n = (r[-1] if _largest(e) else r.start + op) if r else -1
            if n < 0:
                least = _axis_outputs(e, 0, d * (k - 1) + 1, s)
                why = (
                    f"the output size would be {n}"
                    if r
                    else f"the convolution of any size has at least {least} outputs there"
                )
                raise _no_size_back(func, axis, e, m, k, d, s, why)
            picks.append(n)
        chosen = tuple(picks)
    pads = []
    for entry, n, r, k, s, d in zip(entries, chosen, sizes, kernel, stride, dilation, strict=True):
        lo, hi = _entry_padding(entry, n, d * (k - 1) + 1, s)
        # past the range (output_padding >= stride, which PyTorch allows below the dilation):
        # the last positions are read by no window of the m outputs; hi < 0 crops them
        pads.append((lo, hi - max(n - r[-1], 0)))
    spec = _resolve(chosen, kernel, stride, dilation, tuple(pads), func, groups=groups)
    if spec.out_shape != spatial:  # a rule whose output count decreases with the size
        raise AssertionError(f"{func}(): {spec} does not map back to {spatial}")
    return spec


def transposed_spec(
    input_shape: Sequence[int],
    weight_shape: Sequence[int],
    *,
    stride: Any = 1,
    padding: Any = "valid",
    output_padding: Any = 0,
    output_size: Any = None,
    dilation: Any = 1,
    groups: Any = 1,
    func: str = "conv_transpose",
) -> ConvSpec:
    """Validate a transposed convolution's arguments against the shapes and resolve them.

    Args:
        input_shape: ``(N, C_in, *spatial)``.
        weight_shape: ``(C_in, C_out/groups, *kernel)``, PyTorch's transposed layout.
        stride, padding, output_padding, output_size, dilation, groups: as in
            :func:`anyconv.conv_transpose`.
        func: the public function named in error messages.

    Returns:
        the :class:`ConvSpec` of the convolution whose adjoint it is: ``in_shape`` is the
        transposed convolution's spatial output size ``n``, ``out_shape`` its input size
        ``m``, ``padding`` the convolution's ``(lo, hi)`` at ``n``.

    Example:
        >>> spec = transposed_spec((1, 8, 4, 4), (8, 3, 3, 3), stride=2, padding="same")
        >>> spec.in_shape, spec.padding, spec.out_shape
        ((8, 8), ((0, 1), (0, 1)), (4, 4))
    """
    check_transposed_channels(input_shape[1], weight_shape, groups, func)
    ndim = len(weight_shape) - 2
    args = transposed_arguments(
        ndim, weight_shape[2:], stride, padding, output_padding, dilation, func
    )
    spatial = tuple(input_shape[2:])
    return _transposed(spatial, *args, output_size, func, groups=groups)


def transposed_output_sizes(
    input_shape: Sequence[int],
    kernel_size: int | Sequence[int],
    *,
    stride: int | Sequence[int] = 1,
    padding: Any = "valid",
    dilation: int | Sequence[int] = 1,
) -> tuple[range, ...]:
    """The output sizes a transposed convolution may have: per spatial axis, the sizes whose
    convolution (with the same arguments) has ``input_shape``'s size; ``output_size=`` takes
    any of them.

    Args:
        input_shape: spatial sizes ``(*spatial)`` of the transposed convolution's input.
        kernel_size, stride, padding, dilation: as in :func:`output_shape`.

    Returns:
        a ``range`` per spatial axis (``stride`` sizes for the rules whose padding does not
        depend on the size).

    Example:
        >>> transposed_output_sizes((4,), 3, stride=2, padding=1)
        (range(7, 9),)
        >>> transposed_output_sizes((4,), 3, stride=2, padding="same")
        (range(7, 9),)
    """
    func = "transposed_output_sizes"
    spatial = _spatial(input_shape, func)
    ndim = len(spatial)
    kernel, stride, dilation, entries = window_arguments(
        ndim, kernel_size, stride, padding, dilation, func
    )
    ranges = _size_ranges(spatial, kernel, stride, dilation, entries, func)
    allowed = tuple(range(max(r.start, 0), r.stop) for r in ranges)
    for axis, (r, e, m, k, s, d) in enumerate(
        zip(allowed, entries, spatial, kernel, stride, dilation, strict=True)
    ):
        if not r:
            least = _axis_outputs(e, 0, d * (k - 1) + 1, s)
            why = f"the convolution of any size has at least {least} outputs there"
            raise _no_size_back(func, axis, e, m, k, d, s, why)
    return allowed


def transposed_output_shape(
    input_shape: Sequence[int],
    kernel_size: int | Sequence[int],
    *,
    stride: int | Sequence[int] = 1,
    padding: Any = "valid",
    output_padding: int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
) -> tuple[int, ...]:
    """Spatial output size of a transposed convolution (:func:`anyconv.conv_transpose`).

    Int and ``(lo, hi)`` padding and the rules other than ``"same"`` give PyTorch's
    ``(m - 1)*s + k_eff - lo - hi + output_padding``; ``"same"`` gives ``m*s`` (Keras).

    Args:
        input_shape: spatial sizes ``(*spatial)`` of its input (no batch or channel axes).
        kernel_size, stride, padding, dilation: as in :func:`output_shape`; they describe
            the convolution whose adjoint it is.
        output_padding: added to the smallest size (below ``max(stride, dilation)``).

    Returns:
        the spatial output shape; the convolution with the same arguments maps it back to
        ``input_shape``.

    Example:
        >>> transposed_output_shape((14, 14), 4, stride=2, padding=1)
        (28, 28)
        >>> transposed_output_shape((14,), 3, stride=2, padding="same")
        (28,)
        >>> output_shape((28,), 3, stride=2, padding="same")
        (14,)
    """
    func = "transposed_output_shape"
    spatial = _spatial(input_shape, func)
    args = transposed_arguments(
        len(spatial), kernel_size, stride, padding, output_padding, dilation, func
    )
    return _transposed(spatial, *args, None, func).in_shape


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
