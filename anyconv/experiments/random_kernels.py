"""``random-kernels``: untrained convolution kernels and a linear classifier (MiniRocket)
classify time series as well as trained convolutional networks (fcn, inception_time), in
a fraction of the time.

Each model meets the same UCR/UEA sets: by default sets that sktime bundles (its test
extra), or ``--data ucr:PREFIX`` for one of your own. The networks train with their
``ucr:`` recipe for ``epochs`` epochs (the quick run's too few to converge: it checks the
machinery, not the claim); MiniRocket is fitted in its one pass. Fit time is the training
time of each run (the epochs, or MiniRocket's transform and ridge), on one thread.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import torch
from matplotlib.ticker import NullFormatter

from anyconv.experiments._common import mean_std, seeds_note
from anyconv.experiments.registry import register_experiment
from anyconv.experiments.runner import Context, Outcome
from anyconv.viz._figure import new_figure

NETWORKS = ("fcn", "inception_time")
MODELS = (*NETWORKS, "minirocket")
QUICK = {"data": ["ItalyPowerDemand"], "epochs": 3, "seeds": 1, "margin": 0.02, "speedup": 10}
FULL = {
    "data": ["ItalyPowerDemand", "GunPoint", "BasicMotions", "ArrowHead"],
    "epochs": 100,
    "seeds": 3,
    "margin": 0.02,
    "speedup": 10,
}


def resolve(name: str) -> str:
    """A ``ucr:`` spec: ``name`` itself when it is one, else the set of that name that
    sktime bundles (an error saying so when sktime is not installed)."""
    if ":" in name:
        return name
    try:
        import sktime.datasets
    except ImportError:
        raise ValueError(
            f"random-kernels: {name!r} is one of the sets sktime bundles, and sktime is not "
            "installed (the test extra); give --data ucr:PREFIX for a set of your own"
        ) from None
    return f"ucr:{Path(sktime.datasets.__file__).parent / 'data' / name}"


@register_experiment(
    "random-kernels",
    "Random, untrained convolution kernels with a linear classifier (MiniRocket) match "
    "trained CNNs (fcn, inception_time) on time-series classification at a fraction of "
    "their fit time.",
    quick=QUICK,
    full=FULL,
)
def run(ctx: Context) -> Outcome:
    from anyconv.train import TrainConfig, train

    cfg = ctx.config
    names = cfg["data"] if isinstance(cfg["data"], list) else [cfg["data"]]
    specs = {name: resolve(name) for name in names}
    ctx.plan(len(specs) * len(MODELS) * len(ctx.seeds))
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for name, spec in specs.items():
            for model in MODELS:
                for seed in ctx.seeds:
                    with ctx.stage(f"{model} on {name}, seed {seed}"):
                        epochs = {} if model == "minirocket" else {"epochs": cfg["epochs"]}
                        config = TrainConfig(
                            model=model,
                            data=spec,
                            seed=seed,
                            quiet=True,
                            pictures=False,
                            out=str(ctx.out / "runs" / f"{name}-{model}-{seed}"),
                            overwrite=True,
                            **epochs,
                        )
                        m = train(config)
                        fit = sum(r["seconds"] for r in m["history"])
                        results.setdefault((name, model), []).append(
                            {"accuracy": m["test_accuracy"], "seconds": fit}
                        )
    finally:
        torch.set_num_threads(threads)

    table = []
    for name in specs:
        for model in MODELS:
            runs = results[name, model]
            acc = mean_std([r["accuracy"] for r in runs])
            table.append(
                {
                    "data": name,
                    "model": model,
                    "epochs": 1 if model == "minirocket" else cfg["epochs"],
                    "test_accuracy": acc[0],
                    "test_accuracy_std": acc[1],
                    "fit_seconds": statistics.fmean(r["seconds"] for r in runs),
                }
            )

    def mean_over_sets(model: str, key: str) -> float:
        return statistics.fmean(r[key] for r in table if r["model"] == model)

    rocket_acc = mean_over_sets("minirocket", "test_accuracy")
    best_net = max(NETWORKS, key=lambda m: mean_over_sets(m, "test_accuracy"))
    net_acc = mean_over_sets(best_net, "test_accuracy")
    rocket_time = mean_over_sets("minirocket", "fit_seconds")
    fastest_net = min(mean_over_sets(m, "fit_seconds") for m in NETWORKS)
    speedup = fastest_net / max(rocket_time, 1e-9)
    matches = rocket_acc >= net_acc - cfg["margin"]
    faster = speedup >= cfg["speedup"]
    rule = (
        f"holds if MiniRocket's test accuracy, averaged over the {len(specs)} set(s), is at "
        f"most {cfg['margin']:.0%} below the better network's ({best_net}): {rocket_acc:.2%} "
        f"{'>=' if matches else '<'} {net_acc:.2%} - {cfg['margin']:.0%}; and if its mean fit "
        f"time is at most 1/{cfg['speedup']} of the faster network's: {rocket_time:.1f} s vs "
        f"{fastest_net:.1f} s ({speedup:.0f}x {'>=' if faster else '<'} {cfg['speedup']}x)"
    )

    fig = new_figure(7.5, 4.2)
    ax = fig.subplots()
    markers = {"fcn": "s", "inception_time": "^", "minirocket": "o"}
    for model in MODELS:
        rows = [r for r in table if r["model"] == model]
        ax.scatter(
            [r["fit_seconds"] for r in rows],
            [100 * r["test_accuracy"] for r in rows],
            marker=markers[model],
            s=50,
            label=model + (" (untrained kernels)" if model == "minirocket" else " (trained)"),
        )
        for r in rows:
            ax.annotate(r["data"], (r["fit_seconds"], 100 * r["test_accuracy"]), fontsize=7,
                        xytext=(4, 3), textcoords="offset points")  # fmt: skip
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())  # crowded minor labels on a short decade
    ax.margins(x=0.15, y=0.12)
    ax.set_xlabel("fit time per run (s, one thread, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"accuracy against fit time ({seeds_note(ctx.seeds)})")
    ax.legend(loc="best", fontsize=8)
    fig.suptitle("random kernels (MiniRocket) against trained CNNs on UCR/UEA sets")
    return Outcome(
        table=table,
        holds=matches and faster,
        rule=rule,
        figures=[ctx.save(fig, "random_kernels.png")],
        notes=[f"networks: {cfg['epochs']} epochs of their ucr: recipe; {seeds_note(ctx.seeds)}"],
        formats={"test_accuracy": "{:.2%}", "fit_seconds": "{:.1f}"},
    )
