"""What the commands print: user-controlled strings verbatim, tables, warnings, errors.

Under ``torchrun`` only rank 0 prints (:func:`main_rank`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text


def main_rank() -> bool:
    """Whether this process prints: not under ``torchrun``, or its rank 0."""
    return os.environ.get("RANK", "0") == "0"


def plain(value: Any) -> Text:
    """``value`` as text that rich prints verbatim: file, folder and class names are never
    read as markup (``[red]`` stays ``[red]``).

    Example:
        >>> plain("[red]").plain
        '[red]'
    """
    return Text(str(value))


def titled_table(title: str, columns: Sequence[str], right: Sequence[str] = ()) -> Table:
    """A rich table titled ``title`` (verbatim), the ``right`` columns right-aligned."""
    result = Table(title=plain(title))
    for column in columns:
        result.add_column(column, justify="right" if column in right else "left")
    return result


def print_error(console: Console, message: str) -> None:
    """``error: message`` on ``console``."""
    console.print(Text("error: ", style="bold red") + plain(message), soft_wrap=True)


def warn(message: str) -> None:
    """A warning line on stderr (rank 0 only)."""
    Console(stderr=True, quiet=not main_rank()).print(
        Text("warning: ", style="yellow") + plain(message), soft_wrap=True
    )
