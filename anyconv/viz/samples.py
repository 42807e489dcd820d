"""A grid of dataset samples with their classes: images, sequences or video clips."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from anyconv._checks import fail
from anyconv.viz._figure import grid, mosaic, new_figure, save


def per_class(y: torch.Tensor, count: int) -> tuple[torch.Tensor, int]:
    """Indices of up to ``count`` samples that show every class (as many as fit): the first
    ``k`` of each class in class order, ``k = count // classes`` (at least 1; with more
    classes than ``count``, the first ``count`` classes). Returns the indices and ``k``.

    Example:
        >>> per_class(torch.tensor([2, 2, 2, 0, 0, 1, 0, 1]), 6)
        (tensor([3, 4, 5, 7, 0, 1]), 2)
    """
    classes = torch.unique(y).tolist()
    k = max(1, count // max(len(classes), 1))
    picked = [torch.nonzero(y == c).flatten()[:k] for c in classes[:count]]
    return (torch.cat(picked) if picked else torch.zeros(0, dtype=torch.long)), k


def plot_samples(
    x: torch.Tensor,
    y: torch.Tensor | None,
    path: str | Path,
    *,
    class_names: Sequence[str] | None = None,
    title: str = "",
    max_samples: int = 24,
    total: int | None = None,
    per_class: int | None = None,
) -> Path:
    """The first samples of a dataset, each titled with its class.

    Images ``(N, C, H, W)``: grey for one channel, colour for three, else channel 0 (and
    the title says so). Sequences ``(N, C, L)``: one line per channel. Videos
    ``(N, C, T, H, W)``: one row of frames per sample (at most 6 samples, 10 frames).

    Args:
        x: samples ``(N, C, *spatial)``.
        y: their classes ``(N,)`` or ``None``.
        path: where to write the picture.
        class_names: names for the class indices.
        title: what the samples are, e.g. ``"digits, training set"``.
        max_samples: at most this many samples.
        total: the size of the set the samples were taken from, for the title (default
            ``len(x)``).
        per_class: the samples are ``per_class`` of each class in turn (as
            :func:`per_class` picks them): the title says so, and images are laid out so
            that a row holds whole classes.

    Returns:
        ``path``.

    Example:
        >>> import tempfile, os
        >>> with tempfile.TemporaryDirectory() as d:
        ...     os.path.getsize(plot_samples(torch.rand(6, 1, 8, 8), torch.arange(6),
        ...                                  f"{d}/s.png")) > 0
        True
    """
    if not isinstance(x, torch.Tensor) or x.dim() not in (3, 4, 5) or len(x) == 0:
        raise fail(
            "plot_samples",
            "x",
            "a non-empty tensor (N, C, *spatial) with 1-3 spatial axes",
            x,
            TypeError if not isinstance(x, torch.Tensor) else ValueError,
        )
    total = len(x) if total is None else max(int(total), len(x))
    video = x.dim() == 5
    count = min(len(x), 6 if video else max_samples)
    x = x[:count].detach().float().cpu()
    names = list(class_names or [])

    def label(i: int) -> str:
        if y is None:
            return f"#{i}"
        k = int(y[i])
        name = names[k] if k < len(names) else str(k)
        return name if per_class else f"#{i}: {name}"  # picked per class: not the i-th

    channels = x.shape[1]
    note = ""
    if x.dim() == 3:
        count = min(count, 12)
        rows, cols = grid(count, min(count, 4))
        fig = new_figure(2.2 * cols + 0.6, 1.5 * rows + 1.0)
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        for i, ax in enumerate(axes):
            if i >= count:
                ax.axis("off")
                continue
            for line in x[i, :8]:
                ax.plot(line.numpy(), linewidth=1)
            ax.tick_params(labelsize=6)
            ax.set_title(label(i), fontsize=8)
        note = f"one line per channel ({min(channels, 8)} of {channels})"
    elif video:
        frames = min(x.shape[2], 10)
        steps = [round(t * (x.shape[2] - 1) / max(frames - 1, 1)) for t in range(frames)]
        tiles = [_image(x[i, :, t]) for i in range(count) for t in steps]
        labels = [f"{label(i)}, t={t}" if t == 0 else f"t={t}" for i in range(count) for t in steps]
        fig = new_figure(1.0 * frames + 0.6, 1.15 * count + 1.0)
        mosaic(fig.subplots(), tiles, labels, frames, cmap="gray", lo=0, hi=1)
        note = f"{'all' if frames == x.shape[2] else frames} of {x.shape[2]} frames per clip"
    else:
        cols = min(count, 8)
        if per_class and per_class <= 8:  # whole classes in a row
            cols = min(count, per_class * (8 // per_class))
        rows = -(-count // cols)
        fig = new_figure(1.2 * cols + 0.6, 1.3 * rows + 1.0)
        tiles = [_image(x[i]) for i in range(count)]
        mosaic(
            fig.subplots(), tiles, [label(i) for i in range(count)], cols, cmap="gray", lo=0, hi=1
        )
    if x.dim() != 3 and channels not in (1, 3):
        note = (note + ", " if note else "") + f"channel 0 of {channels}"
    if per_class:
        shown = f"{per_class} per class, {count} of {total} samples"
    else:
        shown = f"{'all' if count == total else f'the first {count} of'} {total} samples"
    heading = f"{title}: " if title else ""
    fig.suptitle(f"{heading}{shown}, titled by class" + (f"\n{note}" if note else ""), fontsize=10)
    return save(fig, path)


def _image(image: torch.Tensor) -> Any:
    """``image (C, H, W)`` scaled to [0, 1]: grey ``(H, W)`` (C = 1, or channel 0) or
    colour ``(H, W, 3)``."""
    lo, hi = float(image.min()), float(image.max())
    scaled = (image - lo) / (hi - lo) if hi > lo else image * 0
    if image.shape[0] == 3:
        return scaled.permute(1, 2, 0).numpy()
    return scaled[0].numpy()
