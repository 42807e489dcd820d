"""anyconv's operators as single calls to ``torch.overrides``: tensor subclasses and
``TorchFunctionMode`` s (the analysis tracer of :mod:`anyconv.analysis.trace`, the gradient
receptive field) see ``anyconv.conv(...)`` as one call with its arguments, whatever
algorithm computes it, as they see ``torch.nn.functional.conv2d``.

Without it they would see the algorithm's inside: a sum of ``einsum`` terms (``direct``),
FFTs (``fft``) or a sparse product (``matrix``), from which no multiply-accumulate count or
receptive field can be read.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch
from torch.overrides import handle_torch_function, has_torch_function, has_torch_function_variadic

OVERRIDABLE: list[Callable] = []
"""The operators wrapped by :func:`overridable`, for the tracer's rules and the tests."""


def _tensors(values: Any) -> tuple[torch.Tensor, ...]:
    found = []
    for v in values:
        if isinstance(v, torch.Tensor):
            found.append(v)
        elif isinstance(v, list | tuple):
            found += [t for t in v if isinstance(t, torch.Tensor)]
    return tuple(found)


def overridable(func: Callable) -> Callable:
    """Decorator: ``func`` goes through ``torch.overrides.handle_torch_function`` when a
    tensor subclass or a torch function mode is about (one C-level check otherwise), with
    the public function itself as the ``func`` the override receives.

    Example:
        >>> from torch.overrides import TorchFunctionMode
        >>> @overridable
        ... def double(x):
        ...     return x + x
        >>> class Names(TorchFunctionMode):
        ...     def __torch_function__(self, func, types, args=(), kwargs=None):
        ...         seen.append(func.__name__)
        ...         return func(*args, **(kwargs or {}))
        >>> seen, x = [], torch.ones(2)
        >>> with Names():
        ...     _ = double(x)
        >>> seen  # one call, not the addition inside it
        ['double']
    """

    @functools.wraps(func)
    def public(*args: Any, **kwargs: Any) -> Any:
        # one C-level check of the direct arguments (a mode makes it true whatever they
        # are); only a call with a sequence of tensors (separable_conv's factors) is
        # searched further, for a tensor subclass among them
        if has_torch_function_variadic(*args, *kwargs.values()) or (
            any(isinstance(a, list | tuple) for a in args)
            and has_torch_function(_tensors((*args, *kwargs.values())))
        ):
            relevant = _tensors((*args, *kwargs.values()))
            return handle_torch_function(public, relevant, *args, **kwargs)
        return func(*args, **kwargs)

    OVERRIDABLE.append(public)
    return public
