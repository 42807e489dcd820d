"""``separable-rank``: rank-r separable kernels approximate learned 2-D kernels.

A ``k x k`` kernel is a ``k x k`` matrix; its truncated SVD gives the best rank-``r`` sum of
outer products of 1-D kernels (Eckart-Young), applied as ``r`` pairs of 1-D convolutions
at about ``r·2k`` instead of ``k²`` multiply-adds per output and channel pair (a little more:
the first pass also runs over the padded border; :func:`conv_macs` counts it exactly). The
experiment factorises the trained kernels of LeNet-5, a Gabor bank and random kernels, and
replaces LeNet-5's convolutions by rank-``r`` :class:`~anyconv.nn.SeparableConv2d` layers.
"""

from __future__ import annotations

import math

import torch

from anyconv.analysis import summary
from anyconv.experiments._common import (
    FULL_TRAINING,
    QUICK_TRAINING,
    accuracy,
    builder,
    convs,
    data_label,
    dataset,
    mean_std,
    replace,
    seeds_count,
    seeds_note,
    trained_model,
)
from anyconv.experiments.registry import register_experiment
from anyconv.experiments.runner import Context, Outcome
from anyconv.filters import gabor_bank
from anyconv.functional.filters import default_gabor_envelope
from anyconv.functional.separable import factorize, max_rank
from anyconv.nn.base import ConvLayer
from anyconv.nn.separable import SeparableConv2d
from anyconv.viz._figure import new_figure

QUICK = dict(QUICK_TRAINING, seeds=1)
FULL = dict(FULL_TRAINING, seeds=3)
TOLERANCE = 0.01
"""Largest drop in test accuracy (1 point) that still counts as keeping the accuracy."""


def relative_error(weight: torch.Tensor, rank: int) -> float:
    """``‖w − ŵ_r‖ / ‖w‖`` over all kernels of ``weight`` ``(O, C, kh, kw)`` together.

    Example:
        >>> w = torch.outer(torch.ones(3), torch.arange(3.0)).expand(2, 1, 3, 3)  # rank 1
        >>> relative_error(w, 1) < 1e-6, round(relative_error(torch.eye(3)[None, None], 1), 4)
        (True, 0.8165)
    """
    result = factorize(weight, rank)
    norms = weight.detach().double().flatten(2).norm(dim=2)
    return (math.sqrt(((result.error.double() * norms) ** 2).sum()) / norms.norm()).item()


def _elongated_gabors(kernel: tuple[int, ...]) -> torch.Tensor:
    """The Gabor bank with the envelope twice as long along the stripes as across them."""
    alpha = default_gabor_envelope(kernel)
    bank = gabor_bank(kernel, orientations=8, frequencies=3, alpha=alpha, beta=alpha / 4)
    return bank.double()


def conv_macs(model: torch.nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-adds of the convolution layers of ``model`` for one input, as
    :func:`anyconv.analysis.summary` counts them: ``O·C·kh·kw`` per output position, and
    for a separable layer its 1-D passes (the first over the output rows and the padded
    columns, for each of the ``C·O·r`` partial maps; the second summing ``C·r`` of them into
    each output).

    Example:
        >>> net = torch.nn.Sequential(SeparableConv2d(1, 1, 3, rank=1, padding=1))
        >>> conv_macs(net, (1, 3, 3))  # 3 taps at 3x5 positions, then at 3x3
        72
    """
    names = {name for name, m in model.named_modules() if isinstance(m, ConvLayer)}
    return sum(row["macs"] for row in summary(model, input_shape) if row["name"] in names)


def separable_copy(model: torch.nn.Module, build, rank: int) -> torch.nn.Module:
    """A copy of ``model`` (rebuilt by ``build()``) with every convolution replaced by its
    rank-``rank`` :meth:`SeparableConv2d.from_conv`."""
    copy = build()
    copy.load_state_dict(model.state_dict())
    for conv in convs(copy):
        replace(copy, conv, SeparableConv2d.from_conv(conv, rank))
    return copy.eval()


@register_experiment(
    "separable-rank",
    "Separable (rank-r) filters approximate 2-D kernels: a low rank keeps a trained "
    "network's accuracy at fewer multiply-adds.",
    quick=QUICK,
    full=FULL,
)
def run(ctx: Context) -> Outcome:
    cfg = ctx.config
    data = dataset(cfg)
    x, y = data.x_test, data.y_test
    ctx.plan(len(ctx.seeds) * 2)
    models = []
    for seed in ctx.seeds:
        with ctx.stage(f"lenet5, seed {seed}"):
            model, _ = trained_model("lenet5", data, cfg, seed)
            models.append(model)
    kernel = tuple(convs(models[0])[0].weight.shape[2:])
    ranks = list(range(1, max_rank(kernel) + 1))
    generator = torch.Generator().manual_seed(cfg["seed"])
    kernel_sets = {
        "conv1": [convs(m)[0].weight.detach() for m in models],
        "conv2": [convs(m)[1].weight.detach() for m in models],
        "gabor_round": [gabor_bank(kernel, orientations=8, frequencies=3).double()],
        "gabor_long": [_elongated_gabors(kernel)],
        "random": [torch.randn(64, 1, *kernel, generator=generator, dtype=torch.float64)],
    }
    errors = {
        name: [mean_std([relative_error(w, r) for w in ws])[0] for r in ranks]
        for name, ws in kernel_sets.items()
    }

    shape = data.input_shape
    full_macs = conv_macs(models[0], shape)
    accuracies: dict[int | None, list[float]] = {None: [accuracy(m, x, y) for m in models]}
    for seed, model in zip(ctx.seeds, models, strict=True):
        with ctx.stage(f"rank 1..{ranks[-1]} separable lenet5, seed {seed}"):
            for r in ranks:
                separable = separable_copy(model, builder("lenet5", data), r)
                accuracies.setdefault(r, []).append(accuracy(separable, x, y))
    separable_macs = {
        r: conv_macs(separable_copy(models[0], builder("lenet5", data), r), shape) for r in ranks
    }

    table = []
    original = mean_std(accuracies[None])
    table.append(
        {
            "rank": f"original {kernel[0]}x{kernel[1]}",
            "error_conv1": 0.0,
            "error_conv2": 0.0,
            "error_gabor_round": 0.0,
            "error_gabor_long": 0.0,
            "error_random": 0.0,
            "test_accuracy": original[0],
            "test_accuracy_std": original[1],
            "conv_macs": full_macs,
            "macs_vs_original": 1.0,
        }
    )
    for i, r in enumerate(ranks):
        mean, std = mean_std(accuracies[r])
        table.append(
            {
                "rank": r,
                **{f"error_{name}": errors[name][i] for name in kernel_sets},
                "test_accuracy": mean,
                "test_accuracy_std": std,
                "conv_macs": separable_macs[r],
                "macs_vs_original": separable_macs[r] / full_macs,
            }
        )
    good = [
        row["rank"]
        for row in table[1:]
        if row["test_accuracy"] >= original[0] - TOLERANCE and row["macs_vs_original"] < 1
    ]
    rule = (
        f"holds if a rank with fewer multiply-adds than the {kernel[0]}x{kernel[1]} kernels "
        f"(counted by anyconv.analysis) keeps the mean test accuracy within {TOLERANCE:.0%} of the "
        f"original ({original[0]:.2%}): "
        + (
            f"rank {good[0]} does ({table[good[0]]['test_accuracy']:.2%} at "
            f"{table[good[0]]['macs_vs_original']:.0%} of the MACs)"
            if good
            else "no such rank"
        )
    )

    fig = new_figure(10, 3.8)
    left, right = fig.subplots(1, 2)
    labels = {
        "conv1": "LeNet-5 conv1 (trained)",
        "conv2": "LeNet-5 conv2 (trained)",
        "gabor_round": "Gabor bank, round envelope",
        "gabor_long": "Gabor bank, envelope 2x longer along the stripes",
        "random": "random Gaussian kernels",
    }
    for name, label in labels.items():
        left.plot(ranks, [100 * e for e in errors[name]], "o-", label=label)
    left.set_xticks(ranks)
    left.set_xlabel("rank r (number of separable terms)")
    left.set_ylabel("relative error ‖w − w_r‖ / ‖w‖ (%)")
    left.set_title(f"approximation error of {kernel[0]}x{kernel[1]} kernels")
    left.legend(fontsize=7)
    acc = [100 * mean_std(accuracies[r])[0] for r in ranks]
    right.plot(ranks, acc, "o-", color="C0", label="rank-r separable LeNet-5")
    right.axhline(100 * original[0], color="k", ls="--", lw=1, label="original LeNet-5")
    right.set_xticks(ranks, [f"{r}\n{separable_macs[r] / full_macs:.0%}" for r in ranks])
    right.set_xlabel("rank r  /  conv multiply-adds vs the original")
    right.set_ylabel("test accuracy (%)")
    right.set_title(f"LeNet-5 with both convolutions rank-r ({seeds_count(ctx.seeds)})")
    right.legend(loc="lower right", fontsize=8)
    fig.suptitle(f"separable approximations on {data_label(data)}")
    return Outcome(
        table=table,
        holds=bool(good),
        rule=rule,
        figures=[ctx.save(fig, "separable_rank.png")],
        notes=[
            "errors: relative Frobenius error over all kernels of a set (mean over seeds)",
            "a Gabor kernel with a round envelope is exactly rank 2: the envelope separates "
            "and sin(u + v) = sin u cos v + cos u sin v; an elongated envelope is not",
            "conv MACs per sample, counted by anyconv.analysis.summary: O·C·kh·kw per output "
            "position; separable, the 1-D passes: C·O·r·kh per position of the first pass "
            "(output rows, padded columns), C·O·r·kw per output",
            f"test accuracy: {seeds_note(ctx.seeds)}",
        ],
        formats={
            **{f"error_{n}": "{:.1%}" for n in kernel_sets},
            "test_accuracy": "{:.2%}",
            "macs_vs_original": "{:.0%}",
        },
    )
