"""The matrix view of a convolution: the sparsity pattern of ``conv_matrix``, drawn."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from anyconv._checks import check_float_tensor, fail
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
) -> Path:
    """Draw the matrix ``M`` of a convolution on one sample, ``y = M x``.

    Rows are the flattened outputs ``(o, *out_spatial)``, columns the flattened inputs
    ``(c, *spatial)``. Each nonzero entry is coloured by its weight (zeros stay white);
    thin lines separate the blocks of one input row / output row (in 2-D: the Toeplitz
    blocks, circulant with a circular border) and thick lines the channels. Tick labels
    name the input row (``r``) and output row (``i``) where each block starts.

    Args:
        weight: ``(C_out, C_in/groups, *kernel)`` with 1 to 3 spatial axes.
        input_shape: ``(C_in, *spatial)`` of one sample.
        path: where to write the picture.
        stride, padding, dilation, groups, padding_mode, flip: as in :func:`anyconv.conv`.

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
    limit = float(dense.abs().max()) or 1.0
    side = min(12.0, max(5.0, 0.16 * max(rows, cols) + 3))
    fig = new_figure(side * cols / max(rows, cols) + 2.5, side * rows / max(rows, cols) + 1.8)
    ax = fig.subplots()
    shown = dense.masked_fill(dense == 0, float("nan")).numpy()
    image = ax.imshow(shown, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
    ax.set_facecolor("white")
    fig.colorbar(image, ax=ax, shrink=0.8, label="weight (blank: 0)")
    in_ticks, in_labels, in_row = _index_names(tuple(input_shape), "r")
    out_ticks, out_labels, out_row = _index_names((weight.shape[0], *out_spatial), "i")
    for ticks, channel, draw in (
        (in_ticks, math.prod(spatial), ax.axvline),
        (out_ticks, math.prod(out_spatial), ax.axhline),
    ):
        for t in ticks[1:]:
            draw(t - 0.5, color="black", linewidth=1.6 if t % channel == 0 else 0.5)
    step = max(1, len(in_ticks) // 24)
    ax.set_xticks(in_ticks[::step], in_labels[::step], rotation=90, fontsize=7)
    step = max(1, len(out_ticks) // 24)
    ax.set_yticks(out_ticks[::step], out_labels[::step], fontsize=7)
    names = ", ".join(("c", *"hwd"[: len(spatial)]))
    ax.set_xlabel(
        f"input index ({names}) flattened; r<n>: where input row n starts ({in_row} columns)",
        fontsize=8,
    )
    ax.set_ylabel(
        f"output index flattened; i<n>: where output row n starts ({out_row} each)", fontsize=8
    )
    if max(rows, cols) <= 96:  # a faint grid: one cell per entry
        ax.set_xticks([c - 0.5 for c in range(cols + 1)], minor=True)
        ax.set_yticks([r - 0.5 for r in range(rows + 1)], minor=True)
        ax.grid(which="minor", color="#e2e2e2", linewidth=0.4)
        ax.tick_params(which="minor", length=0)
    circulant = padding_mode == "circular"
    kind = {1: "circulant" if circulant else "Toeplitz"}.get(
        len(spatial), "block circulant" if circulant else "doubly block Toeplitz"
    )
    nonzero = int((dense != 0).sum())
    fig.suptitle(
        f"convolution as a matrix: y = M x, M is {rows} x {cols} ({kind}, {nonzero} nonzeros, "
        f"{nonzero / (rows * cols):.0%} dense)\nkernel {tuple(weight.shape)}, input "
        f"{tuple(input_shape)}, padding {padding!r} ({padding_mode}), stride {stride}",
        fontsize=9,
    )
    return save(fig, path)
