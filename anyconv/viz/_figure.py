"""Figures without pyplot: ``matplotlib.figure.Figure`` renders with Agg on ``savefig``,
so drawing here never touches pyplot's global backend or figure list."""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

from anyconv._display import Picture


def new_figure(width: float, height: float, layout: str | None = "constrained") -> Any:
    """A stand-alone figure (no pyplot, no backend switch), at most 40 inches a side;
    ``layout=None`` for one placed by hand (``subplots_adjust``). Its texts are drawn as
    written, never as mathtext (:func:`_plain_text_figure`).

    Example:
        >>> import io
        >>> fig = new_figure(2, 1)
        >>> _ = fig.suptitle("price $5 and $_$")
        >>> fig.savefig(io.BytesIO())  # mathtext would raise ParseSyntaxException on '$_$'
        >>> fig.texts[0].get_parse_math()
        False
    """
    return _plain_text_figure()(figsize=(min(width, 40.0), min(height, 40.0)), layout=layout)


@functools.cache
def _plain_text_figure() -> type:
    """``matplotlib.figure.Figure`` whose every text is drawn as written: a file, folder,
    data set or class name holding ``$`` (``folder:d$_$``, a class ``c$_$at``) is never
    read as mathtext, which mis-set it, or raised ParseSyntaxException while the picture
    was drawn: ``anyconv equivariance`` failed with it after the work, and training left
    its filters, samples and feature maps out with a raw warning. No picture of anyconv
    sets mathtext on purpose."""
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.text import Text
    from matplotlib.ticker import LogFormatter, LogFormatterMathtext

    class PlainLogFormatter(LogFormatter):
        def _num_to_string(self, x: float, vmin: float, vmax: float) -> str:
            return f"{x:g}"  # 0.001, 0.1, 1, 10, 1000, 1e+06

    def plain_log_labels(figure: Figure) -> None:
        # a log axis labels its ticks in mathtext ($\mathdefault{10^{2}}$), which would
        # show as written: the same ticks as plain numbers (0.1, 1, 10, 100) instead
        for ax in figure.axes:
            for axis in (ax.xaxis, ax.yaxis, getattr(ax, "zaxis", None)):
                if axis is None:
                    continue
                for get, put in (
                    (axis.get_major_formatter, axis.set_major_formatter),
                    (axis.get_minor_formatter, axis.set_minor_formatter),
                ):
                    old = get()
                    if isinstance(old, LogFormatterMathtext):
                        put(
                            PlainLogFormatter(
                                base=old._base,
                                labelOnlyBase=old.labelOnlyBase,
                                minor_thresholds=old.minor_thresholds,
                                linthresh=old._linthresh,
                            )
                        )

    class PlainTextFigure(Figure):
        def draw(self, renderer: Any) -> None:
            plain_log_labels(self)
            for text in self.findobj(Text):
                text.set_parse_math(False)
            with matplotlib.rc_context({"text.parse_math": False}):  # texts made while drawn
                super().draw(renderer)

    return PlainTextFigure


def output_path(path: str | Path, suffix: str = ".png") -> Path:
    """The file a picture goes to: ``path``, with ``suffix`` added when it has none (as
    matplotlib would add ``.png``, so that the path reported is the one written). An
    existing folder, or a path under a file or under a broken or looping symbolic link, is
    refused rather than written next to.

    Example:
        >>> output_path("runs/conv", ".gif").as_posix()
        'runs/conv.gif'
    """
    path = Path(path)
    loop = next((p for p in path.parents if p.is_symlink() and not p.exists()), None)
    if loop is not None:  # mkdir said only "loop: File exists"
        raise NotADirectoryError(f"{path}: {loop} is a broken or looping symbolic link")
    blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise NotADirectoryError(f"{path}: {blocker} is a file, not a folder")
    if path.is_dir():
        raise IsADirectoryError(
            f"{path}: is a folder; give a file name, e.g. {path / 'out'}{suffix}"
        )
    return path if path.suffix else path.with_suffix(suffix)


def write_file(path: str | Path, write: Any) -> Path:
    """Write a picture through the checkpoints' atomic write: ``write(f)`` fills a
    temporary file beside ``path``, which replaces ``path`` only once it is whole. A full
    disk or any other failure leaves an earlier file at ``path`` as it was, and the error
    names ``path`` (the OS reports a failed write without a file name).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     write_file(f"{d}/a.txt", lambda f: f.write(b"hi")).read_bytes()
        b'hi'
    """
    from anyconv.train.checkpoint import NoSpaceLeft, atomic_write

    path = Path(path)
    try:
        return atomic_write(path, write, advice="free some space and draw it again")
    except NoSpaceLeft:  # says which file, and that the earlier one is kept
        raise
    except OSError as error:
        if error.filename is not None or error.errno is None:
            raise
        reason = error.strerror or str(error)
        kept = "; the file there before is kept" if path.exists() else ""
        raise OSError(error.errno, f"{reason}, not written{kept}", str(path)) from error


def save(fig: Any, path: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` (format from the suffix, PNG when it has none) atomically
    (:func:`write_file`) and return the path written (:func:`output_path`) as a
    :class:`~anyconv._display.Picture`, a ``Path`` that a Jupyter notebook shows inline;
    creates the folder."""
    path = output_path(path)
    fmt = path.suffix[1:].lower()
    formats = sorted(fig.canvas.get_supported_filetypes())
    if fmt not in formats:
        allowed = ", ".join(f".{f}" for f in formats)
        raise ValueError(f"{path}: a picture's name must end in one of {allowed}")
    return Picture(write_file(path, lambda f: fig.savefig(f, format=fmt, dpi=dpi)))


def separate_labels(fig: Any, labels: list[Any], gap: float = 2.0) -> None:
    """Move annotations (``textcoords="offset points"``) up or down, as little as needed,
    until no two overlap on the drawn figure: labels of points that nearly coincide stack
    instead of printing on top of each other. A label keeps to its axes where it can. Give
    them ``arrowprops``, so that a moved label keeps a leader line to its point. Call it
    last: the figure's layout is fixed as drawn here.

    Example:
        >>> fig = new_figure(4, 3)
        >>> ax = fig.subplots()
        >>> labels = [ax.annotate(t, (1, 1), textcoords="offset points", xytext=(5, 5))
        ...           for t in ("one", "two")]
        >>> separate_labels(fig, labels)
        >>> labels[0].xyann != labels[1].xyann
        True
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()  # the layout, so that the extents are those of the picture
    renderer = canvas.get_renderer()

    def text_box(label: Any) -> Any:  # the text alone, without its leader line
        label.update_positions(renderer)
        return Text.get_window_extent(label, renderer)

    placed: list[Any] = []
    for label in labels:
        dx, dy = label.xyann
        step = (text_box(label).height + gap) * 72 / fig.dpi  # one label's height, in points
        inside = label.axes.bbox if label.axes is not None else fig.bbox
        shifts = [0.0] + [
            sign * k * step for k in range(1, 2 * len(labels) + 2) for sign in (1, -1)
        ]
        fallback = None
        for shift in shifts:
            label.xyann = (dx, float(dy + shift))
            box = text_box(label)
            if any(b.overlaps(box) for b in placed):
                continue
            if inside.y0 <= box.y0 and box.y1 <= inside.y1:
                break
            fallback = shift if fallback is None else fallback
        else:  # no free place inside the axes: the nearest free one outside
            label.xyann = (dx, float(dy + (fallback or 0.0)))
        placed.append(text_box(label))
    # the layout stays as drawn: laid out again around the moved labels, the axes would
    # change their scale and the labels their places
    fig.set_layout_engine("none")


def grid(n: int, columns: int | None = None) -> tuple[int, int]:
    """Rows and columns of a near-square grid holding ``n`` panels."""
    import math

    columns = columns or max(1, math.ceil(math.sqrt(n)))
    return max(1, math.ceil(n / columns)), columns


def mosaic(
    ax: Any,
    tiles: list[Any],
    labels: list[str],
    cols: int,
    *,
    cmap: str = "viridis",
    lo: float | None = None,
    hi: float | None = None,
) -> Any:
    """Equal-size tiles ``(h, w)`` (or RGB ``(h, w, 3)``) in rows of ``cols``, drawn as one
    image (one ``imshow`` instead of an Axes per tile, many times faster), each titled by
    its label. Every tile takes one unit of the axes, so rows of different tile sizes in a
    figure line up. Returns the image (for a colour bar)."""
    import matplotlib
    import numpy as np

    first = np.asarray(tiles[0])
    h, w = first.shape[:2]
    gap = max(1, round(max(h, w) / 8))
    unit_w, unit_h = w + gap, h + gap + max(1, round(h / 4))  # room for the label
    rows = math.ceil(len(tiles) / cols)
    shape = (rows * unit_h, min(len(tiles), cols) * unit_w - gap, *first.shape[2:])
    image = np.full(shape, np.nan if first.ndim == 2 else 1.0)
    for i, tile in enumerate(tiles):
        top = (i // cols) * unit_h + (unit_h - h - gap)
        left = (i % cols) * unit_w
        image[top : top + h, left : left + w] = np.asarray(tile)
    colours = matplotlib.colormaps[cmap].with_extremes(bad="white")
    shown = ax.imshow(
        image,
        cmap=colours,
        vmin=lo,
        vmax=hi,
        interpolation="nearest",
        extent=(0, shape[1] / unit_w, shape[0] / unit_w, 0),
    )
    for i, label in enumerate(labels):
        x = (i % cols) + w / (2 * unit_w)
        y = ((i // cols) * unit_h + (unit_h - h - gap)) / unit_w
        ax.text(x, y - 0.04, label, ha="center", va="bottom", fontsize=6)
    ax.set_xlim(0, cols)
    ax.set_ylim(shape[0] / unit_w, 0)
    ax.set_axis_off()
    return shown
