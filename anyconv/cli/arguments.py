"""The argument types of ``anyconv``'s options, one clear message each.

Each is a ``type=`` for :meth:`argparse.ArgumentParser.add_argument`: it parses the text
or raises :class:`argparse.ArgumentTypeError` saying what was expected, which argparse
prints with the option's name. Values are only parsed here; the library checks their
ranges with its own messages.
"""

from __future__ import annotations

import argparse
import ast
from collections.abc import Sequence
from typing import Any


def integer(text: str) -> int:
    """An int.

    Example:
        >>> integer("-3")
        -3
    """
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def number(text: str) -> float:
    """A float.

    Example:
        >>> number("1e-3")
        0.001
    """
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def text(value: str) -> str:
    """A non-empty string (``--out ""`` would name the current folder, ``--data ""`` no data
    set: neither is what was meant).

    Example:
        >>> text("runs/a")
        'runs/a'
    """
    if not value.strip():
        raise argparse.ArgumentTypeError(
            f"expected a non-empty value, got {value!r} (a folder: give . for the current one)"
        )
    return value


def ints(text: str) -> tuple[int, ...]:
    """Comma-separated ints: ``28,28``.

    Example:
        >>> ints("1,28,28")
        (1, 28, 28)
    """
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated ints, got {text!r}") from None


def padding(text: str) -> str | int | tuple[Any, ...]:
    """A padding as :func:`anyconv.conv` takes it: a rule (``same``), an int (``3``), a
    ``lo:hi`` pair (``2:0``), or one of these per axis, comma-separated (``causal,same``).

    A rule or an int alone applies to every axis, as in :func:`anyconv.conv`; so does a
    pair alone, which the library would read as two ints, one per axis: it comes back as a
    one-entry tuple that :func:`padding_for` repeats once the number of axes is known.

    Example:
        >>> padding("same"), padding("2"), padding("2:0"), padding("causal,1")
        ('same', 2, ((2, 0),), ('causal', 1))
    """
    from anyconv.padding import PADDING_RULES

    entries = []
    for part in text.split(","):
        part = part.strip()
        try:
            if part in PADDING_RULES:
                entries.append(part)
            elif ":" in part:
                lo, hi = part.split(":")
                entries.append((int(lo), int(hi)))
            else:
                entries.append(int(part))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {', '.join(PADDING_RULES)}, an int, a lo:hi pair, or one of these "
                f"per axis (e.g. causal,same); got {text!r}"
            ) from None
    if len(entries) == 1 and not isinstance(entries[0], tuple):
        return entries[0]
    return tuple(entries)


def padding_for(value: Any, ndim: int) -> Any:
    """A parsed :func:`padding` for ``ndim`` spatial axes: a lone ``lo:hi`` pair on each.

    Example:
        >>> padding_for(padding("2:0"), 2), padding_for(padding("same"), 2)
        (((2, 0), (2, 0)), 'same')
    """
    if isinstance(value, tuple) and len(value) == 1 and isinstance(value[0], tuple):
        return value * ndim
    return value


def padding_or_border(text: str) -> str | int | tuple[Any, ...]:
    """A :func:`padding`, or a border mode alone (``circular``: the caller reads it as
    ``same`` padding with that border).

    Example:
        >>> padding_or_border("circular"), padding_or_border("valid")
        ('circular', 'valid')
    """
    from anyconv.padding import PADDING_MODES

    return text if text in PADDING_MODES else padding(text)


MAX_SHIFTS = 1024
"""Most shifts ``--shifts`` takes: each is a forward pass of every sample."""


def shifts(text: str) -> list[int]:
    """``-4..4`` (a range, both ends included) or ``0,1,2``; at most :data:`MAX_SHIFTS`
    of them, counted before the list is built.

    Example:
        >>> shifts("-1..1"), shifts("0,2")
        ([-1, 0, 1], [0, 2])
    """
    try:
        if ".." in text:
            lo, hi = (int(v) for v in text.split(".."))
            count = hi - lo + 1
            values = range(lo, hi + 1) if 0 < count <= MAX_SHIFTS else None
        else:
            values = [int(v) for v in text.split(",")]
            count = len(values)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a range like -4..4 or comma-separated ints, got {text!r}"
        ) from None
    if not 0 < count <= MAX_SHIFTS or values is None:
        raise argparse.ArgumentTypeError(
            f"expected 1 to {MAX_SHIFTS:,} shifts (each is a forward pass of every sample); "
            f"got {text!r}, {max(count, 0):,} shifts"
        )
    return list(values)


def literal(text: str) -> Any:
    """A model option's value: true/false, none, a number, comma-separated values (a tuple)
    or a string.

    Example:
        >>> literal("true"), literal("8,16"), literal("0.5"), literal("same")
        (True, (8, 16), 0.5, 'same')
    """
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    if "," in text:
        return tuple(literal(part) for part in text.split(",") if part.strip())
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    return value if isinstance(value, int | float) and not isinstance(value, bool) else text


def model_option(text: str) -> tuple[str, Any]:
    """``NAME=VALUE``, a model option (``-o causal-time=true``), the value a :func:`literal`.

    Example:
        >>> model_option("causal-time=true")
        ('causal_time', True)
    """
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(
            f"expected NAME=VALUE (e.g. causal_time=true), got {text!r}"
        )
    return name.strip().replace("-", "_"), literal(value)


class Switch(argparse.BooleanOptionalAction):
    """``--flag``/``--no-flag``, and ``off``: one more name for ``--no-flag``."""

    def __init__(self, option_strings: Sequence[str], dest: str, off: str | None = None, **kw):
        super().__init__(option_strings, dest, **kw)
        self.off = off
        if off:
            self.option_strings.append(off)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        if option_string is not None and option_string == self.off:
            setattr(namespace, self.dest, False)
        else:
            super().__call__(parser, namespace, values, option_string)
