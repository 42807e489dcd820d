"""``gabor``: learned first-layer filters look like Gabor filters.

Each trained first-layer kernel of LeNet-5 is fitted by :func:`anyconv.filters.gabor_kernel`
(orientation, frequency, phase, the two envelope widths, and the amplitude in closed form)
from many starting points, and the relative residual of the best fit is compared with that
of two baselines fitted the same way: random Gaussian kernels and the learned kernels with
their pixels shuffled (the same values, no spatial structure).
"""

from __future__ import annotations

import math

import torch

from anyconv.experiments._common import (
    FULL_TRAINING,
    QUICK_TRAINING,
    convs,
    data_label,
    dataset,
    seeds_count,
    trained_model,
)
from anyconv.experiments.registry import register_experiment
from anyconv.experiments.runner import Context, Outcome
from anyconv.filters import gabor_kernel
from anyconv.viz._figure import new_figure

QUICK = dict(
    QUICK_TRAINING,
    seeds=1,
    baseline=60,
    fit_steps=200,
)
FULL = dict(
    FULL_TRAINING,
    seeds=5,
    baseline=300,
    fit_steps=400,
)


def fit_gabor(kernels: torch.Tensor, steps: int = 300) -> tuple[torch.Tensor, torch.Tensor]:
    """The best-fitting Gabor kernel of each kernel, and the relative residual.

    Minimises ``‖w − A·G(θ, ω, ψ, α, β)‖`` with :func:`~anyconv.filters.gabor_kernel` on
    the kernel's own grid, by Adam from a grid of 8 orientations x 4 frequencies x 4
    phases, with the amplitude ``A = <w, G> / <G, G>`` in closed form; keeps the best start.

    Args:
        kernels: ``(B, h, w)``.
        steps: Adam steps per start.

    Returns:
        ``(fitted, residual)``: ``(B, h, w)`` and ``‖w − fit‖ / ‖w‖`` ``(B,)``.

    Example:
        >>> w = gabor_kernel(7, theta=0.7, omega=1.2, psi=0.3).expand(2, 7, 7)
        >>> fitted, residual = fit_gabor(w, steps=100)
        >>> bool((residual < 0.05).all())
        True
    """
    size = tuple(kernels.shape[-2:])
    w = kernels.detach().double()
    w = w / w.flatten(1).norm(dim=1).clamp_min(1e-30)[:, None, None]
    theta, omega, psi = torch.meshgrid(
        torch.arange(8) * math.pi / 8,
        torch.tensor([0.4, 0.8, 1.4, 2.2]),
        torch.arange(4) * math.pi / 2,
        indexing="ij",
    )
    starts = theta.numel()
    init = torch.stack([theta.flatten(), omega.flatten(), psi.flatten()], 1).double()
    params = init.repeat(len(w), 1)  # (B * starts, 3)
    log_env = torch.full((len(params), 2), math.log(2.0 / min(size) ** 2), dtype=torch.float64)
    params.requires_grad_()
    log_env.requires_grad_()
    target = w.repeat_interleave(starts, 0)
    optimiser = torch.optim.Adam([params, log_env], lr=0.05)

    def residuals() -> tuple[torch.Tensor, torch.Tensor]:
        alpha, beta = log_env.exp().unbind(1)
        g = gabor_kernel(size, params[:, 0], params[:, 1], params[:, 2], alpha, beta)
        amplitude = (g * target).sum((1, 2)) / (g * g).sum((1, 2)).clamp_min(1e-30)
        fit = amplitude[:, None, None] * g
        return fit, (target - fit).flatten(1).norm(dim=1)

    for _ in range(steps):
        optimiser.zero_grad()
        residuals()[1].pow(2).sum().backward()
        optimiser.step()
    with torch.no_grad():
        fit, residual = residuals()
    best = residual.view(len(w), starts).argmin(1)
    index = torch.arange(len(w)) * starts + best
    scale = kernels.detach().double().flatten(1).norm(dim=1)[:, None, None]
    return (fit[index] * scale).to(kernels.dtype), residual[index].to(kernels.dtype)


@register_experiment(
    "gabor",
    "Learned first-layer filters are close to Gabor filters: a fitted Gabor explains them "
    "far better than it explains random filters.",
    quick=QUICK,
    full=FULL,
)
def run(ctx: Context) -> Outcome:
    cfg = ctx.config
    data = dataset(cfg)
    ctx.plan(len(ctx.seeds) + 3)
    learned = []
    for seed in ctx.seeds:
        with ctx.stage(f"lenet5, seed {seed}"):
            model, _ = trained_model("lenet5", data, cfg, seed)
            weight = convs(model)[0].weight.detach()
            learned.append(weight.flatten(0, 1))  # (O * C, kh, kw)
    learned = torch.cat(learned)
    size = tuple(learned.shape[-2:])
    generator = torch.Generator().manual_seed(cfg["seed"])
    n = cfg["baseline"]
    pick = torch.randint(len(learned), (n,), generator=generator)
    shuffled = torch.stack(
        [learned[i].flatten()[torch.randperm(math.prod(size), generator=generator)] for i in pick]
    ).view(n, *size)
    sets = {
        "learned (LeNet-5 conv1)": learned,
        "learned, pixels shuffled": shuffled,
        "random Gaussian": torch.randn(n, *size, generator=generator),
    }
    fits = {}
    for name, kernels in sets.items():
        with ctx.stage(f"fitting Gabors to {len(kernels)} {name} kernels"):
            fits[name] = fit_gabor(kernels, cfg["fit_steps"])
    table = []
    for name, (_, residual) in fits.items():
        q = torch.quantile(residual.double(), torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64))
        table.append(
            {
                "kernels": name,
                "count": len(residual),
                "residual_median": q[1].item(),
                "residual_q25": q[0].item(),
                "residual_q75": q[2].item(),
            }
        )
    median = {row["kernels"]: row["residual_median"] for row in table}
    learned_name, *baselines = list(sets)
    best_baseline = min(median[b] for b in baselines)
    holds = median[learned_name] < best_baseline
    rule = (
        f"holds if the median relative residual of the Gabor fits to the learned kernels "
        f"({median[learned_name]:.1%}) is below the smaller median of the baselines, "
        f"shuffled and random ({best_baseline:.1%})"
    )

    fig = new_figure(10, 6)
    grid = fig.add_gridspec(2, 1, height_ratios=[1.5, 1])
    shown = min(len(learned), 12)
    panels = grid[0].subgridspec(3, shown).subplots(squeeze=False)
    fitted, residual = fits[learned_name]
    for j in range(shown):
        limit = learned[j].abs().max().item()
        for i, (image, label) in enumerate(
            (
                (learned[j], "learned"),
                (fitted[j], "Gabor fit"),
                (learned[j] - fitted[j], "residual"),
            )
        ):
            ax = panels[i][j]
            ax.imshow(image.numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(label, fontsize=8)
        panels[0][j].set_title(f"residual {residual[j]:.0%}", fontsize=8)
    bottom = fig.add_subplot(grid[1])
    values = [fits[name][1].numpy() * 100 for name in sets]
    bottom.boxplot(values, orientation="horizontal", tick_labels=list(sets), widths=0.5)
    bottom.set_xlabel("relative residual of the best Gabor fit ‖w − fit‖ / ‖w‖ (%)")
    bottom.set_title("lower is more Gabor-like")
    fig.suptitle(
        f"LeNet-5's first-layer kernels ({data_label(data)}) and their best Gabor fits\n"
        "red positive, blue negative, one colour scale per column",
        fontsize=11,
    )
    return Outcome(
        table=table,
        holds=holds,
        rule=rule,
        figures=[ctx.save(fig, "gabor.png")],
        notes=[
            f"{len(learned)} learned {size[0]}x{size[1]} kernels from {seeds_count(ctx.seeds)}; "
            f"{n} kernels per baseline"
        ],
        formats={k: "{:.1%}" for k in ("residual_median", "residual_q25", "residual_q75")},
    )
