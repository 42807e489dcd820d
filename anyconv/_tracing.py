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
    fields = None if issubclass(kind, tuple) else tuple(kind.__dataclass_fields__)
    _TYPES[f"{kind.__module__}.{kind.__qualname__}"] = (kind, fields)
    return kind


def _pack(value):
    """``value`` as the tracer passes it into and out of a constant function: the values of
    :func:`host_type` classes as ``(marker, class name, fields)``, symbolic sizes
    specialised. Only ``isinstance`` looks at a value: the tracer cannot look into the type
    of a constant's parts."""
    if isinstance(value, torch.SymInt):
        return int(value)
    for name, (kind, fields) in _TYPES.items():
        if isinstance(value, kind):
            if fields is None:
                return (_PACKED, name, tuple(_pack(v) for v in value))
            return (_PACKED, name, tuple(_pack(getattr(value, f)) for f in fields))
    if isinstance(value, (tuple, list)):
        return tuple(_pack(v) for v in value)
    return value


def _unpack(value):
    if not isinstance(value, tuple):
        return value
    if len(value) == 3 and value[0] == _PACKED:
        kind, fields = _TYPES[value[1]]
        parts = tuple(_unpack(v) for v in value[2])
        return kind(*parts) if fields is None else kind(**dict(zip(fields, parts, strict=True)))
    return tuple(_unpack(v) for v in value)


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
        return tuple(int(s) for s in sizes)
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
