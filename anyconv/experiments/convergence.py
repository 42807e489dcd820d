"""``convergence``: training curves of a small CNN over several seeds, mean ± std.

The "mean convergence" figure of the notes: train the same network (LeNet-5: two conv +
pooling stages and a dense classifier) from different random initialisations and data
orders, and plot the mean training loss and test accuracy per epoch with their spread.
"""

from __future__ import annotations

from anyconv.experiments._common import (
    FULL_TRAINING,
    QUICK_TRAINING,
    data_label,
    dataset,
    evaluated,
    mean_std,
    seeds_count,
    trained_model,
)
from anyconv.experiments._plots import band
from anyconv.experiments.registry import register_experiment
from anyconv.experiments.runner import Context, Outcome
from anyconv.viz._figure import new_figure

QUICK = dict(QUICK_TRAINING, seeds=3)
FULL = dict(FULL_TRAINING, train_size=6000, seeds=10)
CURVES = {
    "loss": "training loss",
    "test_loss": "test loss",
    "test_accuracy": "test accuracy",
}


@register_experiment(
    "convergence",
    "Training a small CNN from different random seeds converges reliably: the mean "
    "training curve falls steadily and the spread between seeds shrinks as training goes on.",
    quick=QUICK,
    full=FULL,
)
def run(ctx: Context) -> Outcome:
    cfg = ctx.config
    if len(ctx.seeds) < 2:
        raise ValueError("experiment 'convergence' needs --seeds >= 2 to measure a spread")
    data = dataset(cfg)
    ctx.plan(len(ctx.seeds))
    histories = []
    for seed in ctx.seeds:
        with ctx.stage(f"lenet5, seed {seed}"):
            _, metrics = trained_model("lenet5", data, cfg, seed)
            histories.append(evaluated(metrics["history"], "test_loss"))
    numbers = [h["epoch"] for h in histories[0]]  # every epoch, but on tiny data
    curves = {key: [[h[key] for h in hist] for hist in histories] for key in CURVES}
    count = len(numbers)
    shown = sorted({0, (count - 1) // 4, (count - 1) // 2, 3 * (count - 1) // 4, count - 1})
    table = []
    for i in shown:
        row: dict = {"epoch": numbers[i]}
        for key in CURVES:
            row[key], row[key + "_std"] = mean_std([c[i] for c in curves[key]])
        table.append(row)
    epochs = numbers[-1]
    first, last = table[0], table[-1]
    steadily = first["loss"] > last["loss"] * 4
    narrows = last["test_accuracy_std"] < first["test_accuracy_std"]
    start = first["epoch"]  # 1, but on data so tiny that only every few epochs are tested
    rule = (
        f"holds if the mean training loss falls at least 4-fold from epoch {start} to epoch "
        f"{epochs} ({first['loss']:.4f} -> {last['loss']:.4f}) and the seeds' spread of the "
        f"test accuracy is smaller at the end than after epoch {start} "
        f"({first['test_accuracy_std']:.2%} -> {last['test_accuracy_std']:.2%})"
    )

    fig = new_figure(10, 3.4)
    axes = fig.subplots(1, 3)
    x = numbers
    for ax, (key, label) in zip(axes, CURVES.items(), strict=True):
        scale = 100 if key == "test_accuracy" else 1
        log = key == "loss"
        runs = [[v * scale for v in c] for c in curves[key]]
        band(ax, x, runs, "mean", "C0", legend_all=True, log=log)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label + (" (%)" if scale == 100 else ""))
        ax.set_title(label + ("\n(log scale: mean and std of the log)" if log else ""))
    axes[0].legend()
    fig.suptitle(
        f"LeNet-5 on {data_label(data)}: {seeds_count(ctx.seeds)} (thin lines), mean and spread"
    )
    return Outcome(
        table=table,
        holds=steadily and narrows,
        rule=rule,
        figures=[ctx.save(fig, "convergence.png")],
        notes=[f"mean ± std over {len(ctx.seeds)} seeds at selected epochs"],
        formats={"loss": "{:.4f}", "test_loss": "{:.4f}", "test_accuracy": "{:.2%}"},
    )
