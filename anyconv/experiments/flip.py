"""``flip``: true convolution (kernel flipped) and cross-correlation learn equally well.

A network with ``flip=True`` computes with every kernel mirrored. Mirroring is a fixed
permutation of the weights and the optimiser (AdamW) acts on each weight alone, so a
network trained with ``flip=True`` from the mirrored initial kernels follows exactly the
trajectory of the ``flip=False`` network, mirrored. The experiment shows both: the same
accuracy over independent seeds, and the mirrored trajectory for one seed.
"""

from __future__ import annotations

import math

import torch

from anyconv.experiments._common import (
    FULL_TRAINING,
    QUICK_TRAINING,
    builder,
    convs,
    data_label,
    dataset,
    evaluated,
    mean_std,
    seeds_count,
    seeds_note,
    trained,
)
from anyconv.experiments._plots import band, seed_dots
from anyconv.experiments.registry import register_experiment
from anyconv.experiments.runner import Context, Outcome
from anyconv.viz._figure import new_figure

QUICK = dict(QUICK_TRAINING, seeds=2)
FULL = dict(FULL_TRAINING, seeds=5)


def set_flip(model: torch.nn.Module, flip: bool, *, mirror_weights: bool = False) -> None:
    """Switch every convolution of ``model`` to true convolution (``flip=True``) or
    cross-correlation; ``mirror_weights`` also mirrors each kernel so the function stays.

    Example:
        >>> from anyconv.models import LeNet5
        >>> net, x = LeNet5(input_size=(28, 28)), torch.randn(2, 1, 28, 28)
        >>> before = net(x)
        >>> set_flip(net, True, mirror_weights=True)
        >>> torch.allclose(net(x), before, atol=1e-5)
        True
    """
    for conv in convs(model):
        conv.flip = flip
        if mirror_weights:
            with torch.no_grad():
                conv.weight.copy_(conv.weight.flip(tuple(range(2, conv.weight.dim()))))


def mirrored_difference(a: torch.nn.Module, b: torch.nn.Module) -> float:
    """Largest ``|w_a - mirror(w_b)| / max|w_a|`` over the convolutions of two networks."""
    worst = 0.0
    for ca, cb in zip(convs(a), convs(b), strict=True):
        wb = cb.weight.flip(tuple(range(2, cb.weight.dim())))
        worst = max(worst, ((ca.weight - wb).abs().max() / ca.weight.abs().max()).item())
    return worst


@register_experiment(
    "flip",
    "Flipping the kernel (true convolution instead of cross-correlation) does not matter "
    "once it is learned: both train to the same accuracy within seed noise.",
    quick=QUICK,
    full=FULL,
)
def run(ctx: Context) -> Outcome:
    cfg = ctx.config
    data = dataset(cfg)
    build = builder("lenet5", data)
    train = dict(steps=cfg["steps"], lr=cfg["lr"])
    ctx.plan(2 * len(ctx.seeds) + 1)
    runs: dict[bool, list[dict]] = {False: [], True: []}
    for seed in ctx.seeds:
        for flip in (False, True):
            with ctx.stage(f"lenet5 flip={flip}, seed {seed}"):

                def build_flip(flip=flip):
                    model = build()
                    set_flip(model, flip)
                    return model

                label = "lenet5" if not flip else "lenet5-flip"
                model, metrics = trained(label, build_flip, data, seed=seed, **train)
                runs[flip].append(metrics)
                if flip is False and seed == ctx.seeds[0]:
                    reference = model
    first = ctx.seeds[0]
    with ctx.stage(f"lenet5 flip=True from the mirrored initial kernels of seed {first}"):

        def build_mirrored():
            model = build()
            set_flip(model, True, mirror_weights=True)
            return model

        mirrored, mirrored_metrics = trained(
            "lenet5-flip-mirrored", build_mirrored, data, seed=first, **train
        )
    difference = mirrored_difference(mirrored, reference)

    table = []
    accuracy = {}
    for flip in (False, True):
        acc = [m["test_accuracy"] for m in runs[flip]]
        accuracy[flip] = mean_std(acc)
        table.append(
            {
                "setting": "true convolution (flip=True)" if flip else "cross-correlation",
                "seeds": len(acc),
                "test_accuracy": accuracy[flip][0],
                "test_accuracy_std": accuracy[flip][1],
                "train_loss": mean_std([m["train_loss"] for m in runs[flip]])[0],
                "weights_vs_mirrored": None,
            }
        )
    table.append(
        {
            "setting": f"flip=True from mirrored init (seed {first})",
            "seeds": 1,
            "test_accuracy": mirrored_metrics["test_accuracy"],
            "test_accuracy_std": None,
            "train_loss": mirrored_metrics["train_loss"],
            "weights_vs_mirrored": difference,
        }
    )

    gap = abs(accuracy[True][0] - accuracy[False][0])
    stds = [s for _, s in accuracy.values() if s is not None]
    if stds:
        noise = math.sqrt(sum(s * s for s in stds) / len(stds))
        noise_text = f"the seeds' standard deviation ({noise:.2%})"
    else:
        p, n = accuracy[False][0], len(data.y_test)
        noise = math.sqrt(max(p * (1 - p), 1 / n) / n)
        noise_text = f"the binomial standard error of one test accuracy ({noise:.2%})"
    same_accuracy = gap <= 2 * noise
    same_trajectory = difference < 1e-4
    rule = (
        f"holds if the mean test accuracies differ by at most 2 x {noise_text}: "
        f"|{accuracy[True][0]:.2%} - {accuracy[False][0]:.2%}| = {gap:.2%} "
        f"{'<=' if same_accuracy else '>'} {2 * noise:.2%}; and if flip=True trained from "
        f"the mirrored initial kernels ends at the mirrored kernels of flip=False "
        f"(largest relative difference {difference:.1e} {'<' if same_trajectory else '>='} 1e-4)"
    )

    fig = new_figure(9, 3.6)
    left, right = fig.subplots(1, 2)
    seed_dots(
        left,
        ["cross-correlation\n(flip=False)", "true convolution\n(flip=True)"],
        [[m["test_accuracy"] * 100 for m in runs[f]] for f in (False, True)],
    )
    left.set_ylabel("test accuracy (%)")
    low = min(m["test_accuracy"] for f in runs for m in runs[f]) * 100
    left.set_ylim(max(0, low - 3 * max(noise * 100, 0.5)), 100)
    left.set_title(f"final test accuracy (bar: mean, dots: {seeds_count(ctx.seeds)})")
    for flip, color in ((False, "C0"), (True, "C1")):
        rows = [evaluated(m["history"]) for m in runs[flip]]
        history = [[h["test_accuracy"] * 100 for h in seed_rows] for seed_rows in rows]
        epochs = [h["epoch"] for h in rows[0]]
        band(right, epochs, history, "flip=True" if flip else "flip=False", color)
    right.set_xlabel("epoch")
    right.set_ylabel("test accuracy (%)")
    right.set_title("test accuracy while training (mean ± std)")
    right.legend()
    fig.suptitle(f"LeNet-5 on {data_label(data)}: flipped vs unflipped kernels")
    figures = [ctx.save(fig, "flip.png")]
    return Outcome(
        table=table,
        holds=same_accuracy and same_trajectory,
        rule=rule,
        figures=figures,
        notes=[f"test accuracy: {seeds_note(ctx.seeds)}"],
        formats={
            "test_accuracy": "{:.2%}",
            "train_loss": "{:.4f}",
            "weights_vs_mirrored": "{:.1e}",
        },
    )
