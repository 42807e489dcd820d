"""``sharing``: parameter sharing, from a dense layer to a convolution.

Four layers map the same input ``(C, H, W)`` to the same output ``(O, H, W)`` (``"same"``
padding): fully connected (every output sees every input, its own weight each), locally
connected (a ``k x k`` window, its own weights per output position), tiled (windows
sharing weights modulo a period ``T = 2``) and convolution (one kernel for all positions).
Each is the first layer of the same small network (layer, ReLU, 2x2 max pooling, linear).
"""

from __future__ import annotations

import itertools
import math

import torch

from anyconv.analysis import summary
from anyconv.experiments._common import (
    FULL_TRAINING,
    QUICK_TRAINING,
    data_label,
    dataset,
    mean_std,
    seeds_count,
    seeds_note,
    trained,
)
from anyconv.experiments._plots import seed_dots
from anyconv.experiments.registry import register_experiment
from anyconv.experiments.runner import Context, Outcome
from anyconv.models._common import make_pool, pooled
from anyconv.nn import Conv2d, LocallyConnected2d, TiledConv2d
from anyconv.viz._figure import new_figure

QUICK = dict(QUICK_TRAINING, seeds=1, channels=8)
FULL = dict(FULL_TRAINING, seeds=2, channels=8)
TILES = 2
KINDS = {
    "dense": "fully connected",
    "local": "locally connected",
    "tiled": f"tiled (T={TILES})",
    "conv": "convolution",
}


def kernel_size(input_size: tuple[int, int]) -> int:
    """5x5 windows on images of at least 16 pixels a side, 3x3 on smaller ones."""
    return 5 if min(input_size) >= 16 else 3


def first_layer(kind: str, c: int, o: int, k: int, size: tuple[int, int]) -> torch.nn.Module:
    """The layer ``(N, c, H, W) -> (N, o, H, W)`` of type ``kind`` (a key of :data:`KINDS`)."""
    if kind == "dense":
        h, w = size
        return torch.nn.Sequential(
            torch.nn.Flatten(),
            torch.nn.Linear(c * h * w, o * h * w),
            torch.nn.Unflatten(1, (o, h, w)),
        )
    if kind == "local":
        return LocallyConnected2d(c, o, k, input_size=size, padding="same")
    if kind == "tiled":
        return TiledConv2d(c, o, k, tiles=TILES, padding="same")
    return Conv2d(c, o, k, padding="same")


def closed_form(kind: str, c: int, o: int, k: int, size: tuple[int, int]) -> tuple[int, int]:
    """``(parameters, multiply-adds per sample)`` of :func:`first_layer`, from the formulas:
    dense ``CHW·OH'W' + OH'W'``; locally connected ``OH'W'(Ck² + 1)``; tiled
    ``O·T²·Ck² + O``; convolution ``O(Ck² + 1)``. Every window layer computes ``OH'W'·Ck²``
    multiply-adds, the dense one ``CHW·OH'W'``.

    Example:
        >>> closed_form("conv", 1, 6, 5, (28, 28))
        (156, 117600)
    """
    positions = math.prod(size)  # H' W' = H W with "same" padding, stride 1
    window = c * k * k
    macs = o * positions * window
    if kind == "dense":
        return c * positions * o * positions + o * positions, c * positions * o * positions
    if kind == "local":
        return o * positions * (window + 1), macs
    if kind == "tiled":
        return o * TILES * TILES * window + o, macs
    return o * (window + 1), macs


def network(kind: str, data, channels: int) -> torch.nn.Module:
    """``first_layer`` + ReLU + 2x2 max pooling + a linear classifier."""
    c, *size = data.input_shape
    size = tuple(size)
    k = kernel_size(size)
    out = pooled(size, 2)
    return torch.nn.Sequential(
        first_layer(kind, c, channels, k, size),
        torch.nn.ReLU(),
        make_pool("max", 2, 2, "sharing"),
        torch.nn.Flatten(),
        torch.nn.Linear(channels * math.prod(out), data.num_classes),
    )


@register_experiment(
    "sharing",
    "Sharing weights across positions divides a layer's parameters (locally connected -> "
    "tiled -> convolution) at the same multiply-adds, without costing accuracy on images.",
    quick=QUICK,
    full=FULL,
)
def run(ctx: Context) -> Outcome:
    cfg = ctx.config
    data = dataset(cfg)
    c, *size = data.input_shape
    size = tuple(size)
    k, o = kernel_size(size), cfg["channels"]
    ctx.plan(len(KINDS) * len(ctx.seeds))
    runs: dict[str, list[dict]] = {kind: [] for kind in KINDS}
    counted, macs = {}, {}  # the first layer's parameters and MACs (anyconv.analysis)
    for seed in ctx.seeds:
        for kind in KINDS:
            with ctx.stage(f"{KINDS[kind]}, seed {seed}"):
                model, metrics = trained(
                    f"sharing-{kind}-{o}",
                    lambda kind=kind: network(kind, data, o),
                    data,
                    steps=cfg["steps"],
                    lr=cfg["lr"],
                    seed=seed,
                )
                runs[kind].append(metrics)
                counted[kind] = sum(p.numel() for p in model[0].parameters())
                layers = summary(model, tuple(data.input_shape))
                first = [r for r in layers if r["name"] == "0" or r["name"].startswith("0.")]
                macs[kind] = sum(row["macs"] for row in first)
    table, formula_macs = [], {}
    for kind, label in KINDS.items():
        params, formula_macs[kind] = closed_form(kind, c, o, k, size)
        test = mean_std([m["test_accuracy"] for m in runs[kind]])
        table.append(
            {
                "layer": label,
                "parameters": params,
                "counted": counted[kind],
                "macs": macs[kind],
                "train_accuracy": mean_std([m["train_accuracy"] for m in runs[kind]])[0],
                "test_accuracy": test[0],
                "test_accuracy_std": test[1],
            }
        )
    rows = {kind: row for kind, row in zip(KINDS, table, strict=True)}
    formulas = all(r["parameters"] == r["counted"] for r in table) and formula_macs == macs
    order = [rows[kind]["parameters"] for kind in KINDS]
    fewer = all(a > b for a, b in itertools.pairwise(order))
    same_macs = len({rows[kind]["macs"] for kind in ("local", "tiled", "conv")}) == 1
    best = max(r["test_accuracy"] for r in table)
    keeps = rows["conv"]["test_accuracy"] >= best - 0.01
    rule = (
        f"holds if the closed forms equal the layers' parameter and MAC counts ({formulas}), the "
        f"parameters fall dense > local > tiled > conv ({' > '.join(f'{p:,}' for p in order)}: "
        f"{fewer}), the three window layers need the same multiply-adds ({same_macs}) and the "
        f"convolution's test accuracy ({rows['conv']['test_accuracy']:.2%}) is within 1 point "
        f"of the best ({best:.2%})"
    )

    fig = new_figure(10, 3.6)
    left, right = fig.subplots(1, 2)
    labels = [label.replace(" ", "\n", 1) for label in KINDS.values()]
    left.bar(labels, order, color=[f"C{i}" for i in range(len(KINDS))], alpha=0.7)
    left.set_yscale("log")
    left.set_ylabel("parameters of the layer (log scale)")
    for i, p in enumerate(order):
        left.annotate(f"{p:,}", (i, p), ha="center", va="bottom", fontsize=8)
    left.set_title(
        f"parameters of a layer {c}x{size[0]}x{size[1]} -> {o}x{size[0]}x{size[1]}, {k}x{k} "
        f"windows\n{rows['conv']['macs']:,} MACs each (fully connected: "
        f"{rows['dense']['macs']:,})",
        fontsize=9,
    )
    seed_dots(right, labels, [[m["test_accuracy"] * 100 for m in runs[kind]] for kind in KINDS])
    low = min(m["test_accuracy"] for kind in KINDS for m in runs[kind]) * 100
    right.set_ylim(max(0, low - 5), 100)
    right.set_ylabel("test accuracy (%)")
    right.set_title(
        f"test accuracy as first layer of a small net\n(bar: mean, dots: {seeds_count(ctx.seeds)})",
        fontsize=9,
    )
    fig.suptitle(f"from a dense layer to a convolution on {data_label(data)}")
    return Outcome(
        table=table,
        holds=formulas and fewer and same_macs and keeps,
        rule=rule,
        figures=[ctx.save(fig, "sharing.png")],
        notes=[
            "parameters: the closed form of the notes; counted: the layer's own tensors",
            "MACs: multiply-adds of the layer for one sample, counted by "
            "anyconv.analysis.summary (equal to the closed forms)",
            f"accuracy: {seeds_note(ctx.seeds)}",
        ],
        formats={"train_accuracy": "{:.2%}", "test_accuracy": "{:.2%}"},
    )
