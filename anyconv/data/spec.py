"""The data spec: the one string that names a data set, ``NAME`` or ``NAME:ARG``, parsed once.

``digits``, ``mnist1d`` and ``moving-digits`` are a loader's name alone; ``idx:DIR``,
``folder:DIR``, ``npz:FILE`` and ``ucr:PREFIX`` add the loader's argument after the first
colon (a path may hold more colons). Everything that reads a spec -- the loader registry,
the recipes, the run folder's name, titles -- takes a :class:`DataSpec` and asks it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anyconv._checks import fail


@dataclass(frozen=True)
class DataSpec:
    """A parsed data spec.

    Attributes:
        name: the loader's registered name (``"idx"``).
        argument: what follows the first colon (``"/data/mnist"``), or None.

    Example:
        >>> spec = DataSpec.parse("idx:/data/mnist/")
        >>> spec.name, spec.argument, str(spec)
        ('idx', '/data/mnist/', 'idx:/data/mnist/')
        >>> spec.label, spec.slug
        ('idx:mnist', 'idx-mnist')
    """

    name: str
    argument: str | None = None

    @classmethod
    def parse(cls, spec: Any, func: str = "load_dataset", arg: str = "spec") -> DataSpec:
        """``"NAME"`` or ``"NAME:ARG"`` as a :class:`DataSpec` (a :class:`DataSpec` passes
        through); an empty argument counts as none.

        Example:
            >>> DataSpec.parse("digits"), DataSpec.parse("npz:")
            (DataSpec(name='digits', argument=None), DataSpec(name='npz', argument=None))
        """
        if isinstance(spec, DataSpec):
            return spec
        if not isinstance(spec, str):
            raise fail(func, arg, "a dataset spec string", spec, TypeError)
        name, _, argument = spec.partition(":")
        return cls(name, argument or None)

    def __str__(self) -> str:
        return self.name if self.argument is None else f"{self.name}:{self.argument}"

    @property
    def label(self) -> str:
        """The spec for a title: a folder or file argument by its last name only.

        Example:
            >>> DataSpec.parse("ucr:/data/UCR/ECG200").label, DataSpec.parse("digits").label
            ('ucr:ECG200', 'digits')
        """
        if self.argument is None:
            return self.name
        return f"{self.name}:{Path(self.argument.rstrip('/')).name}"

    @property
    def slug(self) -> str:
        """A file-name-safe short form (run folders are named after it).

        Example:
            >>> DataSpec.parse("folder:/a b/c[1]").slug, DataSpec.parse("digits").slug
            ('folder-c-1', 'digits')
        """
        text = self.label.replace(":", "-")
        return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "data"
