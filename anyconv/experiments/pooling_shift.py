"""``pooling-shift``: pooling makes a network's output almost invariant to small shifts.

The same LeNet-style network (two 5x5 conv stages and a dense classifier) is trained
with each kind of downsampling between the stages: max, average and SoftPool pooling, a
learned strided convolution (All-CNN style), the anti-aliased max and average pooling of
Zhang (2019, "Making convolutional networks shift-invariant again": ``MaxBlurPool``,
``BlurPool``), and no downsampling at all as the baseline. Each is then shown the test
images moved by 0 to 4 pixels: how often its predicted class stays the same
(consistency), how much its softmax output moves, and its accuracy.
"""

from __future__ import annotations

import statistics

import torch

from anyconv.analysis import shift_consistency
from anyconv.experiments._common import (
    DIRECTIONS,
    FULL_TRAINING,
    QUICK_TRAINING,
    builder,
    data_label,
    dataset,
    mean_std,
    replace,
    seeds_count,
    trained,
)
from anyconv.experiments.registry import register_experiment
from anyconv.experiments.runner import Context, Outcome
from anyconv.nn import AvgPool2d, BlurPool2d, Conv2d, MaxBlurPool2d, MaxPool2d, SoftPool2d
from anyconv.viz._figure import new_figure

QUICK = dict(QUICK_TRAINING, seeds=1, shifts=4)
FULL = dict(FULL_TRAINING, seeds=2, shifts=4)
POOLINGS = {
    "none": "no downsampling",
    "max": "max pool",
    "avg": "average pool",
    "soft": "SoftPool",
    "strided": "strided conv",
    "maxblur": "MaxBlurPool",
    "blur": "BlurPool",
}


def _downsampler(kind: str, channels: int) -> torch.nn.Module:
    if kind == "none":
        return torch.nn.Identity()
    if kind == "avg":
        return AvgPool2d(2, ceil_mode=True)
    if kind == "soft":
        return SoftPool2d(2, ceil_mode=True)
    if kind == "strided":
        conv = Conv2d(channels, channels, 3, stride=2, padding="same")
        return torch.nn.Sequential(conv, torch.nn.ReLU())
    if kind == "maxblur":
        return MaxBlurPool2d()
    if kind == "blur":
        return BlurPool2d()
    raise ValueError(f"unknown downsampling {kind!r}")


def lenet_with(kind: str, data) -> torch.nn.Module:
    """LeNet-5 for ``data`` with its two 2x2 max poolings replaced by ``kind`` (a key of
    :data:`POOLINGS`); the first dense layer is resized to what the features give.

    Example:
        >>> from anyconv.data import Splits
        >>> x, y = torch.zeros(4, 1, 28, 28), torch.zeros(4, dtype=torch.long)
        >>> data = Splits(x, y, x, y, num_classes=10, kind="image", name="z")
        >>> [tuple(lenet_with(k, data)(x).shape) for k in ("none", "strided", "maxblur")]
        [(4, 10), (4, 10), (4, 10)]
    """
    model = builder("lenet5", data)()
    if kind == "max":
        return model
    pools = [m for m in model.features if isinstance(m, MaxPool2d)]
    for pool, channels in zip(pools, (6, 16), strict=True):
        replace(model, pool, _downsampler(kind, channels))
    with torch.no_grad():
        features = model.features(torch.zeros(1, *data.input_shape)).numel()
    first = model.classifier[1]
    model.classifier[1] = torch.nn.Linear(features, first.out_features)
    return model


@register_experiment(
    "pooling-shift",
    "Pooling makes the output (almost) invariant to small shifts of the input: it stays "
    "the same when the input moves by a pixel or two.",
    quick=QUICK,
    full=FULL,
)
def run(ctx: Context) -> Outcome:
    cfg = ctx.config
    data = dataset(cfg)
    x, y = data.x_test, data.y_test
    shifts = list(range(cfg["shifts"] + 1))
    ctx.plan(len(POOLINGS) * len(ctx.seeds))
    measured: dict[str, list[dict[str, list[float]]]] = {kind: [] for kind in POOLINGS}
    parameters = {}
    for seed in ctx.seeds:
        for kind, label in POOLINGS.items():
            with ctx.stage(f"LeNet-5 with {label}, seed {seed}"):
                model, _ = trained(
                    "lenet5" if kind == "max" else f"lenet5-{kind}",
                    lambda kind=kind: lenet_with(kind, data),
                    data,
                    steps=cfg["steps"],
                    lr=cfg["lr"],
                    seed=seed,
                )
                parameters[kind] = sum(p.numel() for p in model.parameters())
                curves: dict[str, list[float]] = {"consistency": [], "change": [], "accuracy": []}
                for s in shifts:
                    moves = [(dy * s, dx * s) for dy, dx in DIRECTIONS] if s else [(0, 0)]
                    measure = shift_consistency(model, x, moves, mode="zeros")
                    curves["consistency"].append(measure["consistency"])
                    curves["change"].append(measure["softmax_change"])
                    curves["accuracy"].append(_accuracy(model, x, y, moves))
                measured[kind].append(curves)
    table = []
    for kind, label in POOLINGS.items():
        runs = measured[kind]
        row = {"downsampling": label, "parameters": parameters[kind]}
        row["test_accuracy"], row["test_accuracy_std"] = mean_std([r["accuracy"][0] for r in runs])
        for i, s in enumerate(shifts[1:], 1):
            row[f"consistent_{s}px"] = statistics.fmean(r["consistency"][i] for r in runs)
        row["consistency"] = statistics.fmean(statistics.fmean(r["consistency"][1:]) for r in runs)
        row["output_change"] = statistics.fmean(statistics.fmean(r["change"][1:]) for r in runs)
        row["shifted_accuracy"] = statistics.fmean(
            statistics.fmean(r["accuracy"][1:]) for r in runs
        )
        table.append(row)
    rows = dict(zip(POOLINGS, table, strict=True))
    baseline = rows["none"]["consistency"]
    pooled = {k: r for k, r in rows.items() if k != "none"}
    helps = all(r["consistency"] > baseline for r in pooled.values())
    best = max(pooled, key=lambda k: pooled[k]["consistency"])
    exact = [POOLINGS[k] for k, r in pooled.items() if r["consistency"] == 1.0]
    rule = (
        f"holds if every pooled network keeps its prediction more often than the one without "
        f"downsampling under shifts of 1-{shifts[-1]} px (mean consistency "
        + ", ".join(f"{POOLINGS[k]} {r['consistency']:.1%}" for k, r in pooled.items())
        + f" vs {baseline:.1%} without); most consistent: {POOLINGS[best]} "
        f"({pooled[best]['consistency']:.1%}); exactly invariant: "
        + (", ".join(exact) if exact else "none, so the invariance is only approximate")
    )

    fig = new_figure(12, 3.8)
    axes = fig.subplots(1, 3)
    panels = (
        (
            "consistency",
            "same class as unshifted (%)",
            "prediction consistency (higher: more invariant)",
        ),
        ("change", "softmax change (total variation, %)", "output change (lower: more invariant)"),
        ("accuracy", "test accuracy (%)", "accuracy on the moved images"),
    )
    for ax, (key, ylabel, title) in zip(axes, panels, strict=True):
        for i, kind in enumerate(POOLINGS):
            runs = measured[kind]
            mean = [statistics.fmean(r[key][j] for r in runs) for j in range(len(shifts))]
            ax.plot(shifts, [100 * m for m in mean], label=POOLINGS[kind], **_style(kind, i))
        ax.set_xlabel("shift of the test images (pixels)")
        ax.set_ylabel(ylabel)
        ax.set_xticks(shifts)
        ax.set_title(title, fontsize=10)
    axes[0].legend(fontsize=7)
    fig.suptitle(
        f"LeNet-5 with different downsampling on {data_label(data)}\ntest images moved up, down, "
        f"left and right; means over the 4 directions and {seeds_count(ctx.seeds)}"
    )
    return Outcome(
        table=table,
        holds=helps,
        rule=rule,
        figures=[ctx.save(fig, "pooling_shift.png")],
        notes=[
            "consistent_Npx: fraction of test images whose predicted class is unchanged when "
            "moved N px (zero fill), mean over 4 directions; consistency, output change "
            "(total variation of the softmax) and shifted accuracy: means over 1..N px",
        ],
        formats={
            "test_accuracy": "{:.2%}",
            "consistency": "{:.1%}",
            "output_change": "{:.3f}",
            "shifted_accuracy": "{:.1%}",
            **{f"consistent_{s}px": "{:.1%}" for s in shifts[1:]},
        },
    )


def _style(kind: str, i: int) -> dict:
    if kind == "none":
        return {"color": "k", "ls": "--", "marker": "o", "ms": 4}
    return {"color": f"C{i}", "marker": "o", "ms": 4}


def _accuracy(model, x, y, moves) -> float:
    from anyconv.experiments._common import accuracy, shift

    return statistics.fmean(accuracy(model, shift(x, dy, dx), y) for dy, dx in moves)
