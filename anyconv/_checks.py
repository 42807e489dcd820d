"""Validation primitives: the one place that writes anyconv's error messages.

Every public function checks its arguments with these before touching data, so a bad
argument fails with a ``ValueError`` (a wrong value) or ``TypeError`` (a wrong type) that
names the argument, shows what was given and says what is allowed, in one wording:
``func(): argument 'arg' must be <allowed>; got <given>``.

The geometry (padding rules, border modes, :class:`~anyconv.padding.ConvSpec`, output
sizes) lives in :mod:`anyconv.padding`, which checks its arguments with these.

Example:
    >>> positive_int(3, "channels", "f")
    3
    >>> check_int(0, "size", "f", minimum=8)
    Traceback (most recent call last):
    ...
    ValueError: f(): argument 'size' must be an int >= 8; got 0
    >>> check_real(1.0, "dropout", "f", minimum=0, below=1)
    Traceback (most recent call last):
    ...
    ValueError: f(): argument 'dropout' must be a number in [0, 1); got 1.0
"""

from __future__ import annotations

import difflib
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import torch

MAX_SPATIAL_DIMS = 3


def _show(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return repr(value)


def fail(func: str, arg: str, allowed: str, given: Any, error: type = ValueError) -> Exception:
    """Build the standard message: ``func(): argument 'arg' must be <allowed>; got <given>``."""
    return error(f"{func}(): argument '{arg}' must be {allowed}; got {_show(given)}")


def did_you_mean(given: Any, names: Iterable[str]) -> str:
    """`` (did you mean 'NAME'?)`` for the name closest to ``given`` (same letters in
    another case, or a close spelling by :func:`difflib.get_close_matches`), else ``""``.

    Example:
        >>> did_you_mean("lenet", ["allcnn", "lenet5"]), did_you_mean("xyz", ["lenet5"])
        (" (did you mean 'lenet5'?)", '')
    """
    if not isinstance(given, str):
        return ""
    names = list(names)
    same = [n for n in names if n.lower() == given.lower()]
    close = same or difflib.get_close_matches(given, names, n=1, cutoff=0.6)
    if not close:
        folded = {n.lower().replace("_", "-"): n for n in names}
        match = difflib.get_close_matches(given.lower().replace("_", "-"), folded, n=1)
        close = [folded[m] for m in match]
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_name(
    func: str, arg: str, given: Any, names: Iterable[str], note: str = "", key: Any = None
) -> ValueError:
    """The standard message for a name that is not registered: the names allowed (then
    ``note``), what was given, and the name closest to it (or to ``key``, the part of it
    that names something, e.g. ``folde`` of ``folde:DIR``; :func:`did_you_mean`).

    Example:
        >>> print(unknown_name("f", "name", "lenet", ["allcnn", "lenet5"]))
        f(): argument 'name' must be one of 'allcnn', 'lenet5'; got 'lenet' (did you mean 'lenet5'?)
    """
    names = list(names)
    allowed = "one of " + ", ".join(map(repr, names)) + note
    message = str(fail(func, arg, allowed, given))
    return ValueError(message + did_you_mean(given if key is None else key, names))


def is_int(value: Any) -> bool:
    """An integer that is not a ``bool`` (``True`` is an int to Python, never to anyconv):
    a Python ``int`` or a NumPy integer scalar (``np.int64(3)``, what ``array.shape`` math
    and ``np.arange`` give). The checks below return it as a Python ``int``."""
    if type(value) is int:  # the common case, without the abstract-class check
        return True
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value: Any) -> bool:
    """A real number given as an integer (as :func:`is_int`) or a float (Python's or a NumPy
    floating scalar), not a ``bool``."""
    if type(value) in (int, float):
        return True
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _int_range(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f"an int in {minimum}..{maximum}"
    if minimum == 1:
        return "a positive int"
    if minimum is not None:
        return f"an int >= {minimum}"
    return "an int" if maximum is None else f"an int <= {maximum}"


def check_int(
    value: Any,
    arg: str,
    func: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    note: str = "",
) -> int:
    """An int (not a bool) in ``minimum..maximum`` (either bound optional).

    ``note`` is added to the message in parentheses, e.g. what the int counts.
    """
    if (
        is_int(value)
        and (minimum is None or value >= minimum)
        and (maximum is None or value <= maximum)
    ):
        return int(value)
    allowed = _int_range(minimum, maximum) + (f" ({note})" if note else "")
    raise fail(func, arg, allowed, value, ValueError if is_int(value) else TypeError)


def positive_int(value: Any, arg: str, func: str) -> int:
    """A positive int (not a bool), or anyconv's error naming ``arg``."""
    return check_int(value, arg, func, minimum=1)


def check_ndim(value: Any, func: str, arg: str = "ndim") -> int:
    """A number of spatial axes: an int in ``1..MAX_SPATIAL_DIMS``."""
    return check_int(
        value, arg, func, minimum=1, maximum=MAX_SPATIAL_DIMS, note="the number of spatial axes"
    )


def check_real(
    value: Any,
    arg: str,
    func: str,
    *,
    minimum: float | None = None,
    above: float | None = None,
    below: float | None = None,
) -> float:
    """A real number (int or float, not a bool, not NaN) within the given bounds.

    ``minimum`` is inclusive (``>=``), ``above`` and ``below`` exclusive; ``inf`` passes
    where no upper bound is given. Returns it as a ``float``.
    """
    low, low_open = (above, True) if above is not None else (minimum, False)
    ok = is_real(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low  # NaN fails every comparison
    if ok and below is not None:
        ok = value < below
    if ok and low is None and below is None:
        ok = value == value  # not NaN
    if ok:
        return float(value)
    if low is not None and below is not None:
        allowed = f"a number in {'(' if low_open else '['}{low}, {below})"
    elif low is not None:
        allowed = f"a number {'>' if low_open else '>='} {low}"
    elif below is not None:
        allowed = f"a number < {below}"
    else:
        allowed = "a number"
    raise fail(func, arg, allowed, value, ValueError if is_real(value) else TypeError)


def check_bool(value: Any, arg: str, func: str) -> bool:
    """A bool (``True`` or ``False``), or anyconv's error naming ``arg``."""
    if not isinstance(value, bool):
        raise fail(func, arg, "a bool (True or False)", value, TypeError)
    return value


def _is_sequence(value: Any) -> bool:
    return isinstance(value, tuple | list) or (
        isinstance(value, Sequence) and not isinstance(value, str)
    )


def int_tuple(value: Any, ndim: int, arg: str, func: str, *, minimum: int) -> tuple[int, ...]:
    """Normalise an int or a tuple of ``ndim`` ints, each ``>= minimum``, to a tuple of
    Python ints. The message shows the value as given (``stride="2"`` says ``got '2'``)."""
    given = value
    if is_int(value):
        value = (value,) * ndim
    elif _is_sequence(value):
        value = tuple(value)
    else:
        value = None
    if value is not None and len(value) == ndim and all(is_int(v) and v >= minimum for v in value):
        return tuple(int(v) for v in value)
    word = "positive" if minimum == 1 else f">= {minimum}"
    allowed = f"a {word} int or a tuple of {ndim} {word} ints (one per spatial axis)"
    typed = value is not None and all(is_int(v) for v in value)
    raise fail(func, arg, allowed, given, ValueError if typed else TypeError)


def int_sequence(value: Any, arg: str, func: str, *, minimum: int = 1) -> tuple[int, ...]:
    """A non-empty tuple or list of ints, each ``>= minimum``, as a tuple of Python ints."""
    if _is_sequence(value) and value and all(is_int(v) and v >= minimum for v in value):
        return tuple(int(v) for v in value)
    word = "positive" if minimum == 1 else f">= {minimum}"
    typed = _is_sequence(value) and all(is_int(v) for v in value)
    raise fail(
        func, arg, f"a non-empty tuple of {word} ints", value, ValueError if typed else TypeError
    )


def choice(value: Any, options: Sequence[str], arg: str, func: str) -> str:
    """Check that ``value`` is one of the strings in ``options``."""
    if not isinstance(value, str):
        raise fail(func, arg, f"one of {', '.join(map(repr, options))}", value, TypeError)
    if value not in options:
        raise unknown_name(func, arg, value, options)
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


def _axes_text(low: int, high: int | None) -> str:
    """``with 1, 2 or 3 spatial axes (3, 4 or 5 dims)`` and its variants."""
    if high is None:
        if low == 0:
            return f"({low + 2} or more dims)"
        return f"with at least {low} spatial axis ({low + 2} or more dims)"
    counts = list(range(low, high + 1))

    def words(values: list[int]) -> str:
        text = ", ".join(map(str, values[:-1]))
        return f"{text} or {values[-1]}" if text else str(values[-1])

    axes = "axis" if counts == [1] else "axes"
    return f"with {words(counts)} spatial {axes} ({words([c + 2 for c in counts])} dims)"


SPATIAL_NAMES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}
"""The names of the spatial axes in shape messages, by their number."""


def shape_text(channels: int | str, ndim: int, batch: bool = True) -> str:
    """``(N, C, H, W)`` and its variants for messages: ``shape_text(3, 2, False)`` is
    ``(3, H, W)``."""
    return "(" + ", ".join([*(["N"] if batch else []), str(channels), *SPATIAL_NAMES[ndim]]) + ")"


def check_input(
    x: Any,
    func: str,
    *,
    spatial: int | tuple[int, int | None] = (1, MAX_SPATIAL_DIMS),
    arg: str = "input",
    note: str = "",
    unbatched: bool = False,
    channels: int | None = None,
) -> int:
    """A real floating-point tensor ``(N, C, *spatial)``; returns its number of spatial axes.

    Args:
        spatial: how many spatial axes are allowed: an int for exactly that many, or a
            ``(low, high)`` range, ``high=None`` for no upper bound. The default is 1 to 3.
        arg: the argument's name in the message.
        note: added to the message, e.g. why that many axes are needed.
        unbatched: also accept an unbatched ``(C, *spatial)``, as ``torch.nn`` layers do
            (``spatial`` must be an int; the caller tells the two apart by ``x.dim()``).
        channels: the channel count to show in the message (the layer's ``in_channels``).

    Example:
        >>> check_input(torch.zeros(2, 3, 8), "f")
        1
        >>> check_input(torch.zeros(2, 3), "f")
        Traceback (most recent call last):
        ...
        ValueError: f(): argument 'input' must be a tensor of shape (N, C, *spatial) with 1, 2 \
or 3 spatial axes (3, 4 or 5 dims); got a tensor of shape (2, 3)
        >>> check_input(torch.zeros(3, 8, 8), "Conv2d", spatial=2, unbatched=True)
        2
        >>> check_input(torch.zeros(1, 3, 4, 8, 8), "Conv2d", spatial=2, unbatched=True, channels=3)
        Traceback (most recent call last):
        ...
        ValueError: Conv2d(): argument 'input' must be a tensor of shape (N, 3, H, W) or, \
unbatched, (3, H, W) (4 or 3 dims); got a tensor of shape (1, 3, 4, 8, 8)
    """
    check_float_tensor(x, arg, func)
    if unbatched:
        if not isinstance(spatial, int):
            raise TypeError("check_input(): unbatched=True needs an int 'spatial'")
        if x.dim() in (spatial + 1, spatial + 2):
            return spatial
        c = "C" if channels is None else channels
        allowed = (
            f"a tensor of shape {shape_text(c, spatial)} or, unbatched, "
            f"{shape_text(c, spatial, batch=False)} ({spatial + 2} or {spatial + 1} dims)"
        )
        raise fail(func, arg, allowed + (f" {note}" if note else ""), x)
    low, high = (spatial, spatial) if isinstance(spatial, int) else spatial
    ndim = x.dim() - 2
    if ndim < low or (high is not None and ndim > high):
        allowed = f"a tensor of shape (N, C, *spatial) {_axes_text(low, high)}"
        raise fail(func, arg, allowed + (f" {note}" if note else ""), x)
    return ndim


def _weight_ndim(weight: torch.Tensor, per_axis: int) -> int | None:
    """The spatial axes a weight with ``per_axis`` dims per spatial axis describes (1..3),
    or ``None`` when its rank fits none."""
    spatial, rest = divmod(weight.dim() - 2, per_axis)
    return spatial if not rest and 1 <= spatial <= MAX_SPATIAL_DIMS else None


def check_conv_tensors(
    x: Any,
    weight: Any,
    bias: Any,
    func: str,
    *,
    extra: str | None = None,
    groups: Any = None,
) -> int:
    """Type, rank, dtype and device checks for ``conv``; returns the number of spatial axes.

    The weight's rank sets the number of spatial axes, as in ``torch.nn.functional.conv2d``;
    the input is ``(N, C, *spatial)`` or, unbatched, ``(C, *spatial)`` (the caller tells
    them apart by ``x.dim() == ndim + 1``). A rank that fits neither blames the input,
    unless the input is a valid batched tensor on its own, which the weight must then match.

    ``extra`` names trailing weight axes, one per spatial axis, that a layer adds to the
    kernel (``"out_spatial"`` for locally connected, ``"tiles"`` for tiled convolution);
    such a layer checks its bias shape itself. ``groups`` marks a transposed convolution,
    whose weight is ``(in_channels, out_channels/groups, *kernel)`` and whose bias has
    ``weight.shape[1] * groups`` entries.
    """
    check_float_tensor(x, "input", func)
    check_float_tensor(weight, "weight", func)
    if groups is not None:
        positive_int(groups, "groups", func)
    channels = (
        "in_channels, out_channels/groups"
        if groups is not None
        else "out_channels, in_channels/groups"
    )
    per_axis = 2 if extra else 1
    ndim = _weight_ndim(weight, per_axis)
    if ndim is None or x.dim() not in (ndim + 1, ndim + 2):
        layout = f"*kernel, *{extra}" if extra else "*kernel"
        if 3 <= x.dim() <= MAX_SPATIAL_DIMS + 2:
            spatial = x.dim() - 2
            dims, other = spatial * per_axis + 2, (spatial + 1) * per_axis + 2
            unbatched = (
                f" ({other} dims if the input is an unbatched (C, *spatial))"
                if spatial < MAX_SPATIAL_DIMS
                else ""
            )
            raise fail(
                func,
                "weight",
                f"a tensor of shape ({channels}, {layout}) with {dims} "
                f"dims to match input of shape {tuple(x.shape)}{unbatched}",
                weight,
            )
        if ndim is None:
            check_input(x, func)  # the input fits no weight either: name the input
        raise fail(
            func,
            "input",
            f"a tensor of shape (N, C, *spatial) or, unbatched, (C, *spatial) with {ndim} "
            f"spatial {'axis' if ndim == 1 else 'axes'} ({ndim + 2} or {ndim + 1} dims) to "
            f"match weight of shape {tuple(weight.shape)}",
            x,
        )
    tensors = {"weight": weight}
    if bias is not None:
        check_float_tensor(bias, "bias", func)
        out = weight.shape[0] if groups is None else weight.shape[1] * groups
        if extra is None and tuple(bias.shape) != (out,):
            raise fail(
                func,
                "bias",
                f"None or a tensor of shape ({out},) (one value per output channel)",
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
    if not is_int(groups):
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


def check_transposed_channels(
    in_channels: int, weight_shape: Sequence[int], groups: Any, func: str
) -> int:
    """Check ``groups`` and the input's channels against a transposed convolution's weight
    ``(in_channels, out_channels/groups, *kernel)`` (PyTorch's layout)."""
    if not is_int(groups):
        raise fail(func, "groups", "a positive int", groups, TypeError)
    if groups < 1 or weight_shape[0] % groups:
        raise fail(
            func,
            "groups",
            f"a positive int dividing in_channels ({weight_shape[0]}, weight.shape[0])",
            groups,
        )
    if weight_shape[0] != in_channels:
        raise ValueError(
            f"{func}(): argument 'weight' has shape {tuple(weight_shape)}, PyTorch's transposed "
            "layout (in_channels, out_channels/groups, *kernel), so it expects "
            f"weight.shape[0] = {weight_shape[0]} input channels, but argument 'input' has "
            f"{in_channels} channels"
        )
    return groups


def _qualified(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def register_unique(registry: dict[str, tuple], name: Any, entry: tuple, func: str) -> None:
    """Put ``entry`` (a tuple whose first item is the registered callable) under ``name``.

    A name already held by another callable is refused; registering the same definition
    again (the same function, or one of the same module and name after a reload) replaces
    the entry.

    Example:
        >>> table = {}
        >>> def lenet(): ...
        >>> register_unique(table, "lenet", (lenet, "help"), "register_model")
        >>> def other(): ...
        >>> register_unique(table, "lenet", (other, "help"), "f")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: f(): name 'lenet' is already registered to ...lenet; cannot register ...
    """
    if not isinstance(name, str) or not name:
        error = ValueError if isinstance(name, str) else TypeError
        raise fail(func, "name", "a non-empty string", name, error)
    old = registry.get(name)
    if old is not None and _qualified(old[0]) != _qualified(entry[0]):
        raise ValueError(
            f"{func}(): name {name!r} is already registered to {_qualified(old[0])}; cannot "
            f"register {_qualified(entry[0])} under it too (pick another name)"
        )
    registry[name] = entry
