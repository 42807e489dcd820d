"""``checkerboard``: the checkerboard artefacts of transposed convolutions (Odena, Dumoulin &
Olah, "Deconvolution and Checkerboard Artifacts", Distill 2016).

A transposed convolution with stride ``s`` scatters each input sample's kernel onto the
output, ``s`` positions apart: output ``i`` receives the taps ``p`` with ``p ≡ i + lo (mod
s)``. When the kernel size is not divisible by the stride, the output phases receive
different numbers of taps (kernel 3, stride 2: 1 and 2 per axis, 1, 2 and 4 in 2-D), the
*uneven overlap*; a divisible size gives every phase the same number, and resizing
(nearest neighbour) then convolving gives every output the whole kernel.

Five ways to double an image's size are compared, each as the last layer of the same small
decoder (3x3 convolution to ``channels`` maps, ReLU, the upsampler to one map), which learns
to rebuild an image from its 2x2 average (MNIST: 14x14 -> 28x28; the 8x8 digits: 4x4 ->
8x8) with the mean squared error: transposed convolutions with kernels 3 and 5 (not
divisible by the stride 2), 2 and 4 (divisible), all with ``"same"`` padding (output ``2n``),
and nearest-neighbour resizing then a 3x3 convolution. Measured:

- the overlap: how many kernel taps reach each output position (a constant input through
  a kernel of ones), its max/min over the interior;
- the artefact energy: the share of an output's power (its mean removed) at the stride's
  period, the frequencies ``(a/s, b/s)`` cycles per pixel (``(0, 1/2)``, ``(1/2, 0)``,
  ``(1/2, 1/2)`` for ``s = 2``): a checkerboard puts its power exactly there, real images
  little (MNIST's test digits: 0.02%); on the test images' reconstructions, at
  initialisation and after training;
- the flat-field checkerboard after training: the decoder's output for constant inputs
  (the pattern a featureless region gets), the spread of its ``s x s`` phase means over
  their mean magnitude.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from anyconv.experiments._common import (
    FULL_TRAINING,
    QUICK_TRAINING,
    data_label,
    dataset,
    mean_std,
    seeds_count,
    seeds_note,
)
from anyconv.experiments._plots import seed_dots
from anyconv.experiments.registry import register_experiment
from anyconv.experiments.runner import Context, Outcome
from anyconv.functional import conv, conv_transpose
from anyconv.nn import Conv2d, ConvTranspose2d
from anyconv.viz._figure import new_figure

STRIDE = 2
METHODS: dict[str, int | None] = {
    "transposed k=3": 3,
    "transposed k=5": 5,
    "transposed k=2": 2,
    "transposed k=4": 4,
    "resize + conv 3x3": None,
}
"""The upsamplers: a transposed convolution's kernel size, or ``None`` for nearest-neighbour
resizing then a 3x3 convolution."""
RESIZE_KERNEL = 3
MARGIN = 1.5
"""How many times the artefact energy of a kernel size not divisible by the stride must
exceed that of every other upsampler, in every seed, for the claim to hold."""
FLAT_LEVELS = (0.25, 0.5, 0.75, 1.0)
"""The constant inputs of the flat-field measure, as fractions of the data's maximum."""
FLAT_SIZE = 12
"""The side of the constant inputs (the decoders are fully convolutional): the output of 24
leaves a 14-pixel interior beyond the padding's reach, whatever the images' size."""
BATCH = 64

QUICK = dict(QUICK_TRAINING, seeds=2, channels=16, lr=3e-3)
FULL = dict(FULL_TRAINING, seeds=3, channels=16, lr=3e-3, steps=2000, test_size=2000)
"""The full run: 2,000 steps (the decoders' test error stops falling after about 1,000 on
MNIST), the artefacts measured on 2,000 test images."""


def divisible(kernel: int | None) -> bool | None:
    """Whether a transposed convolution's kernel size is divisible by the stride (``None``
    for resizing)."""
    return None if kernel is None else kernel % STRIDE == 0


def upsampler(kernel: int | None, channels: int, out_channels: int) -> torch.nn.Module:
    """``(N, channels, h, w) -> (N, out_channels, 2h, 2w)``: a transposed convolution with
    ``"same"`` padding (output ``stride`` times the input, any kernel size), or
    nearest-neighbour resizing then a 3x3 ``"same"`` convolution."""
    if kernel is not None:
        return ConvTranspose2d(channels, out_channels, kernel, stride=STRIDE, padding="same")
    return torch.nn.Sequential(
        torch.nn.Upsample(scale_factor=STRIDE, mode="nearest"),
        Conv2d(channels, out_channels, RESIZE_KERNEL, padding="same"),
    )


def decoder(kernel: int | None, in_channels: int, channels: int) -> torch.nn.Module:
    """3x3 convolution to ``channels`` maps, ReLU, and the upsampler back to
    ``in_channels``: the upsampler is the last layer, so its pattern reaches the output."""
    return torch.nn.Sequential(
        Conv2d(in_channels, channels, 3, padding="same"),
        torch.nn.ReLU(),
        upsampler(kernel, channels, in_channels),
    )


def shrink(x: torch.Tensor) -> torch.Tensor:
    """The decoder's input: ``x`` ``(N, C, H, W)`` averaged over ``stride x stride`` blocks."""
    return F.avg_pool2d(x, STRIDE)


def overlap(kernel: int | None, size: int = 8) -> torch.Tensor:
    """How many kernel taps reach each output position: a constant input ``size x size``
    through a kernel of ones, ``(2·size, 2·size)``.

    Example:
        >>> overlap(3)[4:8, 4:8].int()
        tensor([[4, 2, 4, 2],
                [2, 1, 2, 1],
                [4, 2, 4, 2],
                [2, 1, 2, 1]], dtype=torch.int32)
    """
    ones = torch.ones(1, 1, size, size, dtype=torch.float64)
    if kernel is None:
        up = F.interpolate(ones, scale_factor=STRIDE, mode="nearest")
        taps = torch.ones(1, 1, RESIZE_KERNEL, RESIZE_KERNEL, dtype=torch.float64)
        return conv(up, taps, padding="same")[0, 0]
    taps = torch.ones(1, 1, kernel, kernel, dtype=torch.float64)
    return conv_transpose(ones, taps, stride=STRIDE, padding="same")[0, 0]


def unevenness(counts: torch.Tensor, border: int = 5) -> float:
    """Max over min of the overlap counts away from the border.

    Example:
        >>> unevenness(overlap(3)), unevenness(overlap(4)), unevenness(overlap(None))
        (4.0, 1.0, 1.0)
    """
    inner = counts[border:-border, border:-border]
    return float(inner.max() / inner.min())


def period_energy(z: torch.Tensor) -> float:
    """The share of the power of images ``z`` ``(N, C, H, W)`` (each one's mean removed) at
    the stride's period: the frequencies ``(a·H/s, b·W/s)``, ``(a, b) ≠ (0, 0)``.

    Example:
        >>> board = (torch.arange(4.0)[:, None] + torch.arange(4.0)) % 2  # a checkerboard
        >>> period_energy(board.view(1, 1, 4, 4)), period_energy(torch.ones(1, 1, 4, 4) + 0)
        (1.0, 0.0)
    """
    power = torch.fft.fft2(z.double()).abs() ** 2
    h, w = z.shape[-2:]
    total = power.sum() - power[..., 0, 0].sum()
    rows = torch.arange(0, h, h // STRIDE)
    cols = torch.arange(0, w, w // STRIDE)
    period = power[..., rows[:, None], cols].sum() - power[..., 0, 0].sum()
    return float(period / total) if total > 0 else 0.0


def phase_spread(z: torch.Tensor) -> torch.Tensor:
    """The checkerboard of outputs ``z`` ``(..., H, W)``: the spread (std) of the means of
    their ``s x s`` phases (interior only) over the phases' mean magnitude; 0 when every
    phase has the same mean. Returns one value per leading index.

    Example:
        >>> board = (torch.arange(12.0)[:, None] + torch.arange(12.0)) % 2 + 1
        >>> round(float(phase_spread(board)), 4), float(phase_spread(torch.ones(12, 12)))
        (0.3849, 0.0)
    """
    z = _interior(z)
    phases = torch.stack(
        [z[..., i::STRIDE, j::STRIDE].mean((-2, -1)) for i in range(STRIDE) for j in range(STRIDE)]
    )
    return phases.std(0) / phases.abs().mean(0).clamp_min(1e-12)


def flat_checker(model: torch.nn.Module, channels: int, top: float) -> float:
    """The checkerboard of ``model``'s output for constant inputs (:data:`FLAT_LEVELS` of
    ``top``, :data:`FLAT_SIZE` a side): :func:`phase_spread`, averaged over the levels and
    channels."""
    levels = torch.tensor(FLAT_LEVELS).view(-1, 1, 1, 1) * top
    with torch.no_grad():
        z = model(levels.expand(-1, channels, FLAT_SIZE, FLAT_SIZE).contiguous())
    return float(phase_spread(z).mean())


def _interior(image: torch.Tensor) -> torch.Tensor:
    """``image`` ``(..., H, W)`` without a border of ``2·stride + 1`` (where the padding
    reaches)."""
    border = 2 * STRIDE + 1
    return image[..., border:-border, border:-border]


def train_decoder(
    model: torch.nn.Module, x: torch.Tensor, *, steps: int, lr: float, seed: int
) -> list[float]:
    """Adam on the mean squared error between ``model(shrink(batch))`` and the batch, for
    ``steps`` batches of :data:`BATCH` drawn with a generator seeded by ``seed``; returns the
    loss every tenth of the way."""
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    losses, every = [], max(1, steps // 10)
    model.train()
    for step in range(steps):
        batch = x[torch.randint(len(x), (BATCH,), generator=generator)]
        loss = F.mse_loss(model(shrink(batch)), batch)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if (step + 1) % every == 0:
            losses.append(loss.item())
    return losses


def _even(x: torch.Tensor) -> torch.Tensor:
    """``x`` cropped to sizes divisible by the stride."""
    h, w = (n - n % STRIDE for n in x.shape[-2:])
    return x[..., :h, :w]


def _measure(model: torch.nn.Module, x_test: torch.Tensor) -> tuple[torch.Tensor, float, float]:
    model.eval()
    with torch.no_grad():
        out = model(shrink(x_test))
    return out, period_energy(out), float(F.mse_loss(out, x_test))


@register_experiment(
    "checkerboard",
    "A transposed convolution whose kernel size is not divisible by its stride makes "
    "checkerboard artefacts (uneven overlap), while resize-then-convolve and kernel sizes "
    "divisible by the stride do not.",
    quick=QUICK,
    full=FULL,
)
def run(ctx: Context) -> Outcome:
    cfg = ctx.config
    data = dataset(cfg)
    x_train, x_test = _even(data.x_train.float()), _even(data.x_test.float())
    shape = tuple(x_test.shape[1:])
    top = float(x_train.max())
    channels = cfg["channels"]
    ctx.plan(len(METHODS) * len(ctx.seeds))
    found: dict[str, dict[str, list[Any]]] = {
        name: {"init": [], "trained": [], "flat": [], "flat_init": [], "mse": [], "examples": []}
        for name in METHODS
    }
    for seed in ctx.seeds:
        for name, kernel in METHODS.items():
            with ctx.stage(f"{name}, seed {seed}"):
                torch.manual_seed(seed)
                model = decoder(kernel, shape[0], channels)
                before, energy, _ = _measure(model, x_test)
                flat_init = _flat_image(model, shape[0], top)
                train_decoder(model, x_train, steps=cfg["steps"], lr=cfg["lr"], seed=seed)
                after, trained_energy, mse = _measure(model, x_test)
                record = found[name]
                record["init"].append(energy)
                record["trained"].append(trained_energy)
                record["flat"].append(flat_checker(model, shape[0], top))
                record["mse"].append(mse)
                if seed == ctx.seeds[0]:
                    record["examples"] = [
                        before[0, 0],
                        after[0, 0],
                        flat_init,
                        _flat_image(model, shape[0], top),
                    ]
    target = period_energy(x_test)
    table = []
    for name, kernel in METHODS.items():
        r = found[name]
        init, trained, flat, mse = (mean_std(r[k]) for k in ("init", "trained", "flat", "mse"))
        table.append(
            {
                "upsampler": name,
                "divisible": "-" if kernel is None else ("yes" if divisible(kernel) else "no"),
                "overlap": unevenness(overlap(kernel)),
                "artefact_init": init[0],
                "artefact_init_std": init[1],
                "artefact_trained": trained[0],
                "artefact_trained_std": trained[1],
                "flat_checker": flat[0],
                "flat_checker_std": flat[1],
                "test_mse": mse[0],
                "test_mse_std": mse[1],
            }
        )
    verdict = _rule(found, table)
    figures = [
        ctx.save(_grid_figure(found, x_test[0, 0], data_label(data)), "outputs.png"),
        ctx.save(_energy_figure(found, target, ctx.seeds, data_label(data)), "energy.png"),
    ]
    return Outcome(
        table=table,
        holds=verdict[0],
        rule=verdict[1],
        figures=figures,
        notes=[
            f"stride {STRIDE}; every upsampler is the last layer of conv 3x3 ({channels} maps) "
            f"+ ReLU + upsampler, trained {cfg['steps']} steps to rebuild {data_label(data)} "
            f"from its {STRIDE}x{STRIDE} averages (Adam, lr {cfg['lr']}, batch {BATCH}, mean "
            "squared error)",
            "overlap: max/min over the interior of how many kernel taps reach an output position",
            "artefact: share of the test reconstructions' power (mean removed) at the stride's "
            f"period; the test images' own share is {target:.3%}",
            "flat checker: spread of the s x s phase means of the trained decoder's output "
            "for constant inputs, over their mean magnitude (0: even)",
            f"artefact, flat checker and test MSE: {seeds_note(ctx.seeds)}",
        ],
        formats={
            "overlap": "{:.2f}",
            "artefact_init": "{:.3%}",
            "artefact_trained": "{:.3%}",
            "flat_checker": "{:.3f}",
            "test_mse": "{:.4f}",
        },
    )


def _flat_image(model: torch.nn.Module, channels: int, top: float) -> torch.Tensor:
    """The output for a constant input at half the data's maximum (first channel)."""
    with torch.no_grad():
        return model(torch.full((1, channels, FLAT_SIZE, FLAT_SIZE), 0.5 * top))[0, 0]


def _rule(found: dict[str, dict[str, list[Any]]], table: list[dict[str, Any]]) -> tuple[bool, str]:
    """The verdict: the overlap is uneven exactly for the kernel sizes not divisible by the
    stride, and at initialisation and after training, in every seed, each of those has at
    least :data:`MARGIN` times the artefact energy of every other upsampler."""
    uneven = {row["upsampler"]: row["overlap"] > 1.0 + 1e-9 for row in table}
    structural = all(uneven[n] == (divisible(k) is False) for n, k in METHODS.items())
    odd = [n for n, k in METHODS.items() if divisible(k) is False]
    others = [n for n in METHODS if n not in odd]
    parts, holds = [], structural
    for phase in ("init", "trained"):
        ratios = [
            min(found[n][phase][i] for n in odd) / max(found[o][phase][i] for o in others)
            for i in range(len(found[odd[0]][phase]))
        ]
        ok = min(ratios) >= MARGIN
        holds = holds and ok
        word = "at initialisation" if phase == "init" else "after training"
        parts.append(
            f"{word} the least artefact energy of a size not divisible by the stride is "
            f"{', '.join(f'{r:.2f}' for r in ratios)} times the largest of the others per seed "
            f"(needs >= {MARGIN} in every seed: {ok})"
        )
    overlaps = ", ".join(f"{row['upsampler']} {row['overlap']:.2f}" for row in table)
    rule = (
        f"holds if the overlap (max/min taps per output) is uneven exactly for the kernel "
        f"sizes not divisible by the stride ({overlaps}: {structural}), and " + "; and ".join(parts)
    )
    return holds, rule


def _show(ax: Any, image: torch.Tensor, title: str = "", **style: Any) -> Any:
    shown = ax.imshow(image.detach().cpu().float(), interpolation="nearest", **style)
    if title:
        ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    return shown


def _grid_figure(found: dict[str, dict[str, list[Any]]], target: torch.Tensor, label: str) -> Any:
    """Per upsampler (columns): the overlap (taps per output position, away from the
    border), the output for a constant input at initialisation and after training (its
    interior minus its mean, one colour scale per row), and one test image rebuilt before
    and after training."""
    names = list(METHODS)
    rows = (
        "overlap: taps per output",
        "constant input, untrained:\noutput minus its mean",
        "constant input, trained:\noutput minus its mean",
        "a test image, untrained\n(its own grey scale)",
        "a test image, trained",
    )
    fig = new_figure(2.1 * (len(names) + 1) + 0.8, 2.05 * len(rows) + 1.0)
    axes = fig.subplots(len(rows), len(names) + 1, squeeze=False)
    counts = {n: overlap(METHODS[n])[5:11, 5:11] for n in names}
    top = max(float(c.max()) for c in counts.values())
    flats = {
        row: {n: _interior(found[n]["examples"][2 + row - 1]) for n in names} for row in (1, 2)
    }
    flats = {
        row: {n: image - image.mean() for n, image in images.items()}
        for row, images in flats.items()
    }
    grey = {"cmap": "gray", "vmin": float(target.min()), "vmax": float(target.max())}
    for col, name in enumerate(names):
        before, after = found[name]["examples"][:2]
        grid = counts[name]
        _show(axes[0, col], grid, name, cmap="viridis", vmin=0, vmax=top)
        for (i, j), value in zip(
            ((i, j) for i in range(grid.shape[0]) for j in range(grid.shape[1])),
            grid.flatten().tolist(),
            strict=True,
        ):
            color = "black" if value > 0.6 * top else "white"
            axes[0, col].text(j, i, f"{value:g}", ha="center", va="center", fontsize=7, color=color)
        for row in (1, 2):
            limit = max(float(image.abs().max()) for image in flats[row].values()) or 1.0
            image = flats[row][name]
            spread = float(phase_spread(found[name]["examples"][1 + row]))
            _show(
                axes[row, col],
                image,
                f"phase spread {spread:.3f}",
                cmap="RdBu_r",
                vmin=-limit,
                vmax=limit,
            )
        _show(axes[3, col], before, cmap="gray")
        _show(axes[4, col], after, **grey)
    for row, text in enumerate(rows):
        axes[row, 0].set_ylabel(text, fontsize=8)
        axes[row, -1].axis("off")
    _show(axes[3, -1], target, "the test image", **grey)
    axes[3, -1].axis("on")
    fig.suptitle(
        f"checkerboard artefacts of {STRIDE}x upsamplers on {label}\nthe overlap; the output "
        "for a constant input (red above, blue below its mean; one scale per row); a test "
        f"image rebuilt from its {STRIDE}x{STRIDE} averages",
        fontsize=10,
    )
    return fig


def _energy_figure(
    found: dict[str, dict[str, list[Any]]], target: float, seeds: list[int], label: str
) -> Any:
    from matplotlib.ticker import FuncFormatter

    names = list(METHODS)
    labels = [n.replace(" + ", "\n+ ").replace("transposed ", "transposed\n") for n in names]
    fig = new_figure(11, 3.8)
    axes = fig.subplots(1, 2)
    phases = (("init", "at initialisation"), ("trained", "after training"))
    for ax, (phase, word) in zip(axes, phases, strict=True):
        seed_dots(ax, labels, [[100 * v for v in found[n][phase]] for n in names])
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
        ax.axhline(100 * target, color="black", linestyle="--", linewidth=1)
        ax.annotate(
            "the test images' own",
            (len(names) - 0.5, 100 * target),
            fontsize=7,
            ha="right",
            va="bottom",
        )
        ax.set_ylabel("power at the stride's period (% of the image's)")
        ax.set_title(f"artefact energy {word}\n(bar: mean, dots: {seeds_count(seeds)})", fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
    fig.suptitle(f"checkerboard energy of the rebuilt test images, {label}", fontsize=10)
    return fig
