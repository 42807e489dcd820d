"""The kernels of a convolution layer, drawn: 1-D as lines, 2-D as images, 3-D slice by
slice, on one colour scale with its colour bar."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from anyconv._checks import choice, fail
from anyconv.viz._figure import grid, mosaic, new_figure, save
from anyconv.viz.maps import conv_layers, feature_maps


def first_conv_weight(model: torch.nn.Module, x: torch.Tensor | None = None) -> torch.Tensor:
    """Kernels ``(O, I, *kernel)`` of the first convolution that runs on ``x (C, *spatial)``
    (or, without ``x``, the first one registered). Locally connected and tiled layers, whose
    weights add the positions or tile period after the kernel, give their first position.

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.Conv2d(4, 2, 3))
        >>> first_conv_weight(net, torch.randn(1, 8, 8)).shape
        torch.Size([4, 1, 3, 3])
    """
    layers = conv_layers(model)
    if x is not None:
        ran = [m.name for m in feature_maps(model, x, stage="pre")]
        by_name = dict(layers)
        layers = [(n, by_name[n]) for n in ran]
    for _, module in layers:
        weight = getattr(module, "weight", None)
        kernel = getattr(module, "kernel_size", None)
        if isinstance(weight, torch.Tensor) and weight.ndim >= 3:
            weight = weight.detach().float().cpu()
            nd = len(kernel) if isinstance(kernel, tuple | list) else weight.ndim - 2
            if weight.ndim > nd + 2:  # positions or tiles after the kernel
                weight = weight[(..., *([0] * (weight.ndim - nd - 2)))]
            return weight
    raise fail(
        "first_conv_weight",
        "model",
        "a model with a convolution weight (O, I, *k)",
        type(model).__name__,
        TypeError,
    )


def _tile(kernel: torch.Tensor, limit: float) -> Any:
    """``kernel (I, kh, kw)``: RGB (``I == 3``, the layer's range mapped to [0, 1]) or the
    mean over the input channels (drawn on the layer's diverging scale)."""
    if kernel.shape[0] == 3:
        return (kernel / (2 * limit) + 0.5).clamp(0, 1).permute(1, 2, 0).numpy()
    return kernel.mean(0).numpy()


def plot_filters(
    weight: torch.Tensor,
    path: str | Path,
    max_filters: int = 64,
    temporal: str = "all",
    *,
    title: str = "",
) -> Path:
    """Kernels of a convolution layer as a grid, one panel per output channel (filter).

    Every panel shares one colour scale, symmetric around zero so that the sign of a
    weight is its colour, with a colour bar; the title says what is drawn (how many of the
    filters, whether input channels are averaged, which time slices).

    Args:
        weight: ``(O, I, k)`` 1-D kernels, one line per input channel (at most 8);
            ``(O, I, kh, kw)`` 2-D kernels as images: colour when ``I == 3``, else the mean
            over the input channels; ``(O, I, kt, kh, kw)`` 3-D kernels: every time slice
            in a row per filter (``temporal="all"``, at most 16 filters) or the middle one
            (``"middle"``).
        path: where to write the picture.
        max_filters: at most this many output channels are drawn (the first ones).
        temporal: ``"all"`` or ``"middle"``, for 3-D kernels.
        title: what the kernels belong to, e.g. ``"lenet5 trained on digits, layer 1"``.

    Returns:
        ``path``.

    Example:
        >>> import tempfile, os
        >>> with tempfile.TemporaryDirectory() as d:
        ...     os.path.getsize(plot_filters(torch.randn(6, 1, 5, 5), f"{d}/f.png")) > 0
        True
    """
    if not isinstance(weight, torch.Tensor) or weight.ndim not in (3, 4, 5):
        raise fail(
            "plot_filters",
            "weight",
            "a tensor (O, I, *kernel) with 1-3 kernel axes",
            weight,
            TypeError if not isinstance(weight, torch.Tensor) else ValueError,
        )
    choice(temporal, ("all", "middle"), "temporal", "plot_filters")
    total, inputs = weight.shape[:2]
    weight = weight.detach().float().cpu()
    if weight.ndim == 5 and temporal == "middle":
        middle = weight.shape[2] // 2
        weight = weight[:, :, middle]
        slices = f", middle time slice t={middle} of {total and weight.shape[2]}"
    else:
        slices = f", every time slice (t = 0..{weight.shape[2] - 1})" if weight.ndim == 5 else ""
    limit = float(weight.abs().max()) or 1.0
    if weight.ndim == 5:
        weight = weight[: min(max_filters, 16)]
        fig = _filters_3d(weight, limit)
    else:
        weight = weight[:max_filters]
        fig = _filters_grid(weight, limit)
    shown = len(weight)
    parts = [f"{'all' if shown == total else f'first {shown} of'} {total} filters"]
    parts.append(f"kernel {'x'.join(str(k) for k in weight.shape[2:])}")
    if weight.ndim == 3 and shown > 16:
        parts.append(
            "filters (rows) against taps"
            + (f", mean over the {inputs} input channels" if inputs > 1 else "")
        )
    elif weight.ndim == 3:
        parts.append(f"one line per input channel ({min(inputs, 8)} of {inputs})")
    elif inputs == 3:
        parts.append("the 3 input channels as RGB")
    elif inputs > 1:
        parts.append(f"mean over the {inputs} input channels")
    heading = f"{title}: filters" if title else "filters"
    fig.suptitle(f"{heading}\n{', '.join(parts)}{slices}", fontsize=10)
    return save(fig, path)


def _filters_grid(weight: torch.Tensor, limit: float) -> Any:
    if weight.ndim == 3:
        return _filters_1d(weight, limit)
    tiles = [_tile(w, limit) for w in weight]
    cols = min(8, len(tiles))
    rows = -(-len(tiles) // cols)
    fig = new_figure(1.1 * cols + 1.6, 1.2 * rows + 1.0)
    ax = fig.subplots()
    image = mosaic(
        ax,
        tiles,
        [f"filter {i}" for i in range(len(tiles))],
        cols,
        cmap="RdBu_r",
        lo=-limit,
        hi=limit,
    )
    _weight_key(fig, ax, image, weight.shape[1], limit)
    return fig


def _weight_key(fig: Any, ax: Any, image: Any, inputs: int, limit: float) -> None:
    """The key to the tiles' colours: a colour bar of the weight for tiles on the diverging
    scale; for RGB tiles (3 input channels), which no colour bar describes, a line saying
    how each channel's weight becomes its colour's intensity."""
    if inputs != 3:
        fig.colorbar(image, ax=ax, shrink=0.8, label="weight")
        return
    fig.supxlabel(
        f"colour: the weights on the red, green and blue input channels, each as that "
        f"colour's intensity\nfrom none at {-limit:.3g} to full at +{limit:.3g} (the "
        f"largest |weight|); mid-grey: all three 0",
        fontsize=9,
    )


def _filters_1d(weight: torch.Tensor, limit: float) -> Any:
    """Up to 16 filters as lines (one per input channel); more as one image, filters
    against taps (mean over the input channels)."""
    if len(weight) > 16:
        fig = new_figure(6.5, 0.09 * len(weight) + 1.8)
        ax = fig.subplots()
        image = ax.imshow(
            weight.mean(1).numpy(),
            cmap="RdBu_r",
            vmin=-limit,
            vmax=limit,
            aspect="auto",
            interpolation="nearest",
        )
        ax.set_xlabel("tap")
        ax.set_ylabel("filter")
        fig.colorbar(image, ax=ax, label="weight (mean over input channels)")
        return fig
    rows, cols = grid(len(weight))
    fig = new_figure(1.6 * cols + 0.8, 1.3 * rows + 1.0)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for i, ax in enumerate(axes):
        if i >= len(weight):
            ax.axis("off")
            continue
        for line in weight[i, :8]:
            ax.plot(line.numpy(), linewidth=1)
        ax.axhline(0, color="#999999", linewidth=0.5)
        ax.set_ylim(-limit * 1.05, limit * 1.05)
        ax.set_xticks([])
        ax.tick_params(labelsize=6)
        ax.set_title(f"filter {i}", fontsize=7)
    return fig


def _filters_3d(weight: torch.Tensor, limit: float) -> Any:
    """Each filter as a run of ``kt`` tiles (its time slices), several filters a row."""
    count, depth = len(weight), weight.shape[2]
    per_row = max(1, 12 // depth)
    tiles = [_tile(weight[i, :, t], limit) for i in range(count) for t in range(depth)]
    labels = [f"f{i} t={t}" for i in range(count) for t in range(depth)]
    rows = -(-count // per_row)
    fig = new_figure(0.95 * per_row * depth + 2.0, 1.2 * rows + 1.0)
    ax = fig.subplots()
    image = mosaic(ax, tiles, labels, per_row * depth, cmap="RdBu_r", lo=-limit, hi=limit)
    _weight_key(fig, ax, image, weight.shape[1], limit)
    return fig
