"""Models of your own, named by an import path ``"package.module:Name"``.

``Name`` is a ``torch.nn.Module`` subclass or a function annotated to return one
(``def build(num_classes: int = 10) -> torch.nn.Module``). The annotation is what lets a
run folder name a function safely: a run folder may come from someone else, and a
function is called only when its own source says it builds a module, never a function
such as ``subprocess:run`` that a tampered ``config.json`` could name. The module is
imported as Python imports it (installed, on ``sys.path``, or in the current folder),
which runs its top-level code as any import does.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import os
import re
import sys
import typing
from collections.abc import Callable, Iterator
from typing import Any

import torch

from anyconv._checks import fail

__all__ = ["build_imported", "class_path", "import_builder", "is_import_path", "short_name"]

_NAME = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
IMPORT_PATH = re.compile(rf"({_NAME}):({_NAME})")
"""``module.path:attribute.path``, the form of ``pip``'s entry points."""

Builder = Callable[..., torch.nn.Module]


def is_import_path(name: Any) -> bool:
    """Whether ``name`` has the form ``"package.module:Name"``.

    Example:
        >>> is_import_path("mynets:SmallNet"), is_import_path("lenet5")
        (True, False)
    """
    return isinstance(name, str) and IMPORT_PATH.fullmatch(name) is not None


def class_path(model: torch.nn.Module | type) -> str:
    """``"module:QualName"`` of a module's class (or of a class).

    Example:
        >>> class_path(torch.nn.Linear(2, 3))
        'torch.nn.modules.linear:Linear'
    """
    cls = model if isinstance(model, type) else type(model)
    return f"{cls.__module__}:{cls.__qualname__}"


def short_name(name: str) -> str:
    """The part of an import path after the last dot or colon, for titles and folder names;
    any other name as it is.

    Example:
        >>> short_name("mynets.small:SmallNet"), short_name("lenet5")
        ('SmallNet', 'lenet5')
    """
    return re.split(r"[:.]", name)[-1] if is_import_path(name) else name


@contextlib.contextmanager
def _current_folder_importable() -> Iterator[None]:
    """The current folder on the module search path (last, after everything installed)
    while importing: ``python -m`` puts it there, the ``anyconv`` script does not."""
    here = os.getcwd()
    added = here not in sys.path and "" not in sys.path
    if added:
        sys.path.append(here)
    try:
        yield
    finally:
        if added and here in sys.path:
            sys.path.remove(here)


def _returns_module(function: Callable[..., Any]) -> bool:
    try:
        hint = typing.get_type_hints(function).get("return")
    except Exception:  # an annotation that does not resolve: not a promise of a module
        return False
    return inspect.isclass(hint) and issubclass(hint, torch.nn.Module)


def import_builder(path: str, func: str = "import_builder") -> Builder:
    """The class or function that ``path`` names, imported; one ``ValueError`` naming the
    path when it cannot be imported or is not a model builder (see the module's doc).

    Example:
        >>> import_builder("torch.nn:Identity")
        <class 'torch.nn.modules.linear.Identity'>
        >>> import_builder("subprocess:run")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: ... 'subprocess:run' is a function without a return annotation ...
    """
    match = IMPORT_PATH.fullmatch(path) if isinstance(path, str) else None
    if match is None:
        raise fail(func, "model", "an import path 'package.module:Name'", path)
    module_name, attribute = match.groups()
    try:
        with _current_folder_importable():
            target: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(
            f"{func}(): model {path!r} cannot be imported ({error}); install its package or "
            "run from the folder that holds its module"
        ) from None
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ValueError(f"{func}(): model {path!r}: module {module_name!r} has no {part!r}")
        target = getattr(target, part)
    if inspect.isclass(target):
        if issubclass(target, torch.nn.Module):
            return target
        raise ValueError(f"{func}(): model {path!r} is a class but not a torch.nn.Module")
    if inspect.isfunction(target):
        if _returns_module(target):
            return target
        raise ValueError(
            f"{func}(): model {path!r} is a function without a return annotation of a "
            "torch.nn.Module (write 'def build(...) -> torch.nn.Module'; a function is "
            "called only when it says it builds a module)"
        )
    raise ValueError(
        f"{func}(): model {path!r} is a {type(target).__name__}, not a torch.nn.Module "
        "class or a function that returns one"
    )


def _accepts(builder: Builder) -> tuple[set[str], bool]:
    """The keyword names ``builder`` takes, and whether it takes any (``**kwargs``)."""
    parameters = list(inspect.signature(builder).parameters.values())
    names = {p.name for p in parameters if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    return names, any(p.kind is p.VAR_KEYWORD for p in parameters)


def build_imported(
    path: str,
    kwargs: dict[str, Any],
    data_kwargs: dict[str, Any] | None = None,
    func: str = "build_imported",
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Build the model ``path`` names with ``kwargs`` and, of ``data_kwargs``
    (``in_channels``, ``num_classes``, ``input_size``), those its signature takes.

    Returns:
        ``(model, arguments)``: the module and every keyword argument it was built with
        (what a run folder records to rebuild it).

    Example:
        >>> net, arguments = build_imported(
        ...     "torch.nn:Linear", {"in_features": 4}, {"out_features": 2, "num_classes": 2})
        >>> type(net).__name__, arguments
        ('Linear', {'in_features': 4, 'out_features': 2})
    """
    builder = import_builder(path, func)
    names, anything = _accepts(builder)
    arguments = dict(kwargs)
    for key, value in (data_kwargs or {}).items():
        if key not in arguments and (key in names or anything):
            arguments[key] = value
    unknown = sorted(set(arguments) - names) if not anything else []
    if unknown:
        raise ValueError(
            f"{func}(): model {path!r} takes no argument {unknown[0]!r}; it takes "
            f"{', '.join(sorted(names)) or 'no keyword arguments'}"
        )
    try:
        inspect.signature(builder).bind(**arguments)
    except TypeError as error:
        raise ValueError(f"{func}(): model {path!r} cannot be built: {error}") from None
    model = builder(**arguments)
    if not isinstance(model, torch.nn.Module):
        raise ValueError(
            f"{func}(): model {path!r} returned a {type(model).__name__}, not a torch.nn.Module"
        )
    return model, arguments
