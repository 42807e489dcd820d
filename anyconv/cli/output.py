"""What the commands print: user-controlled strings verbatim, tables, warnings, errors.

Under ``torchrun`` only rank 0 prints (:func:`main_rank`).
"""

from __future__ import annotations

import functools
import io
import os
import re
from collections.abc import Sequence
from typing import Any

from rich import box
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


def titled_table(title: str, columns: Sequence[str], right: Sequence[str] = ()) -> TextTable:
    """A :class:`TextTable` titled ``title``, the ``right`` columns right-aligned."""
    return TextTable(title, columns, right)


def error_line(error: BaseException) -> str:
    """One line for an expected error: an OS error names its file.

    Example:
        >>> error_line(FileNotFoundError(2, "No such file or directory", "a.png"))
        'a.png: No such file or directory'
    """
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        return f"{error.filename}: {error.strerror}"
    return str(error) or type(error).__name__


def print_error(console: Console, message: str) -> None:
    """``error: message`` on ``console``."""
    console.print(Text("error: ", style="bold red") + plain(message), soft_wrap=True)


def warn(message: str) -> None:
    """A warning line on stderr (rank 0 only)."""
    Console(stderr=True, quiet=not main_rank()).print(
        Text("warning: ", style="yellow") + plain(message), soft_wrap=True
    )


NUMBER = re.compile(r"[-+]?[\d.,]+(e[-+]?\d+)?[%x*]?( ± [\d.,]+(e[-+]?\d+)?%?)?|-|")
"""A cell that is a number (``82,826``, ``97.78%``, ``1.2e-07``, ``0.91 ± 0.02``), ``-``
or empty: it is never cut or wrapped."""


class TextTable:
    """A table of plain strings that prints whole: no cell is ever read as rich markup,
    and no number is ever ellipsised.

    Where the console (a terminal, or ``COLUMNS`` / 80 columns when piped) is wide enough
    for its numbers, it prints as a rich table whose text columns wrap; where it is too
    narrow even for the numbers, as plain aligned text, one line per row, which the
    terminal wraps (or the file keeps) whole.

    Example:
        >>> import io
        >>> table = TextTable("models", ("name", "parameters"), right=("parameters",))
        >>> table.add_row("lenet5 [v2]", "82,826")
        >>> out = io.StringIO()
        >>> table.show(Console(file=out, width=12))
        >>> print(out.getvalue().rstrip())
        models
        name         parameters
        -----------  ----------
        lenet5 [v2]      82,826
    """

    def __init__(
        self,
        title: Any,
        columns: Sequence[str],
        right: Sequence[str] = (),
        *,
        compact: bool = False,
    ) -> None:
        self.title = _plain_text(title)
        self.columns = list(columns)
        self.right = set(right)
        self.rows: list[tuple[list[str], bool]] = []
        self.compact = compact  # a rule under the header only, no frame

    def add_row(self, *cells: Any, bold: bool = False) -> None:
        """One row of cells (strings, rich ``Text`` or any value: printed as its text)."""
        self.rows.append(([_plain_text(c) for c in cells], bold))

    def numeric(self, index: int) -> bool:
        """Whether every cell of column ``index`` is a number (or ``-``, or empty)."""
        return all(NUMBER.fullmatch(row[index]) for row, _ in self.rows)

    def widths(self, width: int) -> list[int] | None:
        """Column widths that fit ``width`` characters with the table's borders: each
        column as wide as its longest cell and header, narrowed where the total is too wide
        (the headers of number columns first), but never below its longest number or word,
        so that numbers never wrap and text wraps between words. ``None`` when even the
        numbers and the longest words do not fit."""
        natural, least = [], []
        for i, name in enumerate(self.columns):
            cells = [row[i] for row, _ in self.rows]
            header_word = max(len(w) for w in name.split() or [""])
            natural.append(max([len(name), *map(len, cells), 1]))
            if self.numeric(i):
                least.append(max([header_word, *map(len, cells)]))
            else:
                words = [len(w) for text in [name, *cells] for w in text.split()] or [1]
                least.append(max(words))
        room = width - _overhead(self.compact, len(self.columns))  # padding and borders
        if sum(least) > room:
            return None
        widths = list(natural)
        excess = sum(widths) - room
        # narrow one character at a time: first the headers of number columns (wrapped
        # between words), then the text column with the most room
        numeric = [self.numeric(i) for i in range(len(widths))]
        while excess > 0:
            i = max(
                range(len(widths)),
                key=lambda j: (widths[j] > least[j], numeric[j], widths[j] - least[j]),
            )
            if widths[i] <= least[i]:
                break
            widths[i] -= 1
            excess -= 1
        return widths

    def rich(self, width: int) -> Table | None:
        """The rich table at most ``width`` wide, numbers never wrapped nor cut and text
        wrapped between words; ``None`` when :meth:`widths` finds none."""
        widths = self.widths(width)
        if widths is None:
            return None
        table = _frame(self.compact, title=Text(self.title), title_justify="left")
        for i, name in enumerate(self.columns):
            table.add_column(
                name,
                justify="right" if name in self.right else "left",
                width=widths[i],  # at least its longest number: a number never wraps
                overflow="fold",  # a word longer than the column (never a number)
            )
        for row, bold in self.rows:
            table.add_row(*(Text(c) for c in row), style="bold" if bold else None)
        return table

    def lines(self) -> list[str]:
        """The plain text: the title, the header, a rule, one line per row."""
        rows = [self.columns] + [row for row, _ in self.rows]
        widths = [max(len(r[i]) for r in rows) for i in range(len(self.columns))]

        def line(cells: Sequence[str]) -> str:
            return "  ".join(
                c.rjust(w) if name in self.right else c.ljust(w)
                for c, w, name in zip(cells, widths, self.columns, strict=True)
            ).rstrip()

        rule = line(["-" * w for w in widths])
        return [self.title, line(self.columns), rule, *(line(r) for r, _ in self.rows)]

    def show(self, console: Console) -> None:
        """Print on ``console``: the rich table at the console's width (a terminal's, or
        ``COLUMNS`` / 80 when piped) where its numbers fit, else the plain text."""
        table = self.rich(console.width)
        if table is not None:
            console.print(table)
        else:
            console.print(Text("\n".join(self.lines())), soft_wrap=True)


def _frame(compact: bool, **kwargs: Any) -> Table:
    """An empty rich table: framed, or ``compact`` (a rule under the header, no frame)."""
    if compact:
        return Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, **kwargs)
    return Table(**kwargs)


@functools.cache
def _overhead(compact: bool, columns: int) -> int:
    """Characters a table of ``columns`` columns (:func:`_frame`) adds to their widths."""
    table = _frame(compact)
    for _ in range(columns):
        table.add_column("", width=1)
    table.add_row(*["x"] * columns)
    console = Console(width=10_000, file=io.StringIO())
    console.print(table)
    return max(len(line.rstrip()) for line in console.file.getvalue().splitlines()) - columns


def _plain_text(value: Any) -> str:
    """The text of a cell on one line: a rich ``Text``'s plain text, or ``str(value)``."""
    text = value.plain if isinstance(value, Text) else str(value)
    return text.replace("\n", " ")
