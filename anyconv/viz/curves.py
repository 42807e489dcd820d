"""Training curves and the confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from anyconv._spec import fail
from anyconv.viz._figure import new_figure, save


def plot_history(history: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Loss and accuracy per epoch, train and test side by side.

    Args:
        history: one dict per epoch with ``epoch`` and any of ``loss``, ``accuracy``,
            ``test_loss``, ``test_accuracy`` (accuracies as fractions), as in
            ``metrics.json``'s ``history``.
        path: where to write the picture (PNG by its suffix).

    Returns:
        ``path``.

    Example:
        >>> import tempfile, os
        >>> rows = [{"epoch": 1, "loss": 1.0, "accuracy": 0.6, "test_loss": 0.9,
        ...          "test_accuracy": 0.7}, {"epoch": 2, "loss": 0.5, "accuracy": 0.8,
        ...          "test_loss": 0.6, "test_accuracy": 0.8}]
        >>> with tempfile.TemporaryDirectory() as d:
        ...     os.path.getsize(plot_history(rows, f"{d}/h.png")) > 0
        True
    """
    if not history:
        raise fail("plot_history", "history", "a non-empty list of per-epoch dicts", history)
    epochs = [row.get("epoch", i + 1) for i, row in enumerate(history)]
    fig = new_figure(10, 4)
    for ax, metric, label in zip(
        fig.subplots(1, 2), ("loss", "accuracy"), ("cross-entropy loss", "accuracy"), strict=True
    ):
        for prefix, name in (("", "train"), ("test_", "test")):
            values = [row.get(prefix + metric) for row in history]
            if any(v is not None for v in values):
                ax.plot(
                    epochs,
                    [float("nan") if v is None else v for v in values],
                    marker="o",
                    markersize=3,
                    label=name,
                )
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    return save(fig, path)


def plot_confusion(
    matrix: torch.Tensor | Sequence[Sequence[int]], class_names: Sequence[str], path: str | Path
) -> Path:
    """Confusion matrix as a heat map, rows the true and columns the predicted class.

    Args:
        matrix: counts ``(K, K)`` (tensor or nested lists).
        class_names: ``K`` labels.
        path: where to write the picture.

    Returns:
        ``path``.

    Example:
        >>> import tempfile, os
        >>> with tempfile.TemporaryDirectory() as d:
        ...     os.path.getsize(plot_confusion([[5, 1], [0, 4]], ["a", "b"], f"{d}/c.png")) > 0
        True
    """
    counts = torch.as_tensor(matrix).cpu()
    k = len(class_names)
    if counts.ndim != 2 or counts.shape != (k, k):
        raise fail(
            "plot_confusion",
            "matrix",
            f"a ({k}, {k}) matrix (one row and column per class name)",
            counts,
        )
    size = min(3 + 0.45 * k, 16)
    fig = new_figure(size + 1, size)
    ax = fig.subplots()
    image = ax.imshow(counts.numpy(), cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8)
    ticks = range(k)
    ax.set_xticks(ticks, labels=class_names, rotation=90 if k > 10 else 0)
    ax.set_yticks(ticks, labels=class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if k <= 20:  # numbers stay legible up to about 20 classes
        top = counts.max().item() or 1
        for i in range(k):
            for j in range(k):
                value = int(counts[i, j])
                ax.text(
                    j,
                    i,
                    str(value),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if value > top / 2 else "black",
                )
    accuracy = counts.diag().sum().item() / max(counts.sum().item(), 1)
    ax.set_title(f"accuracy {accuracy:.2%}")
    return save(fig, path)
