"""Plot pieces the experiments share: mean ± std bands over seeds, per-seed dots."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def band(
    ax: Any,
    x: Sequence[float],
    runs: Sequence[Sequence[float]],
    label: str,
    color: Any,
    *,
    legend_all: bool = False,
    log: bool = False,
) -> None:
    """Mean of ``runs`` (one sequence per seed) as a line labelled ``label``, ± one std as a
    shaded band, each seed as a thin line; ``legend_all`` labels the band and the seed
    lines too. ``log`` draws on a log axis with the mean and std of the logarithms (a
    geometric mean, a band that stays positive)."""
    from matplotlib.ticker import MaxNLocator

    values = np.asarray(runs, dtype=float)
    stats = np.log10(values) if log else values
    mean = stats.mean(0)
    for i, run in enumerate(values):
        seed_label = "each seed" if legend_all and i == 0 else None
        ax.plot(x, run, color=color, lw=0.6, alpha=0.35, label=seed_label)
    back = (lambda v: 10**v) if log else (lambda v: v)
    ax.plot(x, back(mean), color=color, lw=2, label=label)
    if len(values) > 1:
        std = stats.std(0, ddof=1)
        band_label = "± 1 std" if legend_all else None
        ax.fill_between(
            x, back(mean - std), back(mean + std), color=color, alpha=0.2, lw=0, label=band_label
        )
    if log:
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def seed_dots(
    ax: Any,
    labels: Sequence[str],
    values: Sequence[Sequence[float]],
    colors: Sequence[Any] | None = None,
) -> None:
    """A bar per label at the mean of its values, with every seed's value as a dot (the
    title should say so: "bars: mean, dots: seeds")."""
    colors = colors or [f"C{i}" for i in range(len(labels))]
    for i, (vals, color) in enumerate(zip(values, colors, strict=True)):
        ax.bar(i, np.mean(vals), color=color, alpha=0.35, width=0.6)
        jitter = np.linspace(-0.12, 0.12, len(vals)) if len(vals) > 1 else [0.0]
        ax.scatter(i + np.asarray(jitter), vals, color=color, s=22, zorder=3)
    ax.set_xticks(range(len(labels)), labels)
