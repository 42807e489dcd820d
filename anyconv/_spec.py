"""Argument normalisation and validation: the one place that writes anyconv's error messages.

Every public function checks its arguments here before touching data, so a bad
specification fails with a ``ValueError`` or ``TypeError`` that names the argument, shows
what was given and says what is allowed, instead of a ``RuntimeError`` from deep inside
PyTorch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

PADDING_RULES = ("valid", "same", "full", "causal")
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
MAX_SPATIAL_DIMS = 3

PaddingEntry = str | int | tuple[int, int]


@dataclass(frozen=True)
class ConvSpec:
    """A fully resolved convolution: everything an algorithm needs besides the tensors.

    ``padding`` holds explicit ``(lo, hi)`` amounts per spatial axis, ``out_shape`` the
    spatial output size; both come from :mod:`anyconv.padding`.
    """

    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]
    groups: int
    padding_mode: str
    out_shape: tuple[int, ...]


def _show(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return repr(value)


def fail(func: str, arg: str, allowed: str, given: Any, error: type = ValueError) -> Exception:
    """Build the standard message: ``func(): argument 'arg' must be <allowed>; got <given>``."""
    return error(f"{func}(): argument '{arg}' must be {allowed}; got {_show(given)}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def positive_int(value: Any, arg: str, func: str) -> int:
    """A positive int (not a bool), or anyconv's error naming ``arg``."""
    if not _is_int(value):
        raise fail(func, arg, "a positive int", value, TypeError)
    if value < 1:
        raise fail(func, arg, "a positive int", value)
    return value


def check_bool(value: Any, arg: str, func: str) -> bool:
    """A bool (``True`` or ``False``), or anyconv's error naming ``arg``."""
    if not isinstance(value, bool):
        raise fail(func, arg, "a bool (True or False)", value, TypeError)
    return value


def int_tuple(value: Any, ndim: int, arg: str, func: str, *, minimum: int) -> tuple[int, ...]:
    """Normalise an int or a tuple of ``ndim`` ints, each ``>= minimum``, to a tuple."""
    word = "positive" if minimum == 1 else f">= {minimum}"
    allowed = f"a {word} int or a tuple of {ndim} {word} ints (one per spatial axis)"
    if _is_int(value):
        value = (value,) * ndim
    elif not (isinstance(value, Sequence) and not isinstance(value, str)):
        raise fail(func, arg, allowed, value, TypeError)
    value = tuple(value)
    if not all(_is_int(v) for v in value):
        raise fail(func, arg, allowed, value, TypeError)
    if len(value) != ndim:
        raise fail(func, arg, allowed, value)
    if any(v < minimum for v in value):
        raise fail(func, arg, allowed, value)
    return value


def padding_entries(padding: Any, ndim: int, func: str) -> tuple[PaddingEntry, ...]:
    """Split ``padding`` into one validated entry per spatial axis.

    Each entry is a rule string from :data:`PADDING_RULES`, an int ``>= 0`` or a
    ``(lo, hi)`` pair of ints ``>= 0``. A string or int alone applies to every axis; a
    tuple has exactly one entry per spatial axis, as in PyTorch.
    """
    allowed = (
        f"one of {', '.join(map(repr, PADDING_RULES))}, an int >= 0, or a tuple of "
        f"{ndim} entries (one per spatial axis), each a rule string, an int >= 0 or a "
        "(lo, hi) pair of ints >= 0"
    )
    if isinstance(padding, str) or _is_int(padding):
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
            raise ValueError(str(fail(func, "padding", allowed, padding)) + hint)
    else:
        raise fail(func, "padding", allowed, padding, TypeError)
    for entry in entries:
        if isinstance(entry, str):
            if entry not in PADDING_RULES:
                raise fail(func, "padding", allowed, padding)
        elif _is_int(entry):
            if entry < 0:
                raise fail(func, "padding", allowed, padding)
        elif isinstance(entry, Sequence) and len(entry) == 2 and all(map(_is_int, entry)):
            if min(entry) < 0:
                raise fail(func, "padding", allowed, padding)
        else:
            raise fail(func, "padding", allowed, padding, TypeError)
    return tuple(
        tuple(e) if isinstance(e, Sequence) and not isinstance(e, str) else e for e in entries
    )


def choice(value: Any, options: Sequence[str], arg: str, func: str) -> str:
    """Check that ``value`` is one of the strings in ``options``."""
    if not isinstance(value, str) or value not in options:
        error = ValueError if isinstance(value, str) else TypeError
        raise fail(func, arg, f"one of {', '.join(map(repr, options))}", value, error)
    return value


def check_float_tensor(t: Any, arg: str, func: str) -> torch.Tensor:
    """A real floating-point tensor (float16/bfloat16/float32/float64)."""
    if not isinstance(t, torch.Tensor):
        raise fail(func, arg, "a torch.Tensor", type(t).__name__, TypeError)
    if not t.dtype.is_floating_point:
        raise fail(
            func,
            arg,
            "a real floating-point tensor (float16, bfloat16, float32 or float64)",
            f"dtype {t.dtype}",
            TypeError,
        )
    return t


def check_conv_tensors(
    x: Any, weight: Any, bias: Any, func: str, *, extra: str | None = None
) -> int:
    """Type, rank, dtype and device checks for ``conv``; returns the number of spatial axes.

    ``extra`` names trailing weight axes, one per spatial axis, that a layer adds to the
    kernel (``"out_spatial"`` for locally connected, ``"tiles"`` for tiled convolution);
    such a layer checks its bias shape itself.
    """
    check_float_tensor(x, "input", func)
    check_float_tensor(weight, "weight", func)
    if not 3 <= x.dim() <= MAX_SPATIAL_DIMS + 2:
        raise fail(
            func,
            "input",
            "a tensor of shape (N, C, *spatial) with 1, 2 or 3 spatial axes (3, 4 or 5 dims)",
            x,
        )
    ndim = x.dim() - 2
    dims = x.dim() + (ndim if extra else 0)
    if weight.dim() != dims:
        layout = f"*kernel, *{extra}" if extra else "*kernel"
        raise fail(
            func,
            "weight",
            f"a tensor of shape (out_channels, in_channels/groups, {layout}) with {dims} dims "
            f"to match input of shape {tuple(x.shape)}",
            weight,
        )
    tensors = {"weight": weight}
    if bias is not None:
        check_float_tensor(bias, "bias", func)
        if extra is None and tuple(bias.shape) != (weight.shape[0],):
            raise fail(
                func,
                "bias",
                f"None or a tensor of shape ({weight.shape[0]},) (one value per output channel)",
                bias,
            )
        tensors["bias"] = bias
    for name, t in tensors.items():
        if t.dtype != x.dtype:
            raise fail(func, name, f"of the input's dtype {x.dtype}", f"dtype {t.dtype}", TypeError)
        if t.device != x.device:
            raise fail(func, name, f"on the input's device {x.device}", f"device {t.device}")
    return ndim


def check_channels(in_channels: int, weight_shape: Sequence[int], groups: Any, func: str) -> int:
    """Check ``groups`` against the input and weight channel counts."""
    if not _is_int(groups):
        raise fail(func, "groups", "a positive int", groups, TypeError)
    out_channels, per_group = weight_shape[0], weight_shape[1]
    if groups < 1 or in_channels % groups or out_channels % groups:
        raise fail(
            func,
            "groups",
            f"a positive int dividing both in_channels ({in_channels}) "
            f"and out_channels ({out_channels})",
            groups,
        )
    if per_group * groups != in_channels:
        raise ValueError(
            f"{func}(): argument 'weight' has shape {tuple(weight_shape)}, so it expects "
            f"weight.shape[1] * groups = {per_group} * {groups} = {per_group * groups} input "
            f"channels, but argument 'input' has {in_channels} channels"
        )
    return groups


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
