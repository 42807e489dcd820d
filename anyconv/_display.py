"""How results show themselves in Jupyter: HTML tables for table-like results and inline
pictures for the files the plotting functions write (IPython's ``_repr_html_`` /
``_repr_png_`` protocol; nothing here imports IPython).

The types keep their Python behaviour: :class:`Rows` is a ``list`` of dicts, :class:`Table`
a ``dict`` and :class:`Picture` a ``pathlib.Path``; only the notebook's rich display is
added, so code that indexes, compares or serialises them (``json.dumps``) is unchanged.
"""

from __future__ import annotations

import base64
import html
import math
import pathlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

_STYLE = "border-collapse:collapse;font-variant-numeric:tabular-nums"
_CELL = "padding:2px 8px;border-bottom:1px solid #ddd"


def cell_text(value: Any) -> str:
    """A value as a table cell shows it: floats to four significant digits, whole numbers
    with thousands separators, per-axis tuples as ``5x5``, booleans as yes/no, None as -.

    Example:
        >>> [cell_text(v) for v in (0.123456, 12345, (5, 5), True, None, "a")]
        ['0.1235', '12,345', '5x5', 'yes', '-', 'a']
    """
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    if isinstance(value, tuple | list) and value and all(isinstance(v, int | float) for v in value):
        return "x".join(cell_text(v) if isinstance(v, float) else str(v) for v in value)
    return str(value)


def html_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    caption: str | None = None,
    notes: Sequence[str] = (),
    left: int = 1,
    bold_last: bool = False,
) -> str:
    """An HTML table of already formatted cells (escaped here), as Jupyter shows it.

    Args:
        columns: the header cells.
        rows: one sequence of cells per row (strings, or values for :func:`cell_text`).
        caption: a title above the table.
        notes: lines of small print below it.
        left: how many leading columns are left-aligned (names); the rest, numbers, right.
        bold_last: the last row is a total.

    Example:
        >>> print(html_table(["layer", "params"], [["conv", 60]]))  # doctest: +ELLIPSIS
        <table ...><thead><tr><th ...>layer</th><th ...>params</th></tr></thead><tbody><tr>...
    """

    def cells(values: Sequence[Any], tag: str, bold: bool = False) -> str:
        out = []
        for i, value in enumerate(values):
            text = value if isinstance(value, str) else cell_text(value)
            align = "left" if i < left else "right"
            weight = ";font-weight:bold" if bold else ""
            out.append(
                f'<{tag} style="{_CELL};text-align:{align}{weight}">{html.escape(text)}</{tag}>'
            )
        return "<tr>" + "".join(out) + "</tr>"

    body = list(rows)
    parts = [f'<table style="{_STYLE}">']
    if caption:
        parts.append(
            f'<caption style="text-align:left;font-weight:bold">{html.escape(caption)}</caption>'
        )
    parts.append("<thead>" + cells(columns, "th") + "</thead><tbody>")
    parts += [cells(r, "td", bold_last and i == len(body) - 1) for i, r in enumerate(body)]
    parts.append("</tbody></table>")
    parts += [f'<p style="font-size:smaller">{html.escape(n)}</p>' for n in notes]
    return "".join(parts)


def columns_of(rows: Iterable[dict[str, Any]]) -> list[str]:
    """Every key of ``rows`` in first-seen order."""
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


class Rows(list):
    """A ``list`` of dicts (one per row, as before) that Jupyter shows as an HTML table.

    Example:
        >>> rows = Rows([{"shift": (1,), "error": 0.5}], caption="shift equivariance")
        >>> rows[0]["error"], rows == [{"shift": (1,), "error": 0.5}]
        (0.5, True)
        >>> "<td" in rows._repr_html_()
        True
    """

    def __init__(self, rows: Iterable[dict[str, Any]] = (), caption: str | None = None) -> None:
        super().__init__(rows)
        self.caption = caption

    def _repr_html_(self) -> str:
        keys = columns_of(self)
        headers = [k.replace("_", " ") for k in keys]
        return html_table(
            headers, ([row.get(k) for k in keys] for row in self), caption=self.caption
        )


class Table(dict):
    """A ``dict`` (as before: keys, values, ``json.dumps``) that Jupyter shows as an HTML
    table drawn by ``render(self)``."""

    def __init__(self, data: dict[str, Any], render: Callable[[dict[str, Any]], str]) -> None:
        super().__init__(data)
        self._render = render

    def _repr_html_(self) -> str:
        return self._render(self)


_IMAGES = {".gif": "image/gif", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}


def image_html(path: str | pathlib.Path, alt: str = "") -> str | None:
    """An ``<img>`` holding the picture at ``path`` (PNG, GIF, JPEG, WebP, SVG) as a data
    URI, or None when there is no such file."""
    path = pathlib.Path(path)
    mime = {".png": "image/png", ".svg": "image/svg+xml", **_IMAGES}.get(path.suffix.lower())
    if mime is None or not path.is_file():
        return None
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img src="data:{mime};base64,{data}" alt="{html.escape(alt or path.name)}"/>'


class Picture(type(pathlib.Path())):  # type: ignore[misc]
    """The path of a picture a plotting function wrote: a ``pathlib.Path`` in every way
    (``str``, ``open``, ``==`` a ``Path``), which a notebook shows inline, read from the
    file when shown (PNG as PNG; a GIF animation, JPEG or SVG as an image; an HTML page
    in a frame). A file that is gone by then shows as the path.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = Picture(d, "none.png")
        ...     p == pathlib.Path(d) / "none.png", p._repr_png_() is None
        (True, True)
    """

    def _repr_png_(self) -> bytes | None:
        if self.suffix.lower() != ".png" or not self.is_file():
            return None
        return self.read_bytes()

    def _repr_svg_(self) -> str | None:
        if self.suffix.lower() != ".svg" or not self.is_file():
            return None
        return self.read_text()

    def _repr_html_(self) -> str | None:
        suffix = self.suffix.lower()
        if suffix in _IMAGES:
            return image_html(self)
        if suffix in (".html", ".htm") and self.is_file():
            page = html.escape(self.read_text(encoding="utf-8"), quote=True)
            return (
                f'<iframe srcdoc="{page}" style="width:100%;height:640px;border:1px solid #ddd">'
                "</iframe>"
            )
        return None


def picture(path: str | pathlib.Path) -> Picture:
    """``path`` as a :class:`Picture`."""
    return Picture(path)
