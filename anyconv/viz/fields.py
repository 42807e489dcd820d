"""Receptive fields, drawn: for one output position of each layer, which input samples
reach it (the measured gradient) inside the analytic field's box."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch

from anyconv._checks import fail
from anyconv.analysis.receptive import axes_text
from anyconv.viz._figure import new_figure, save


def plot_receptive_field(
    model: torch.nn.Module,
    input_shape: Sequence[int],
    path: str | Path,
    *,
    layers: Sequence[str] | None = None,
    title: str = "",
) -> Path:
    """The receptive field of one output position per layer, measured and analytic.

    Each panel is the input grid; the shading is the gradient of that position's outputs
    with respect to the input in a copy of the model with positive weights (see
    :func:`anyconv.analysis.field_maps`), normalised to 1: nonzero exactly on the field,
    strongest where most paths lead. The dashed box is the analytic field (Araujo et al.);
    the solid frame is the input, so a box reaching past it shows the field extending
    into the padding. 1-D inputs are drawn as one curve per layer; 3-D inputs summed over
    their first (time) axis.

    Args:
        model: any ``torch.nn.Module``.
        input_shape: ``(C, *spatial)``.
        path: where to write the picture.
        layers: module names (default the layers where the field changes,
            :func:`anyconv.analysis.receptive_field_stages`).
        title: what the model is, e.g. ``"lenet5 on 28x28 images"``.

    Returns:
        ``path``.

    Example:
        >>> import tempfile, os
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.MaxPool2d(2),
        ...                           torch.nn.Conv2d(2, 2, 3))
        >>> with tempfile.TemporaryDirectory() as d:
        ...     os.path.getsize(plot_receptive_field(net, (1, 16, 16), f"{d}/rf.png")) > 0
        True
    """
    from anyconv.analysis import field_maps, receptive_field_stages

    names = list(layers) if layers is not None else receptive_field_stages(model, input_shape)
    if not names:
        raise fail(
            "plot_receptive_field",
            "model",
            "a model with a layer that has a receptive field",
            type(model).__name__,
            TypeError,
        )
    maps = field_maps(model, input_shape, names)
    spatial = tuple(input_shape[1:])
    kinds = dict(model.named_modules())
    if len(spatial) == 1:
        fig = new_figure(10, 0.55 * len(maps) + 2.2)
        ax = fig.subplots()
        for i, m in enumerate(maps):
            g = m.gradient / (m.gradient.max() or 1)
            ax.fill_between(
                range(spatial[0]), i, i + 0.85 * g.numpy(), step="mid", color="#4a78b5", alpha=0.8
            )
            ((lo, hi),) = m.box()
            ax.plot([lo - 0.5, hi + 0.5], [i, i], color="#c0504d", linewidth=2)
        ax.set_yticks(
            range(len(maps)),
            [
                f"{m.name} {type(kinds[m.name]).__name__}, RF {axes_text(m.analytic.size)}"
                for m in maps
            ],
            fontsize=7,
        )
        ax.axvspan(-0.5, spatial[0] - 0.5, color="#eeeeee", zorder=-1)
        ax.set_xlabel("input position (grey: the input)")
    else:
        cols = min(4, len(maps))
        rows = math.ceil(len(maps) / cols)
        fig = new_figure(3.0 * cols + 1.2, 3.0 * rows + 1.0)
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        image = None
        for ax, m in zip(axes, maps, strict=False):
            g = m.gradient.sum(0) if len(spatial) == 3 else m.gradient
            image = ax.imshow(
                (g / (g.max() or 1)).numpy(), cmap="magma", vmin=0, vmax=1, interpolation="nearest"
            )
            box = m.box()[-2:]
            (r0, r1), (c0, c1) = box
            from matplotlib.patches import Rectangle

            ax.add_patch(
                Rectangle(
                    (c0 - 0.5, r0 - 0.5),
                    c1 - c0 + 1,
                    r1 - r0 + 1,
                    fill=False,
                    edgecolor="#4fc3f7",
                    linestyle="--",
                    linewidth=1.5,
                )
            )
            ax.add_patch(
                Rectangle(
                    (-0.5, -0.5),
                    spatial[-1],
                    spatial[-2],
                    fill=False,
                    edgecolor="black",
                    linewidth=1,
                )
            )
            ax.set_xlim(min(-0.5, c0 - 1), max(spatial[-1] - 0.5, c1 + 1))
            ax.set_ylim(max(spatial[-2] - 0.5, r1 + 1), min(-0.5, r0 - 1))
            size, jump = axes_text(m.analytic.size), axes_text(m.analytic.jump)
            ax.set_title(
                f"{m.name} {type(kinds[m.name]).__name__}\nfield {size}, jump {jump}", fontsize=8
            )
            ax.tick_params(labelsize=6)
        for ax in axes[len(maps) :]:
            ax.axis("off")
        fig.colorbar(image, ax=list(axes), shrink=0.8, label="gradient at the input (normalised)")
    summed = ", summed over time" if len(spatial) == 3 else ""
    heading = f"{title}: receptive fields" if title else "receptive fields"
    legend = (
        "blue: measured (positive weights); red: analytic"
        if len(spatial) == 1
        else "shading: measured (positive weights); dashed box: analytic; frame: the input"
    )
    fig.suptitle(
        f"{heading} of the output position nearest the input's centre, layer by layer{summed}"
        f"\n{legend}",
        fontsize=10,
    )
    return save(fig, path)
