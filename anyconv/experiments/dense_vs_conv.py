"""``dense-vs-conv``: a CNN needs far fewer parameters than a dense network and generalises
better on images.

LeNet-5 against two multilayer perceptrons on the flattened image, one with about
LeNet-5's parameter count (one hidden layer) and one with about ten times as many (two
hidden layers): parameters, multiply-adds, test accuracy, and accuracy on the test images
moved by 1 to 4 pixels (mean over up, down, left and right), which none of the networks
saw in training.
"""

from __future__ import annotations

import math
import statistics

from anyconv.analysis import summary
from anyconv.experiments._common import (
    FULL_TRAINING,
    QUICK_TRAINING,
    builder,
    data_label,
    dataset,
    mean_std,
    seeds_note,
    shifted_accuracy,
    trained_model,
)
from anyconv.experiments._plots import band
from anyconv.experiments.registry import register_experiment
from anyconv.experiments.runner import Context, Outcome
from anyconv.models import mlp_width
from anyconv.viz._figure import new_figure, separate_labels

QUICK = dict(QUICK_TRAINING, seeds=1, shifts=4)
FULL = dict(FULL_TRAINING, seeds=3, shifts=4)


def contenders(data) -> dict[str, tuple[str, dict]]:
    """``{label: (registered model, kwargs)}``: LeNet-5 and MLPs sized at 1x and 10x its
    parameter count."""
    lenet = builder("lenet5", data)()
    target = sum(p.numel() for p in lenet.parameters())
    features = math.prod(data.input_shape)
    small = mlp_width(target, features, data.num_classes, depth=1)
    large = mlp_width(10 * target, features, data.num_classes, depth=2)
    return {
        "LeNet-5": ("lenet5", {}),
        f"MLP {small} (~1x)": ("mlp", {"hidden": (small,)}),
        f"MLP {large}-{large} (~10x)": ("mlp", {"hidden": (large, large)}),
    }


def parameters_panel(ax, table: list[dict]) -> list:
    """Draw each model of ``table`` as a point (parameters, unshifted test accuracy) with a
    label; returns the labels, for :func:`~anyconv.viz._figure.separate_labels` once the
    figure is laid out."""
    from matplotlib.ticker import FuncFormatter

    points = [(row["parameters"], 100 * row["test_accuracy"]) for row in table]
    widest = max(p for p, _ in points)
    labels = []
    for i, (row, point) in enumerate(zip(table, points, strict=True)):
        # hollow markers, largest first: a point under another one stays visible
        ax.scatter(
            *point,
            s=130 - 45 * i,
            marker="os^"[i % 3],
            facecolors="none",
            edgecolors=f"C{i}",
            linewidths=2,
            zorder=3,
        )
        last = point[0] == widest  # the rightmost label reads leftwards, inside the axes
        labels.append(
            ax.annotate(
                f"{row['model']}\n{row['parameters']:,} parameters, {row['macs']:,} MACs",
                point,
                textcoords="offset points",
                xytext=(-10 if last else 10, 6),
                ha="right" if last else "left",
                fontsize=8,
                color=f"C{i}",
                arrowprops=dict(arrowstyle="-", color=f"C{i}", lw=0.6, shrinkB=6),
            )
        )
    accuracies = [a for _, a in points]
    ax.set_ylim(min(accuracies) - 4, max(accuracies) + 4)
    ax.yaxis.set_major_formatter(  # room for the labels above 100%, no ticks there
        FuncFormatter(lambda v, _: "" if v > 100 else f"{v:g}")
    )
    ax.set_xscale("log")
    ax.set_xlim(right=widest * 8)
    ax.set_xlabel("parameters (log scale)")
    ax.set_ylabel("test accuracy, unshifted (%)")
    ax.set_title("parameters vs accuracy", fontsize=10)
    return labels


@register_experiment(
    "dense-vs-conv",
    "A convolutional network needs far fewer parameters than a dense one and generalises "
    "better on images, above all to shifted images.",
    quick=QUICK,
    full=FULL,
)
def run(ctx: Context) -> Outcome:
    cfg = ctx.config
    data = dataset(cfg)
    x, y = data.x_test, data.y_test
    shifts = list(range(cfg["shifts"] + 1))
    models = contenders(data)
    ctx.plan(len(models) * len(ctx.seeds))
    curves: dict[str, list[list[float]]] = {label: [] for label in models}
    counts = {}
    for seed in ctx.seeds:
        for label, (name, kwargs) in models.items():
            with ctx.stage(f"{label}, seed {seed}"):
                model, _ = trained_model(name, data, cfg, seed, **kwargs)
                curves[label].append([shifted_accuracy(model, x, y, s) for s in shifts])
                counts[label] = (
                    sum(p.numel() for p in model.parameters()),
                    summary(model, tuple(data.input_shape))[-1]["macs"],
                )
    table = []
    for label, runs in curves.items():
        row = {"model": label, "parameters": counts[label][0], "macs": counts[label][1]}
        row["test_accuracy"], row["test_accuracy_std"] = mean_std([r[0] for r in runs])
        for i, s in enumerate(shifts[1:], 1):
            row[f"shift_{s}px"] = statistics.fmean(r[i] for r in runs)
        row["shifted_mean"] = statistics.fmean(statistics.fmean(r[1:]) for r in runs)
        table.append(row)
    lenet, *mlps = table
    best_plain = all(lenet["test_accuracy"] >= m["test_accuracy"] for m in mlps)
    best_shifted = all(lenet["shifted_mean"] > m["shifted_mean"] for m in mlps)
    rule = (
        f"holds if LeNet-5 ({lenet['parameters']:,} parameters) is at least as accurate as "
        f"both MLPs ({lenet['test_accuracy']:.2%} vs "
        + ", ".join(f"{m['test_accuracy']:.2%}" for m in mlps)
        + f") and more accurate on the shifted test images, mean over 1-{shifts[-1]} px "
        f"({lenet['shifted_mean']:.2%} vs "
        + ", ".join(f"{m['shifted_mean']:.2%}" for m in mlps)
        + ")"
    )

    fig = new_figure(10, 3.8)
    left, right = fig.subplots(1, 2)
    for i, (label, runs) in enumerate(curves.items()):
        band(left, shifts, [[100 * a for a in r] for r in runs], label, f"C{i}")
    left.set_xlabel("shift of the test images (pixels, mean over 4 directions)")
    left.set_ylabel("test accuracy (%)")
    left.set_title(f"accuracy on shifted images ({seeds_note(ctx.seeds)})", fontsize=10)
    left.legend(fontsize=8)
    labels = parameters_panel(right, table)
    fig.suptitle(f"dense vs convolutional on {data_label(data)}")
    separate_labels(fig, labels)  # LeNet-5 and the MLP of its size can nearly coincide
    return Outcome(
        table=table,
        holds=best_plain and best_shifted,
        rule=rule,
        figures=[ctx.save(fig, "dense_vs_conv.png")],
        notes=[
            "shift_Npx: accuracy on the test images moved N pixels (zero fill), mean over "
            "the 4 directions; shifted mean: over 1..N px",
            "MACs: multiply-accumulates of one forward pass of one image",
            f"accuracies: {seeds_note(ctx.seeds)} (shifts: means)",
        ],
        formats={
            "test_accuracy": "{:.2%}",
            "shifted_mean": "{:.2%}",
            **{f"shift_{s}px": "{:.1%}" for s in shifts[1:]},
        },
    )
