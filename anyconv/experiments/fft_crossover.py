"""``fft-crossover``: the kernel size above which FFT convolution beats the direct sum.

The direct sum costs ``prod(k)`` multiply-adds per output and input channel; the FFT path
costs a few transforms of the whole signal plus one product per frequency, nearly
independent of the kernel size. So there is a kernel size above which the FFT path wins.
Every algorithm is timed on the same problems (``"same"`` padding, so the output size is
fixed) side by side in rotating rounds (:func:`anyconv.analysis.timing.timed_rounds`),
and ``auto``'s choice is read from its cost model.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

import torch

from anyconv.analysis.timing import timed_rounds
from anyconv.experiments.registry import register_experiment
from anyconv.experiments.runner import Context, Outcome
from anyconv.functional.algorithms.auto import choose
from anyconv.functional.conv import conv
from anyconv.padding import conv_spec
from anyconv.viz._figure import new_figure

QUICK = dict(
    problems=[
        dict(batch=4, channels=8, size=[1024], kernels=[3, 9, 17, 33, 65]),
        dict(batch=2, channels=8, size=[32, 32], kernels=[1, 3, 5, 7, 11, 15]),
        dict(batch=2, channels=8, size=[8, 16, 16], kernels=[1, 3, 5, 7, 9]),
    ],
    algorithms=["native", "direct", "im2col", "fft"],
    passes=["forward"],
    repeat=9,
    direct_max_taps=125,
    im2col_max_elements=2**24,
)
FULL = dict(
    problems=[
        dict(batch=8, channels=16, size=[4096], kernels=[3, 7, 15, 31, 63, 127, 255]),
        dict(batch=8, channels=16, size=[64, 64], kernels=[1, 3, 5, 7, 9, 11, 15, 21, 31]),
        dict(batch=2, channels=8, size=[16, 32, 32], kernels=[1, 3, 5, 7, 9]),
    ],
    algorithms=["native", "direct", "im2col", "fft"],
    passes=["forward", "forward+backward"],
    repeat=7,
    direct_max_taps=441,
    im2col_max_elements=2**26,
)
DIRECT_SUMS = ("native", "direct", "im2col")
"""The algorithms that compute the sum over kernel taps as written (native kernels,
shifted slices, a column matrix times the weights)."""


def _skip(name: str, problem: dict[str, Any], k: int, cfg: dict[str, Any]) -> str | None:
    ndim = len(problem["size"])
    taps = k**ndim
    if name == "direct" and taps > cfg["direct_max_taps"]:
        return f"{taps} taps > {cfg['direct_max_taps']}"
    columns = problem["batch"] * problem["channels"] * taps * math.prod(problem["size"])
    if name == "im2col" and columns > cfg["im2col_max_elements"]:
        return f"{columns:,} column entries > {cfg['im2col_max_elements']:,}"
    return None


def _contenders(x, w, names, backward: bool):
    fns = {}
    for name in names:
        if backward:
            leaves = [t.detach().requires_grad_() for t in (x, w)]

            def fn(name=name, leaves=leaves):
                for t in leaves:
                    t.grad = None
                conv(*leaves, padding="same", algorithm=name).sum().backward()

        else:

            def fn(name=name):
                with torch.no_grad():
                    conv(x, w, padding="same", algorithm=name)

        fns[name] = fn
    return fns


def auto_choice(x: torch.Tensor, w: torch.Tensor, backward: bool) -> str:
    """What ``algorithm="auto"`` runs for ``conv(x, w, padding="same")``, for training
    (``backward``) or inference.

    Example:
        >>> x, small, large = torch.randn(8, 16, 128, 128), (16, 16, 3, 3), (16, 16, 31, 31)
        >>> auto_choice(x, torch.randn(small), False), auto_choice(x, torch.randn(large), False)
        ('native', 'fft')
    """
    spec = conv_spec(
        x.shape, w.shape, stride=1, padding="same", dilation=1, groups=1, padding_mode="zeros"
    )
    if backward:
        with torch.enable_grad():
            return choose(x.detach().requires_grad_(), w.detach().requires_grad_(), spec)
    with torch.no_grad():
        return choose(x, w, spec)


def crossover(ks: list[int], fft: list[float | None], others: list[float | None]) -> int | None:
    """The smallest kernel size from which ``fft`` is faster than ``others`` at every larger
    size measured (sizes where either is missing are skipped), or None.

    Example:
        >>> crossover([3, 5, 7, 9], fft=[4.0, 1.0, 3.0, 1.0], others=[2.0, 2.0, 2.0, 2.0])
        9
    """
    found = None
    for k, f, o in reversed(list(zip(ks, fft, others, strict=True))):
        if f is None or o is None:
            continue
        if f < o:
            found = k
        else:
            break
    return found


@register_experiment(
    "fft-crossover",
    "FFT convolution beats the direct sum above some kernel size (in 1-D, 2-D and 3-D); "
    "'auto' should switch near that size.",
    quick=QUICK,
    full=FULL,
)
def run(ctx: Context) -> Outcome:
    cfg = ctx.config
    torch.manual_seed(cfg["seed"])
    names = cfg["algorithms"]
    ctx.plan(sum(len(p["kernels"]) for p in cfg["problems"]) * len(cfg["passes"]))
    table: list[dict[str, Any]] = []
    skips: dict[tuple[str, int], str] = {}  # first skipped size of each algorithm and dims
    for problem in cfg["problems"]:
        ndim = len(problem["size"])
        c = problem["channels"]
        x = torch.randn(problem["batch"], c, *problem["size"])
        for pass_ in cfg["passes"]:
            backward = pass_ == "forward+backward"
            for k in problem["kernels"]:
                w = torch.randn(c, c, *(k,) * ndim) / math.sqrt(c * k**ndim)
                skipped = {n: _skip(n, problem, k, cfg) for n in names}
                running = [n for n in names if skipped[n] is None]
                with ctx.stage(f"{ndim}-D k={k} {pass_}"):
                    rounds = timed_rounds(_contenders(x, w, running, backward), cfg["repeat"])
                row: dict[str, Any] = {"dims": ndim, "k": k, "pass": pass_}
                for n in names:
                    row[f"{n}_ms"] = None if n not in rounds else statistics.median(rounds[n]) * 1e3
                timed = {n: row[f"{n}_ms"] for n in running}
                row["fastest"] = min(timed, key=timed.get)
                row["auto_runs"] = auto_choice(x, w, backward)
                table.append(row)
                for n, why in skipped.items():
                    if why:
                        skips.setdefault((n, ndim), f"{n} skipped from {ndim}-D k={k} ({why})")

    verdicts, lines = [], []
    summary = {}
    for problem in cfg["problems"]:
        ndim = len(problem["size"])
        for pass_ in cfg["passes"]:
            rows = [r for r in table if r["dims"] == ndim and r["pass"] == pass_]
            ks = [r["k"] for r in rows]
            fft = [r["fft_ms"] for r in rows]
            best_direct = [
                min(
                    (r[f"{n}_ms"] for n in DIRECT_SUMS if r.get(f"{n}_ms") is not None),
                    default=None,
                )
                for r in rows
            ]
            k_native = crossover(ks, fft, [r["native_ms"] for r in rows])
            k_all = crossover(ks, fft, best_direct)
            auto_fft = [r["k"] for r in rows if r["auto_runs"] == "fft"]
            summary[(ndim, pass_)] = (k_native, k_all, auto_fft[0] if auto_fft else None)
            verdicts.append(k_all is not None)
            lines.append(
                f"{ndim}-D {pass_}: fft fastest of all from k={k_all}, faster than native "
                f"from k={k_native}, auto runs fft from k={auto_fft[0] if auto_fft else None}"
            )
    rule = (
        "holds if in every dimensionality and pass there is a kernel size from which the FFT "
        "path is faster than every direct-sum algorithm measured (native, direct, im2col) at "
        "all larger sizes: " + "; ".join(lines)
    )

    passes = cfg["passes"]
    fig = new_figure(4.2 * len(cfg["problems"]), 3.4 * len(passes))
    axes = fig.subplots(len(passes), len(cfg["problems"]), squeeze=False)
    for j, problem in enumerate(cfg["problems"]):
        ndim = len(problem["size"])
        for i, pass_ in enumerate(passes):
            ax = axes[i][j]
            rows = [r for r in table if r["dims"] == ndim and r["pass"] == pass_]
            ks = [r["k"] for r in rows]
            for n, style in zip(names, ("o-", "s-", "^-", "D-", "v-"), strict=False):
                pts = [(k, r[f"{n}_ms"]) for k, r in zip(ks, rows, strict=True) if r[f"{n}_ms"]]
                if pts:
                    ax.plot(*zip(*pts, strict=True), style, ms=4, label=n)
            k_native, k_all, k_auto = summary[(ndim, pass_)]
            if k_all is not None:
                ax.axvline(k_all, color="k", ls=":", lw=1.2, label=f"fft fastest from k={k_all}")
            if k_auto is not None:
                ax.axvspan(k_auto, max(ks), color="C3", alpha=0.08, label="auto runs fft")
            ax.set_yscale("log")
            ax.set_xlabel(
                f"kernel size k (k{'²³'[ndim - 2]} taps)" if ndim > 1 else "kernel size k"
            )
            ax.set_ylabel(f"{pass_} time (ms)")
            shape = "x".join(map(str, problem["size"]))
            ax.set_title(
                f"{ndim}-D: batch {problem['batch']}, {problem['channels']}->"
                f"{problem['channels']} ch, {shape}"
            )
            ax.legend(fontsize=7)
    fig.suptitle("convolution time vs kernel size (padding 'same', median of rotating rounds)")
    notes = [
        f"timed on {torch.get_num_threads()} thread(s); medians of {cfg['repeat']} rounds; "
        "on a shared machine the absolute times carry its load (see machine.load_average)",
        *lines,
        *skips.values(),
    ]
    return Outcome(
        table=table,
        holds=all(verdicts),
        rule=rule,
        figures=[ctx.save(fig, "fft_crossover.png")],
        notes=notes,
        formats={f"{n}_ms": "{:.3g}" for n in names},
    )
