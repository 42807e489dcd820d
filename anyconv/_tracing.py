"""What runs on the host while ``torch.compile`` or ``torch.export`` traces anyconv.

anyconv decides many things in Python from shapes alone: the padding, which algorithm runs
(``"auto"``), the FFT's transform sizes and block plan, the memory check, the tiled phases'
plans. In eager mode each decision is made per call and cached. A tracer must see none of
that work per call, and cannot follow some of it (``os.sysconf``, ``functools.lru_cache``):

- :func:`host` marks a pure function of Python values. Under ``torch.compile`` (and strict
  ``torch.export``) it runs once, natively, while the graph is traced, and its result is a
  constant of the graph; the shapes it was given are guarded by the tracer anyway. In eager
  mode and under non-strict ``torch.export`` it is the function itself. Its arguments and
  results are ints, strings, dtypes, devices, slices, tensors (results only), tuples, and the
  named tuples and dataclasses marked :func:`host_type` (``ConvSpec``, ``Problem``); an
  object holding functions crosses by name (the registry's ``prepare`` answers an
  algorithm's name).
- :func:`concrete` turns sizes into the Python ints those functions take: a symbolic size
  (a dynamic axis of ``torch.export``) gives its example value without adding a guard, which
  is sound because every decision it feeds changes speed or memory, never the result.
- :func:`tracing` says whether a tracer is running, for the few places whose eager code
  branches on a tensor's value and whose traced code uses ``torch.cond`` instead.

Settings read by a :func:`host` function (``memory.MEMORY_LIMIT``, ``auto.FFT_THRESHOLD``,
``anyconv.measure()``) are read when a graph is traced; a compiled model keeps the decisions
of its trace until it is compiled again.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable
from typing import TypeVar

import torch

F = TypeVar("F", bound=Callable)


def host(fn: F) -> F:
    """Decorator: ``fn`` (a pure function of the values the module docstring lists) is
    evaluated natively while a graph is traced, its result a constant of the graph.

    Example:
        >>> @host
        ... def plan(n: int) -> int:
        ...     return max(1, n // 2)
        >>> plan(6)  # under torch.compile: evaluated once per trace, 3 in the graph
        3
    """

    # A plain Python function, so that the tracer sees the mark even when ``fn`` is an
    # ``lru_cache`` wrapper (which it would otherwise trace into, or refuse).
    @torch.compiler.assume_constant_result
    def constant(*args, **kwargs):
        return _pack(fn(*_unpack(args), **{k: _unpack(v) for k, v in kwargs.items()}))

    @functools.wraps(fn)
    def call(*args, **kwargs):
        if torch.compiler.is_dynamo_compiling():
            packed = constant(*_pack(args), **{k: _pack(v) for k, v in kwargs.items()})
            return _unpack(packed)
        if torch.compiler.is_compiling():  # non-strict torch.export: sizes may be symbolic
            return fn(*_hinted(args), **{k: _hinted(v) for k, v in kwargs.items()})
        return fn(*args, **kwargs)

    return call  # type: ignore[return-value]


_PACKED = "anyconv._tracing.packed"
_TYPES: dict[str, tuple[type, tuple[str, ...] | None]] = {}
"""The named tuples and dataclasses that :func:`host` functions take or return
(:func:`host_type`), by name: class, and the dataclass's field names (``None`` for a named
tuple)."""


def host_type(kind: type) -> type:
    """Class decorator: values of this named tuple or dataclass may be passed to and
    returned from :func:`host` functions (the tracer passes neither intact, so they cross as
    plain tuples naming their class)."""
    global _KINDS
    fields = None if issubclass(kind, tuple) else tuple(kind.__dataclass_fields__)
    _TYPES[f"{kind.__module__}.{kind.__qualname__}"] = (kind, fields)
    _KINDS = (*_KINDS, kind)
    return kind


_KINDS: tuple[type, ...] = ()
"""The :func:`host_type` classes, for one ``isinstance``."""


def _pack(value):
    """``value`` as the tracer passes it into and out of a constant function: the values of
    :func:`host_type` classes as ``(marker, class name, fields)``, symbolic sizes
    specialised. Only ``isinstance`` looks at a value (the tracer cannot look into the type
    of a constant's parts), and the ints of a tuple are done in place: each call the tracer
    follows costs compile time."""
    if isinstance(value, int) and not isinstance(value, bool):
        return operator.index(value)  # specialises a symbolic size (int() would not)
    if isinstance(value, _KINDS):
        for name, (kind, fields) in _TYPES.items():
            if isinstance(value, kind):
                parts = value if fields is None else [getattr(value, f) for f in fields]
                return (_PACKED, name, _pack_items(parts))
    if isinstance(value, (tuple, list)):
        return _pack_items(value)
    return value


def _pack_items(values) -> tuple:
    return tuple(
        [
            operator.index(v)
            if isinstance(v, int) and not isinstance(v, bool)
            else (_pack(v) if isinstance(v, (tuple, list, *_KINDS)) else v)
            for v in values
        ]
    )


def _unpack(value):
    if not isinstance(value, tuple):
        return value
    if len(value) == 3 and value[0] == _PACKED:
        kind, fields = _TYPES[value[1]]
        parts = _unpack_items(value[2])
        return kind(*parts) if fields is None else kind(**dict(zip(fields, parts, strict=True)))
    return _unpack_items(value)


def _unpack_items(values: tuple) -> tuple:
    return tuple([_unpack(v) if isinstance(v, tuple) else v for v in values])


def _hinted(value):
    """``value`` with every symbolic size (in tuples and lists) replaced by its hint."""
    if isinstance(value, torch.SymInt):
        return _hint(value)
    if isinstance(value, list):
        return [_hinted(v) for v in value]
    if isinstance(value, tuple) and not hasattr(type(value), "_fields"):
        return tuple(_hinted(v) for v in value)
    return value


def tracing() -> bool:
    """Whether ``torch.compile`` or ``torch.export`` is tracing the caller."""
    return torch.compiler.is_compiling()


def concrete(sizes: Iterable) -> tuple[int, ...]:
    """``sizes`` as Python ints for a host-side decision.

    Under ``torch.compile`` a symbolic size is specialised (the graph is guarded on it);
    under non-strict ``torch.export`` with a dynamic axis its example value is taken without
    a guard, so the exported program stays dynamic.

    Example:
        >>> concrete(torch.ones(2, 3).shape)
        (2, 3)
    """
    if torch.compiler.is_dynamo_compiling():
        return tuple(operator.index(s) for s in sizes)  # specialises (int() would not)
    return tuple(_hint(s) for s in sizes)


def _hint(size) -> int:
    if isinstance(size, torch.SymInt):
        hint = size.node.hint
        return int(size) if hint is None else int(hint)
    return int(size)


def branch(pred: torch.Tensor, if_true: Callable, if_false: Callable, operands, shape):
    """``if_true(*operands)`` where the 0-dim bool tensor ``pred`` holds, else
    ``if_false(*operands)``; both return a tensor of ``shape``. Eager mode reads ``pred`` on
    the host and runs one function; a tracer gets ``torch.cond``, which keeps both in the
    graph and decides per call without leaving it.

    Example:
        >>> x = torch.tensor([1.0, -2.0])
        >>> branch(x.sum() > 0, torch.exp, torch.neg, (x,), x.shape)
        tensor([-1.,  2.])
    """
    if not tracing():
        return (if_true if bool(pred) else if_false)(*operands)

    # Flat outputs: cond compares the branches' strides, and a symbolic size's stride
    # (max(1, n)) is not one it can match with the size n.
    def flat(fn: Callable) -> Callable:
        return lambda *args: fn(*args).reshape(-1)

    return torch.cond(pred, flat(if_true), flat(if_false), tuple(operands)).view(shape)


def without_jvp(function: type[torch.autograd.Function]) -> type[torch.autograd.Function]:
    """A twin of an ``autograd.Function`` without its custom ``jvp``, for code that a tracer
    follows: Dynamo traces no Function that has one (forward-mode AD of compiled code is
    then not available; eager code keeps it).

    Example:
        >>> class Double(torch.autograd.Function):
        ...     forward = staticmethod(lambda ctx, x: 2 * x)
        ...     backward = staticmethod(lambda ctx, g: 2 * g)
        ...     jvp = staticmethod(lambda ctx, t: 2 * t)
        >>> without_jvp(Double).apply(torch.ones(2))
        tensor([2., 2.])
    """
    jvp = {"jvp": torch.autograd.Function.jvp, "__module__": function.__module__}
    return type(f"{function.__name__}Traced", (function,), jvp)


def tensor_cache(maxsize: int) -> Callable[[F], F]:
    """Decorator: ``functools.lru_cache`` for a tensor built from Python values (an index
    map, a DFT matrix), in eager mode; a tracer builds it in its graph instead, where it
    costs a few small operations per call and is no hidden input of the graph.

    Example:
        >>> @tensor_cache(8)
        ... def ramp(n: int) -> torch.Tensor:
        ...     return torch.arange(n)
        >>> ramp(3) is ramp(3)
        True
    """

    def wrap(fn: F) -> F:
        cached = functools.lru_cache(maxsize=maxsize)(fn)

        @functools.wraps(fn)
        def call(*args):
            return fn(*args) if tracing() else cached(*args)

        call.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
        call.cache_info = cached.cache_info  # type: ignore[attr-defined]
        return call  # type: ignore[return-value]

    return wrap
