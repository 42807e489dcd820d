"""Shift equivariance, drawn: the error of each layer against the input shift, and how
often a classifier keeps its answer."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from anyconv._checks import fail
from anyconv.viz._figure import new_figure, save


def _shift_value(shift: Sequence[int]) -> float:
    """A shift drawn on one axis: its common value, or its length for mixed shifts."""
    return shift[0] if len(set(shift)) == 1 else math.copysign(math.hypot(*shift), sum(shift))


def plot_equivariance(
    layers: Mapping[str, Sequence[Mapping[str, Any]]],
    path: str | Path,
    *,
    consistency: Mapping[str, Any] | None = None,
    title: str = "",
    mode: str = "crop",
) -> Path:
    """Relative equivariance error against input shift, one line per layer, and (if given)
    the consistency of the predictions.

    Filled markers: shifts that are a multiple of the layer's total stride (an exact
    output shift exists); hollow markers: shifts that are not, compared with the nearest
    output shift. Missing points had no output position to compare (``"crop"`` mode, the
    field wider than the input).

    Args:
        layers: ``{name: rows}`` as :func:`anyconv.analysis.layer_equivariance` returns.
        path: where to write the picture.
        consistency: :func:`anyconv.analysis.shift_consistency`'s result, drawn on the
            right.
        title: what was measured, e.g. ``"lenet5 trained on digits"``.
        mode: the comparison mode used, for the axis label.

    Returns:
        ``path``.

    Example:
        >>> import tempfile, os, torch
        >>> import anyconv.nn as ann
        >>> from anyconv.analysis import layer_equivariance
        >>> net = torch.nn.Sequential(ann.Conv2d(1, 2, 3, padding="same"), ann.MaxPool2d(2))
        >>> errors = layer_equivariance(net, torch.randn(2, 1, 16, 16), range(-2, 3))
        >>> with tempfile.TemporaryDirectory() as d:
        ...     os.path.getsize(plot_equivariance(errors, f"{d}/e.png")) > 0
        True
    """
    if not layers or not all(rows for rows in layers.values()):
        raise fail("plot_equivariance", "layers", "a non-empty {name: rows} mapping", layers)
    import matplotlib

    fig = new_figure(12.5 if consistency else 8.0, 5.0)
    axes = fig.subplots(1, 2 if consistency else 1, squeeze=False)[0]
    ax = axes[0]
    colours = matplotlib.colormaps["viridis"]
    for i, (name, rows) in enumerate(layers.items()):
        colour = colours(i / max(len(layers) - 1, 1) * 0.9)
        xs = [_shift_value(r["shift"]) for r in rows]
        ys = [r["error"] for r in rows]
        stride = rows[0].get("stride")
        jump = "" if stride is None else "x".join(f"{s:.3g}" for s in stride)
        ax.plot(xs, ys, color=colour, linewidth=1.2, label=f"{name} (total stride {jump})")
        for x, y, r in zip(xs, ys, rows, strict=True):
            if y == y:  # not NaN
                ax.plot(
                    x,
                    y,
                    "o",
                    color=colour,
                    markerfacecolor=colour if r["aligned"] else "white",
                    markersize=5,
                )
    along = "every axis" if len(next(iter(layers.values()))[0]["shift"]) > 1 else "the axis"
    ax.set_xlabel(f"input shift in samples (the same along {along})")
    ax.set_ylabel("relative error ||f(shift x) - shift f(x)|| / ||shift f(x)||")
    ax.set_title(
        f"error per layer ({mode} mode)\nhollow: the shift is not a multiple of the total stride",
        fontsize=9,
    )
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0, -0.14), ncol=2, frameon=False)
    if consistency:
        right = axes[1]
        rows = consistency["per_shift"]
        xs = [_shift_value(r["shift"]) for r in rows]
        right.bar(
            xs,
            [100 * r["consistency"] for r in rows],
            color="#4a78b5",
            width=0.7,
            label="prediction unchanged (%)",
        )
        right.set_ylim(0, 105)
        right.set_xlabel("input shift in samples")
        right.set_ylabel("predictions unchanged (%)", color="#4a78b5")
        twin = right.twinx()
        twin.plot(
            xs,
            [r["softmax_change"] for r in rows],
            "o-",
            color="#c0504d",
            label="mean softmax change",
        )
        twin.set_ylim(0, max(0.05, 1.1 * max(r["softmax_change"] for r in rows)))
        twin.set_ylabel("mean softmax change (total variation)", color="#c0504d")
        right.set_title(
            f"consistency: {100 * consistency['consistency']:.1f}% of the predictions\n"
            "unchanged, over the nonzero shifts",
            fontsize=9,
        )
        right.grid(alpha=0.3)
    fig.suptitle(
        f"{title}: shift equivariance and consistency" if title else "shift equivariance",
        fontsize=11,
    )
    return save(fig, path)
