"""``motion``: a 3-D CNN reads motion that a 2-D CNN applied frame by frame cannot.

On ``moving-digits`` the label is the direction in which a digit moves and every frame
alone is uninformative (the digit's position is uniform at every frame index), so
``frame2d`` (the same network with 2-D kernels, frames pooled) cannot beat chance, while
``c3d``, whose 3x3x3 kernels see three frames at once, can.
"""

from __future__ import annotations

import math

from anyconv.experiments._common import (
    data_label,
    dataset,
    evaluated,
    mean_std,
    seeds_count,
    seeds_note,
    trained_model,
)
from anyconv.experiments._plots import band, seed_dots
from anyconv.experiments.registry import register_experiment
from anyconv.experiments.runner import Context, Outcome
from anyconv.viz._figure import new_figure

QUICK = dict(clips="moving-digits", train_size=1000, test_size=500, steps=80, lr=5e-3, seeds=2)
FULL = dict(clips="moving-digits", train_size=None, test_size=None, steps=400, lr=5e-3, seeds=5)
MODELS = {"c3d": "3-D CNN (c3d)", "frame2d": "2-D CNN per frame (frame2d)"}


@register_experiment(
    "motion",
    "A 3-D CNN, convolving over time, reads motion that the same network with 2-D "
    "convolutions applied frame by frame cannot (it stays at chance).",
    quick=QUICK,
    full=FULL,
)
def run(ctx: Context) -> Outcome:
    cfg = ctx.config
    data = dataset(cfg, "clips")
    chance = 1 / data.num_classes
    ctx.plan(len(MODELS) * len(ctx.seeds))
    runs: dict[str, list[dict]] = {name: [] for name in MODELS}
    parameters = {}
    for seed in ctx.seeds:
        for name in MODELS:
            with ctx.stage(f"{name}, seed {seed}"):
                model, metrics = trained_model(name, data, cfg, seed)
                runs[name].append(metrics)
                parameters[name] = sum(p.numel() for p in model.parameters())
    table = []
    acc = {}
    for name, label in MODELS.items():
        values = [m["test_accuracy"] for m in runs[name]]
        acc[name] = values
        mean, std = mean_std(values)
        table.append(
            {
                "model": label,
                "parameters": parameters[name],
                "test_accuracy": mean,
                "test_accuracy_std": std,
                "worst_seed": min(values),
                "best_seed": max(values),
                "chance": chance,
            }
        )
    n = len(data.y_test) * len(ctx.seeds)
    error = math.sqrt(chance * (1 - chance) / n)  # standard error of an accuracy at chance
    frame_mean = mean_std(acc["frame2d"])[0]
    at_chance = frame_mean <= chance + 3 * error
    reads_motion = min(acc["c3d"]) >= 4 * chance
    rule = (
        f"holds if frame2d stays at chance (mean {frame_mean:.2%} "
        f"{'<=' if at_chance else '>'} chance {chance:.2%} + 3 standard errors "
        f"{3 * error:.2%}) and c3d reads the motion on every seed (worst seed "
        f"{min(acc['c3d']):.2%} {'>=' if reads_motion else '<'} 4 x chance = {4 * chance:.0%})"
    )

    fig = new_figure(9, 3.6)
    left, right = fig.subplots(1, 2)
    seed_dots(
        left,
        ["c3d\n(3-D convs)", "frame2d\n(2-D convs per frame)"],
        [[v * 100 for v in acc[name]] for name in MODELS],
    )
    left.axhline(chance * 100, color="k", ls="--", lw=1, label=f"chance ({chance:.1%})")
    left.set_ylim(0, 100)
    left.set_ylabel("test accuracy (%)")
    left.set_title(f"final test accuracy (bar: mean, dots: {seeds_count(ctx.seeds)})")
    left.legend(loc="center right")
    for name, color in zip(MODELS, ("C0", "C1"), strict=True):
        rows = [evaluated(m["history"]) for m in runs[name]]
        history = [[h["test_accuracy"] * 100 for h in seed_rows] for seed_rows in rows]
        band(right, [h["epoch"] for h in rows[0]], history, name, color)
    right.axhline(chance * 100, color="k", ls="--", lw=1)
    right.set_ylim(0, 100)
    right.set_xlabel("epoch")
    right.set_ylabel("test accuracy (%)")
    right.set_title("while training (mean ± std over seeds)")
    right.legend()
    fig.suptitle(f"direction of motion on {data_label(data)}: {data.num_classes} classes")
    return Outcome(
        table=table,
        holds=at_chance and reads_motion,
        rule=rule,
        figures=[ctx.save(fig, "motion.png")],
        notes=[f"test accuracy: {seeds_note(ctx.seeds)}"],
        formats={k: "{:.2%}" for k in ("test_accuracy", "worst_seed", "best_seed", "chance")},
    )
