"""The matrix view of a convolution: the sparsity pattern of ``conv_matrix``, drawn (and
its transpose, the transposed convolution's matrix, beside it)."""

from __future__ import annotations

import itertools
import math
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from anyconv._checks import check_bool, check_float_tensor, fail
from anyconv.functional.conv import conv_matrix
from anyconv.padding import output_shape
from anyconv.viz._figure import new_figure, save

MAX_SIDE = 4096


def _index_names(shape: Sequence[int], what: str) -> tuple[list[int], list[str], int]:
    """Tick positions and labels at the start of every block of the flattened index
    ``(c, *spatial)``: one block per channel and, in 2-D and 3-D, per row."""
    channels, *spatial = shape
    row = spatial[-1]  # the innermost axis is one block (a Toeplitz block in 2-D)
    per_channel = math.prod(spatial)
    ticks, labels = [], []
    for c in range(channels):
        for start in range(0, per_channel, row):
            index = []
            rest = start
            for n in reversed(spatial[:-1]):
                index.append(rest // row % n)
                rest //= n
            where = ",".join(str(v) for v in reversed(index))
            ticks.append(c * per_channel + start)
            parts = ([f"c{c}"] if channels > 1 else []) + ([f"{what}{where}"] if where else [])
            labels.append(" ".join(parts) or f"{what}0")
    return ticks, labels, row


def _entry_colours(dense: torch.Tensor) -> tuple[Any, Any, list[float] | None]:
    """Colour map, norm and colour-bar ticks for the nonzero entries of ``M`` (the kernel's
    weights, or sums of them where a border folds taps together): a few distinct values (up
    to 64, e.g. the CLI's weights 1, 2, ..., 9) get one colour and one tick each; otherwise
    a continuous scale over their range, diverging around 0 when they have both signs."""
    import matplotlib
    from matplotlib.colors import BoundaryNorm, Normalize, TwoSlopeNorm

    values = torch.unique(dense[dense != 0]).tolist()
    if not values:
        return "Greys", Normalize(0, 1), None
    lo, hi = values[0], values[-1]
    signed = lo < 0 < hi
    name = "RdBu_r" if signed else "viridis"
    if len(values) <= 64:
        edges = [values[0] - 0.5 * ((values[1] - values[0]) if len(values) > 1 else 1.0)]
        edges += [(a + b) / 2 for a, b in itertools.pairwise(values)]
        edges.append(values[-1] + (values[-1] - edges[-1]))
        cmap = matplotlib.colormaps[name].resampled(len(values))
        return cmap.with_extremes(bad="white"), BoundaryNorm(edges, len(values)), values
    cmap = matplotlib.colormaps[name].with_extremes(bad="white")
    if signed:
        limit = max(-lo, hi)
        return cmap, TwoSlopeNorm(0.0, -limit, limit), None
    return cmap, Normalize(lo, hi), None


def _draw(
    ax: Any,
    dense: torch.Tensor,
    row_shape: tuple[int, ...],
    col_shape: tuple[int, ...],
    names: tuple[str, str],
    colours: tuple[Any, Any],
) -> Any:
    """One matrix on ``ax``: rows the flattened ``row_shape`` ``(c, *spatial)``, columns the
    flattened ``col_shape``; ``names`` the row and column indices' names (``"input"``,
    ``"output"``); ``colours`` the colour map and norm (:func:`_entry_colours`). Returns
    the image."""
    rows, cols = dense.shape
    shown = dense.masked_fill(dense == 0, float("nan")).numpy()
    image = ax.imshow(shown, cmap=colours[0], norm=colours[1], interpolation="nearest")
    ax.set_facecolor("white")
    marks = {"input": "r", "output": "i"}
    col_ticks, col_labels, col_row = _index_names(col_shape, marks[names[1]])
    row_ticks, row_labels, row_row = _index_names(row_shape, marks[names[0]])
    for ticks, channel, draw in (
        (col_ticks, math.prod(col_shape[1:]), ax.axvline),
        (row_ticks, math.prod(row_shape[1:]), ax.axhline),
    ):
        for t in ticks[1:]:
            draw(t - 0.5, color="black", linewidth=1.6 if t % channel == 0 else 0.5)
    step = max(1, len(col_ticks) // 24)
    ax.set_xticks(col_ticks[::step], col_labels[::step], rotation=90, fontsize=7)
    step = max(1, len(row_ticks) // 24)
    ax.set_yticks(row_ticks[::step], row_labels[::step], fontsize=7)
    spatial = col_shape[1:]
    axes = ", ".join(("c", *"hwd"[: len(spatial)]))
    width, height = (v * 13 for v in ax.get_position().size * ax.figure.get_size_inches())
    ax.set_xlabel(
        textwrap.fill(
            f"{names[1]} index ({axes}) flattened; {marks[names[1]]}<n>: where {names[1]} row "
            f"n starts ({col_row} columns)",
            max(24, int(width)),
        ),
        fontsize=8,
    )
    ax.set_ylabel(
        textwrap.fill(
            f"{names[0]} index flattened; {marks[names[0]]}<n>: where {names[0]} row n starts "
            f"({row_row} each)",
            max(24, int(height)),
        ),
        fontsize=8,
    )
    if max(rows, cols) <= 96:  # a faint grid: one cell per entry
        ax.set_xticks([c - 0.5 for c in range(cols + 1)], minor=True)
        ax.set_yticks([r - 0.5 for r in range(rows + 1)], minor=True)
        ax.grid(which="minor", color="#e2e2e2", linewidth=0.4)
        ax.tick_params(which="minor", length=0)
    return image


def plot_conv_matrix(
    weight: torch.Tensor,
    input_shape: Sequence[int],
    path: str | Path,
    *,
    stride: int | Sequence[int] = 1,
    padding: Any = "valid",
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
    flip: bool = False,
    transpose: bool = False,
) -> Path:
    """Draw the matrix ``M`` of a convolution on one sample, ``y = M x``; with
    ``transpose=True`` also, beside it, ``M^T``: the matrix of the transposed convolution
    with the same arguments (:func:`anyconv.conv_transpose`), ``x = M^T y``.

    Rows are the flattened outputs ``(o, *out_spatial)``, columns the flattened inputs
    ``(c, *spatial)`` (the other way round for ``M^T``). Each nonzero entry is coloured by
    its weight (zeros stay white); thin lines separate the blocks of one input row / output
    row (in 2-D: the Toeplitz blocks, circulant with a circular border) and thick lines the
    channels. Tick labels name the input row (``r``) and output row (``i``) where each
    block starts.

    Args:
        weight: ``(C_out, C_in/groups, *kernel)`` with 1 to 3 spatial axes (for ``M^T``:
            the transposed convolution's weight in PyTorch's layout, the same tensor).
        input_shape: ``(C_in, *spatial)`` of one sample (``M^T``'s output).
        path: where to write the picture.
        stride, padding, dilation, groups, padding_mode, flip: as in :func:`anyconv.conv`.
        transpose: draw ``M^T`` beside ``M`` (zero borders only, as the transposed
            convolution).

    Returns:
        ``path``.

    Example:
        >>> import tempfile, os
        >>> w = torch.arange(1.0, 10.0).view(1, 1, 3, 3)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     os.path.getsize(plot_conv_matrix(w, (1, 4, 4), f"{d}/m.png",
        ...                                      padding="same", padding_mode="circular")) > 0
        True
    """
    func = "plot_conv_matrix"
    check_float_tensor(weight, "weight", func)
    check_bool(transpose, "transpose", func)
    if transpose and padding_mode != "zeros":
        raise fail(
            func,
            "padding_mode",
            "'zeros' with transpose=True (a transposed convolution has zero borders only)",
            padding_mode,
        )
    if weight.is_meta or weight.numel() == 0:
        raise fail(
            func,
            "weight",
            "a tensor with values to draw: at least one output channel, input channel and tap, "
            "not on the meta device",
            f"a tensor of shape {tuple(weight.shape)} on {weight.device}",
        )
    matrix = conv_matrix(
        weight.detach().cpu(),
        tuple(input_shape),
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        padding_mode=padding_mode,
        flip=flip,
    )
    rows, cols = matrix.shape
    if max(rows, cols) > MAX_SIDE:
        raise fail(
            func,
            "input_shape",
            f"a problem whose matrix has at most {MAX_SIDE} rows and columns (it is drawn "
            f"densely); this one is {rows} x {cols}",
            tuple(input_shape),
        )
    dense = matrix.to_dense().double()
    spatial = tuple(input_shape[1:])
    out_spatial = output_shape(
        spatial, tuple(weight.shape[2:]), stride=stride, padding=padding, dilation=dilation
    )
    in_shape, out_shape = tuple(input_shape), (weight.shape[0], *out_spatial)
    cmap, norm, ticks = _entry_colours(dense)
    side = min(12.0, max(5.0, 0.16 * max(rows, cols) + 3))
    if transpose:  # M and M^T side by side, cells of one size, tops aligned, placed by hand
        cell = min(side / max(rows, cols), 0.45)
        left, gap, right, top, bottom = 1.3, 1.5, 1.6, 1.1, 1.5
        width = left + cell * (cols + rows) + gap + right
        height = top + cell * max(rows, cols) + bottom
        fig = new_figure(width, height, None)
        axes, x = [], left
        for w, h in ((cols, rows), (rows, cols)):
            box = (x / width, 1 - (top + h * cell) / height, w * cell / width, h * cell / height)
            axes.append(fig.add_axes(box))
            x += w * cell + gap
    else:
        fig = new_figure(
            side * cols / max(rows, cols) + 3.0, max(side * rows / max(rows, cols) + 2.0, 4.2)
        )
        axes = [fig.subplots()]
    image = _draw(axes[0], dense, out_shape, in_shape, ("output", "input"), (cmap, norm))
    if transpose:
        _draw(axes[1], dense.T, in_shape, out_shape, ("input", "output"), (cmap, norm))
        axes[0].set_title("M: the convolution, y = M x", fontsize=9)
        axes[1].set_title("M^T: the transposed convolution,\nx = M^T y", fontsize=9)
    if transpose:
        bar = fig.add_axes(
            (
                (width - right + 0.35) / width,
                bottom / height,
                0.18 / width,
                1 - (top + bottom) / height,
            )
        )
        bar = fig.colorbar(image, cax=bar, ticks=ticks)
    else:
        bar = fig.colorbar(image, ax=list(axes), shrink=0.8, ticks=ticks)
    bar.set_label(
        "entry of M = kernel weight (blank: 0)"
        if padding_mode == "zeros"
        else "entry of M: a kernel weight, or the sum of those\n"
        "the border folds onto one input (blank: 0)"
    )
    if ticks is not None and len(ticks) > 12:  # label every few of many distinct weights
        bar.set_ticks(ticks[:: math.ceil(len(ticks) / 12)])
    circulant = padding_mode == "circular"
    kind = {1: "circulant" if circulant else "Toeplitz"}.get(
        len(spatial), "block circulant" if circulant else "doubly block Toeplitz"
    )
    nonzero = int((dense != 0).sum())
    what = (
        "convolution and transposed convolution as matrices: y = M x, x = M^T y"
        if transpose
        else "convolution as a matrix: y = M x"
    )
    fig.suptitle(
        f"{what}, M is {rows} x {cols} ({kind}, {nonzero} nonzeros, "
        f"{nonzero / (rows * cols):.0%} dense)\nkernel {tuple(weight.shape)}, input "
        f"{tuple(input_shape)}, padding {padding!r} ({padding_mode}), stride {stride}",
        fontsize=9,
    )
    return save(fig, path)
