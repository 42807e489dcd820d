"""``learned-invariance``: maxout over several filters learns an invariance.

A unit that takes the maximum over several separately parametrised filters (maxout,
:class:`~anyconv.nn.ChannelMaxPool`) responds whenever any of them does; trained on
rotated digits, its filters can become rotated versions of one pattern, and the unit's
response then barely changes when the input rotates. The experiment trains two networks
of the same size on randomly rotated images, one with a maxout first layer (``units x
pieces`` filters, max over each group of ``pieces``) and one plain, and measures how much
each first-layer feature (its strongest response over the image) changes when the test
images are rotated, before and after training.
"""

from __future__ import annotations

import math
import statistics

import torch
import torch.nn.functional as F

from anyconv.data import Splits
from anyconv.experiments._common import (
    FULL_TRAINING,
    QUICK_TRAINING,
    data_label,
    dataset,
    mean_std,
    seeds_note,
    trained,
)
from anyconv.experiments.registry import register_experiment
from anyconv.experiments.runner import Context, Outcome
from anyconv.models._common import make_pool, pooled
from anyconv.nn import ChannelMaxPool, Conv2d
from anyconv.viz._figure import new_figure

QUICK = dict(
    QUICK_TRAINING,
    seeds=1,
    units=8,
    pieces=4,
    max_angle=45,
    angles=[-45, -30, -15, 15, 30, 45],
)
FULL = dict(
    FULL_TRAINING,
    seeds=3,
    units=8,
    pieces=4,
    max_angle=45,
    angles=[-45, -30, -15, 15, 30, 45],
)
KINDS = {"maxout": "maxout first layer", "plain": "plain conv first layer"}


def rotate(x: torch.Tensor, degrees: torch.Tensor | float) -> torch.Tensor:
    """Images ``(N, C, H, W)`` rotated about their centre by ``degrees`` (one angle, or one
    per image ``(N,)``; positive is counter-clockwise), bilinear, zero outside.

    Example:
        >>> x = torch.zeros(1, 1, 5, 5); x[0, 0, 2, 4] = 1  # right of the centre
        >>> rotate(x, 90.0)[0, 0].argmax().item() == 2  # now above it: row 0, column 2
        True
    """
    angle = torch.as_tensor(degrees, dtype=x.dtype).expand(len(x)) * (math.pi / 180)
    cos, sin = torch.cos(angle), torch.sin(angle)
    zero = torch.zeros_like(cos)
    # affine_grid maps output to input coordinates (x right, y down): rotating the image
    # counter-clockwise on screen samples the input at the clockwise-rotated position
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def rotated_data(data: Splits, max_angle: float) -> Splits:
    """``data`` with every image rotated by its own angle, uniform in ``±max_angle``."""
    generator = torch.Generator().manual_seed(0)

    def spin(x: torch.Tensor) -> torch.Tensor:
        angles = (torch.rand(len(x), generator=generator) * 2 - 1) * max_angle
        return rotate(x, angles)

    return Splits(
        spin(data.x_train),
        data.y_train,
        spin(data.x_test),
        data.y_test,
        num_classes=data.num_classes,
        kind=data.kind,
        name=f"{data.name}, rotated ±{max_angle}°",
        class_names=data.class_names,
    )


def network(kind: str, data: Splits, units: int, pieces: int) -> torch.nn.Sequential:
    """First layer (``units x pieces`` 5x5 or 3x3 filters, max over groups of ``pieces``
    for ``"maxout"``), ReLU, pooling, a 16-channel conv, pooling, linear."""
    c, *size = data.input_shape
    k = 5 if min(size) >= 16 else 3
    filters = units * pieces
    width = units if kind == "maxout" else filters
    first = [Conv2d(c, filters, k, padding="same")]
    if kind == "maxout":
        first.append(ChannelMaxPool(pieces))
    out = pooled(pooled(tuple(size), 2), 2)
    return torch.nn.Sequential(
        torch.nn.Sequential(*first, torch.nn.ReLU()),
        make_pool("max", 2, 2, "learned-invariance"),
        Conv2d(width, 16, k, padding="same"),
        torch.nn.ReLU(),
        make_pool("max", 2, 2, "learned-invariance"),
        torch.nn.Flatten(),
        torch.nn.Linear(16 * math.prod(out), data.num_classes),
    )


@torch.no_grad()
def feature_change(features: torch.nn.Module, x: torch.Tensor, degrees: float) -> float:
    """How much the first-layer features change when ``x`` is rotated by ``degrees``.

    A feature's response to an image is its largest value over the image; its change is
    ``mean |r(rotated) - r(x)| / mean r(x)`` over the images, averaged over the features
    that respond at all.
    """
    r0 = features(x).amax((2, 3))
    r1 = features(rotate(x, degrees)).amax((2, 3))
    scale = r0.mean(0)
    alive = scale > 1e-6
    return ((r1 - r0).abs().mean(0)[alive] / scale[alive]).mean().item()


@register_experiment(
    "learned-invariance",
    "Maxout over separately parametrised filters can learn an invariance: trained on "
    "rotated digits, its units respond more nearly the same to rotated inputs than plain "
    "convolution units.",
    quick=QUICK,
    full=FULL,
)
def run(ctx: Context) -> Outcome:
    cfg = ctx.config
    data = rotated_data(dataset(cfg), cfg["max_angle"])
    x = dataset(cfg).x_test
    angles = cfg["angles"]
    ctx.plan(len(KINDS) * len(ctx.seeds))
    changes: dict[tuple[str, bool], list[list[float]]] = {}
    accuracy: dict[str, list[float]] = {kind: [] for kind in KINDS}
    parameters, first_filters = {}, None
    for seed in ctx.seeds:
        for kind in KINDS:

            def build(kind=kind):
                return network(kind, data, cfg["units"], cfg["pieces"])

            with ctx.stage(f"{KINDS[kind]}, seed {seed}"):
                torch.manual_seed(seed)
                untrained = build().eval()
                model, metrics = trained(
                    f"invariance-{kind}-{cfg['units']}x{cfg['pieces']}-{cfg['max_angle']}",
                    build,
                    data,
                    steps=cfg["steps"],
                    lr=cfg["lr"],
                    seed=seed,
                )
                for net, is_trained in ((untrained, False), (model, True)):
                    changes.setdefault((kind, is_trained), []).append(
                        [feature_change(net[0], x, a) for a in angles]
                    )
                accuracy[kind].append(metrics["test_accuracy"])
                parameters[kind] = sum(p.numel() for p in model.parameters())
                if kind == "maxout" and first_filters is None:
                    first_filters = model[0][0].weight.detach()
    table = []
    mean_change = {}
    for kind, label in KINDS.items():
        for is_trained in (False, True):
            per_seed = [statistics.fmean(c) for c in changes[(kind, is_trained)]]
            mean_change[(kind, is_trained)] = mean_std(per_seed)[0]
            acc = mean_std(accuracy[kind]) if is_trained else (None, None)
            table.append(
                {
                    "network": f"{label}, {'trained' if is_trained else 'at initialisation'}",
                    "parameters": parameters[kind],
                    "feature_change": mean_change[(kind, is_trained)],
                    "feature_change_std": mean_std(per_seed)[1],
                    "test_accuracy": acc[0],
                    "test_accuracy_std": acc[1],
                }
            )
    m_trained, p_trained = mean_change[("maxout", True)], mean_change[("plain", True)]
    m_init = mean_change[("maxout", False)]
    holds = m_trained < p_trained and m_trained < m_init
    rule = (
        f"holds if the trained maxout features change less under rotation (mean over "
        f"{angles[0]}..{angles[-1]} degrees: {m_trained:.1%}) than the trained plain conv "
        f"features ({p_trained:.1%}) and than the maxout features at initialisation "
        f"({m_init:.1%})"
    )

    fig = new_figure(10, 4.4)
    left, right = fig.subfigures(1, 2, width_ratios=[2.2, 1])
    ax = left.subplots()
    xs = [*angles, 0]
    order = sorted(range(len(xs)), key=xs.__getitem__)
    for (kind, is_trained), runs in changes.items():
        mean = [statistics.fmean(r[i] for r in runs) for i in range(len(angles))] + [0.0]
        spread = [mean_std([r[i] for r in runs])[1] or 0.0 for i in range(len(angles))]
        ax.errorbar(
            [xs[i] for i in order],
            [100 * mean[i] for i in order],
            yerr=[100 * [*spread, 0.0][i] for i in order],
            fmt="o-" if is_trained else "o--",
            capsize=3,
            color="C0" if kind == "maxout" else "C1",
            alpha=1 if is_trained else 0.5,
            label=f"{kind}, {'trained' if is_trained else 'untrained'}",
        )
    ax.set_xlabel("rotation of the test images (degrees)")
    ax.set_ylabel("change of first-layer features (%)")
    ax.set_title(f"lower = more invariant; {seeds_note(ctx.seeds)}", fontsize=10)
    ax.legend(fontsize=8)
    units, pieces = cfg["units"], cfg["pieces"]
    panels = right.subplots(units, pieces, squeeze=False)
    for u in range(units):
        for p in range(pieces):
            w = first_filters[u * pieces + p, 0]
            limit = first_filters[u * pieces : (u + 1) * pieces].abs().max().item()
            panels[u][p].imshow(w.numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
            panels[u][p].set_xticks([])
            panels[u][p].set_yticks([])
        panels[u][0].set_ylabel(f"unit {u}", fontsize=7, rotation=0, ha="right", va="center")
    right.suptitle(f"trained maxout units (rows)\nand their {pieces} filters each", fontsize=9)
    fig.suptitle(f"maxout vs plain first layer, trained on {data_label(data)}")
    return Outcome(
        table=table,
        holds=holds,
        rule=rule,
        figures=[ctx.save(fig, "learned_invariance.png")],
        notes=[
            "feature change: mean |r(rotated x) - r(x)| / mean r(x) of each first-layer "
            "feature's strongest response r, over the test images, features and angles",
            f"test accuracy on the rotated test set; {seeds_note(ctx.seeds)}",
        ],
        formats={"feature_change": "{:.1%}", "test_accuracy": "{:.2%}"},
    )
