"""Training curves and the confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from anyconv._checks import fail
from anyconv.viz._figure import new_figure, save


def smooth(values: Sequence[float], weight: float | None = None) -> list[float]:
    """Exponential moving average with bias correction (TensorBoard's smoothing), so the
    first points are not pulled towards 0.

    ``weight`` defaults to a lag of about 3% of the points (``lag / (1 + lag)``, at most
    0.99): short runs stay close to their points, long ones smooth over many steps.

    Example:
        >>> [round(v, 3) for v in smooth([1.0, 1.0, 4.0], weight=0.5)]
        [1.0, 1.0, 2.714]
    """
    if weight is None:
        lag = max(1.0, 0.03 * len(values))
        weight = min(lag / (1 + lag), 0.99)
    out, average = [], 0.0
    for i, value in enumerate(values):
        average = weight * average + (1 - weight) * value
        out.append(average / (1 - weight ** (i + 1)))
    return out


def _step_curve(steps: Sequence[Sequence[float]]) -> tuple[list[float], list[float]]:
    """x (epochs, continuous: epoch e spans (e-1, e]) and loss of every recorded step."""
    xs: list[float] = []
    ys: list[float] = []
    for e, losses in enumerate(steps):
        n = len(losses)
        xs += [e + (i + 1) / n for i in range(n)]
        ys += list(losses)
    return xs, ys


SPLITS = (("", "train"), ("val_", "validation"), ("test_", "test"))


def plot_history(
    history: Sequence[dict[str, Any]],
    path: str | Path,
    steps: Sequence[Sequence[float]] | None = None,
    title: str | None = None,
    test: tuple[int, float, float] | None = None,
) -> Path:
    """Loss and accuracy per epoch, train, validation and test side by side.

    Epochs are whole numbers on the x axis. With ``steps``, the training loss of every
    step is drawn under the per-epoch points (faint, and smoothed by :func:`smooth`), so a
    run of one or two epochs still shows a curve.

    Args:
        history: one dict per epoch with ``epoch`` and any of ``loss``, ``accuracy``,
            ``val_loss``, ``val_accuracy``, ``test_loss``, ``test_accuracy`` (accuracies
            as fractions), as in ``metrics.json``'s ``history``.
        path: where to write the picture (PNG by its suffix).
        steps: per epoch, the mean training loss of each step (or of equal bins of
            steps), as in ``metrics.json``'s ``step_losses``.
        title: the figure's title, e.g. ``"lenet5 on digits"``.
        test: ``(epoch, loss, accuracy)`` of the kept model on the test split, tested
            once at the end: drawn as a star at that epoch.

    Returns:
        ``path``.

    Example:
        >>> import tempfile, os
        >>> rows = [{"epoch": 1, "loss": 1.0, "accuracy": 0.6, "test_loss": 0.9,
        ...          "test_accuracy": 0.7}, {"epoch": 2, "loss": 0.5, "accuracy": 0.8,
        ...          "test_loss": 0.6, "test_accuracy": 0.8}]
        >>> steps = [[1.2, 0.9], [0.6, 0.4]]
        >>> with tempfile.TemporaryDirectory() as d:
        ...     os.path.getsize(plot_history(rows, f"{d}/h.png", steps=steps)) > 0
        True
    """
    return save(history_figure(history, steps, title, test), path)


def history_figure(
    history: Sequence[dict[str, Any]],
    steps: Sequence[Sequence[float]] | None = None,
    title: str | None = None,
    test: tuple[int, float, float] | None = None,
) -> Any:
    """The figure :func:`plot_history` writes (a ``matplotlib.figure.Figure``): loss on
    the left, accuracy on the right.

    Example:
        >>> fig = history_figure([{"epoch": 1, "loss": 0.5, "accuracy": 0.9}], [[0.7, 0.4]])
        >>> [float(t) for t in fig.axes[0].get_xticks() if 0 <= t <= 1]
        [0.0, 1.0]
    """
    if not history:
        raise fail("plot_history", "history", "a non-empty list of per-epoch dicts", history)
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    epochs = [row.get("epoch", i + 1) for i, row in enumerate(history)]
    fig = new_figure(10, 4)
    colors = {"train": "C0", "validation": "C2", "test": "C1"}
    loss_ax, acc_ax = fig.subplots(1, 2, sharex=True)  # one epoch axis, the same ticks
    xs, ys = _step_curve(steps or [])
    if ys:
        loss_ax.plot(xs, ys, color=colors["train"], alpha=0.25, linewidth=0.8)
        loss_ax.plot(
            xs, smooth(ys), color=colors["train"], linewidth=1.5, label="train, per step (smoothed)"
        )
    for ax, metric, label in (
        (loss_ax, "loss", "cross-entropy loss"),
        (acc_ax, "accuracy", "accuracy"),
    ):
        for prefix, name in SPLITS:
            values = [row.get(prefix + metric) for row in history]
            if all(v is None for v in values):
                continue
            per_epoch = name + (", epoch mean" if prefix == "" else "")
            shown = [(e, v) for e, v in zip(epochs, values, strict=True) if v is not None]
            ax.plot(  # epochs without an evaluation (--eval-every) are left out, not gaps
                [e for e, _ in shown],
                [v for _, v in shown],
                marker="o",
                markersize=4,
                linestyle="--" if prefix == "" and ys and metric == "loss" else "-",
                color=colors[name],
                label=per_epoch if prefix == "" else name,
            )
        if test is not None and all(row.get("test_" + metric) is None for row in history):
            ax.plot(
                [test[0]],
                [test[1] if metric == "loss" else test[2]],
                marker="*",
                markersize=12,
                linestyle="none",
                color=colors["test"],
                label=f"test, model of epoch {test[0]}",
            )
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    # the per-step curve starts at 0 (before the first step); the epochs' points need a
    # half epoch of room on either side
    loss_ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    loss_ax.set_xlim(0 if ys else min(epochs) - 0.5, max(epochs) + (0.1 if ys else 0.5))
    acc_ax.tick_params(labelbottom=True)
    acc_ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    loss_ax.set_title("loss")
    acc_ax.set_title("accuracy")
    if title:
        fig.suptitle(title)
    return fig


def plot_confusion(
    matrix: torch.Tensor | Sequence[Sequence[int]],
    class_names: Sequence[str],
    path: str | Path,
    title: str | None = None,
) -> Path:
    """Confusion matrix as a heat map, rows the true and columns the predicted class.

    Args:
        matrix: counts ``(K, K)`` (tensor or nested lists).
        class_names: ``K`` labels.
        path: where to write the picture.
        title: what the matrix is of, e.g. ``"lenet5 on digits, test set"``; the
            accuracy is appended.

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
    fig.colorbar(image, ax=ax, shrink=0.8, label="samples")
    ticks = range(k)
    labels = [str(name) for name in class_names]  # drawn as written (new_figure)
    ax.set_xticks(ticks, labels=labels, rotation=90 if k > 10 else 0)
    ax.set_yticks(ticks, labels=labels)
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
    heading = f"{title}: accuracy {accuracy:.2%}" if title else f"accuracy {accuracy:.2%}"
    ax.set_title(heading)
    return save(fig, path)
