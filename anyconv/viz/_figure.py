"""Figures without pyplot: ``matplotlib.figure.Figure`` renders with Agg on ``savefig``,
so drawing here never touches pyplot's global backend or figure list."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def new_figure(width: float, height: float, layout: str | None = "constrained") -> Any:
    """A stand-alone figure (no pyplot, no backend switch), at most 40 inches a side;
    ``layout=None`` for one placed by hand (``subplots_adjust``)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(min(width, 40.0), min(height, 40.0)), layout=layout)


def save(fig: Any, path: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` (format from the suffix, PNG usually); creates the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path


def grid(n: int, columns: int | None = None) -> tuple[int, int]:
    """Rows and columns of a near-square grid holding ``n`` panels."""
    import math

    columns = columns or max(1, math.ceil(math.sqrt(n)))
    return max(1, math.ceil(n / columns)), columns
