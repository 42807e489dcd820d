"""``anyconv demo``: every convolution algorithm on one problem, its error and its speed."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import time
from typing import Any

from rich.console import Console
from rich.text import Text

from anyconv.cli.arguments import integer, ints, padding, padding_for
from anyconv.cli.output import plain, titled_table
from anyconv.cli.registry import command
from anyconv.functional.algorithms import memory


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    from anyconv.padding import PADDING_MODES, PADDING_RULES

    parser.add_argument(
        "--size", type=ints, default=(32, 32), help="spatial size, 1-3 axes (default: 32,32)"
    )
    parser.add_argument(
        "--kernel", type=ints, default=(5,), help="kernel size, e.g. 5 or 3,5 (default: 5)"
    )
    parser.add_argument("--batch", type=integer, default=2, help="(default: %(default)s)")
    parser.add_argument(
        "--channels",
        type=integer,
        default=8,
        help="input and output channels (default: %(default)s)",
    )
    parser.add_argument("--groups", type=integer, default=1, help="(default: %(default)s)")
    parser.add_argument(
        "--padding",
        type=padding,
        default="same",
        help=f"{', '.join(PADDING_RULES)}, an int, a lo:hi pair, or one per axis: causal,same "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--padding-mode", default="zeros", choices=PADDING_MODES, help="(default: %(default)s)"
    )
    parser.add_argument("--stride", type=integer, default=1, help="(default: %(default)s)")
    parser.add_argument("--dilation", type=integer, default=1, help="(default: %(default)s)")
    parser.add_argument("--flip", action="store_true", help="true convolution (kernel flipped)")
    parser.add_argument(
        "--repeat", type=integer, default=5, help="timed runs per algorithm (default: %(default)s)"
    )
    parser.add_argument("--seed", type=integer, default=0, help="(default: %(default)s)")
    parser.add_argument(
        "--threads",
        type=integer,
        help="torch CPU threads for the timings (default: torch's choice); on a shared or "
        "busy machine, 1 gives steadier times",
    )


MAX_REPEAT = 1000
"""Most timed runs per algorithm ``anyconv demo`` takes (more only waits longer)."""
MATRIX_ENTRIES = 1 << 21
"""Most nonzeros of the matrix ``anyconv demo`` times: every call of the matrix algorithm
builds its sparse matrix, about 0.5 s per million nonzeros on one core, so the 6.5 million
of ``--size 64,64`` took about 48 s of the demo's 50 (2-core CPU)."""
TIME_BUDGET = 1.0
"""Seconds of timed runs an algorithm should take in ``anyconv demo``, about: a slow one is
timed fewer than ``--repeat`` times (:func:`~anyconv.analysis.compare_algorithms`)."""


def _positive(args: argparse.Namespace, *names: str) -> None:
    for name in names:
        values = getattr(args, name)
        for value in values if isinstance(values, tuple) else (values,):
            if value < 1:
                flag = "--" + name.replace("_", "-")
                raise ValueError(f"{flag} must be positive; got {values!r}")


def _demo_estimate(args: argparse.Namespace, kernel: tuple[int, ...], out: tuple[int, ...]) -> int:
    """Bytes the demo allocates at its peak, about: float32 input, weight and output with
    their gradients, the float64 reference, and im2col's backward pass, the largest of the
    algorithms': the gradient of its column matrix ``(N, C·prod(kernel), prod(out))`` in
    float32 beside col2im's int64 index of ``prod(kernel)·prod(out)`` entries, two copies of
    which live while it is built. (``--size 100000 --kernel 4097 --channels 2 --batch 1``:
    3.3 GB of columns and 6.6 GB of index; the estimate that left the index out let the
    demo start under a 7 GB limit and fail after 110 s.)"""
    n, c = args.batch, args.channels
    x = n * c * math.prod(args.size)
    w = c * (c // args.groups) * math.prod(kernel)
    y = n * c * math.prod(out)
    taps, positions = math.prod(kernel), math.prod(out)
    columns = n * (c // args.groups) * taps * positions * args.groups
    return 4 * 3 * (x + w + y) + 8 * 2 * (x + w + y) + 4 * columns + 8 * 2 * taps * positions


@command(
    "demo",
    "run every convolution algorithm on one problem and compare results and speed",
    _demo_arguments,
    description="Run every convolution algorithm on one random problem: its error against "
    "a float64 direct sum, and its median forward and forward+backward times. Rows "
    "appear as each algorithm finishes.",
)
def _demo(args: argparse.Namespace, console: Console) -> int:
    import torch
    from rich.live import Live

    from anyconv._checks import check_int
    from anyconv.analysis import compare_algorithms
    from anyconv.functional.algorithms.auto import choose
    from anyconv.padding import conv_spec
    from anyconv.train.config import MAX_SEED, MAX_THREADS

    _positive(args, "size", "kernel", "batch", "channels", "groups", "stride", "dilation")
    _positive(args, "repeat")
    if args.repeat > MAX_REPEAT:
        raise ValueError(f"--repeat must be at most {MAX_REPEAT}; got {args.repeat}")
    check_int(args.seed, "--seed", "anyconv demo", minimum=0, maximum=MAX_SEED, note="2**63 - 1")
    ndim = len(args.size)
    if not 1 <= ndim <= 3:
        raise ValueError(f"--size must have 1, 2 or 3 axes; got {args.size!r}")
    if len(args.kernel) not in (1, ndim):
        allowed = "1 entry" if ndim == 1 else f"1 entry or {ndim} (one per axis of --size)"
        raise ValueError(
            f"--kernel must have {allowed}; got {','.join(map(str, args.kernel))} for --size "
            f"{','.join(map(str, args.size))}"
        )
    if args.channels % args.groups:
        raise ValueError(f"--groups must divide --channels ({args.channels}); got {args.groups}")
    kernel = args.kernel * ndim if len(args.kernel) == 1 else args.kernel
    x_shape = (args.batch, args.channels, *args.size)
    w_shape = (args.channels, args.channels // args.groups, *kernel)
    geometry = {
        name: getattr(args, name) for name in ("stride", "dilation", "groups", "padding_mode")
    }
    geometry["padding"] = padding_for(args.padding, ndim)
    spec = conv_spec(x_shape, w_shape, **geometry, func="demo")
    memory.check_allocation(_demo_estimate(args, kernel, spec.out_shape), "this demo")
    skip = _skipped(x_shape, w_shape, spec, _flags(args))
    if args.threads is not None:
        check_int(args.threads, "--threads", "anyconv demo", minimum=1, maximum=MAX_THREADS)
        torch.set_num_threads(args.threads)
    load = _load()
    torch.manual_seed(args.seed)
    x, w = torch.randn(x_shape), torch.randn(w_shape)
    table = titled_table(
        f"conv of {x_shape} with kernel {w_shape}, "
        f"padding={args.padding!r} ({args.padding_mode}), stride={args.stride}, "
        f"dilation={args.dilation}, groups={args.groups}, flip={args.flip}; "
        f"{torch.get_num_threads()} thread(s)",
        ("algorithm", "output shape", "rel. error vs float64", "forward ms", "fwd+bwd ms"),
        right=("output shape", "rel. error vs float64", "forward ms", "fwd+bwd ms"),
    )

    def add(row: dict[str, Any]) -> None:
        if "skipped" in row:
            table.add_row(row["algorithm"], "-", "skipped (below)", "-", "-")
        else:
            fewer = "*" if row["repeat"] < args.repeat else ""
            table.add_row(
                row["algorithm"],
                "x".join(map(str, row["shape"])),
                f"{row['rel_error']:.1e}",
                f"{row['forward_s'] * 1e3:.2f}{fewer}",
                f"{row['forward_backward_s'] * 1e3:.2f}{fewer}",
            )
        if live is not None:
            live.update(Text(f"measured: {', '.join(r[0] for r, _ in table.rows)}"))

    # On a terminal a line says which algorithms are done; the table prints once, whole.
    live = (
        Live(Text("measuring ..."), console=console, transient=True)
        if console.is_terminal
        else None
    )
    with live or contextlib.nullcontext():
        rows = compare_algorithms(
            x,
            w,
            repeat=args.repeat,
            on_row=add,
            flip=args.flip,
            skip=skip,
            budget=TIME_BUDGET,
            **geometry,
        )
    table.show(console)
    console.print(
        plain(
            f"algorithm='auto' picks {choose(x, w, spec)} for this problem "
            "(by its cost model; 'with anyconv.measure():' times the candidates instead)"
        )
    )
    for row in rows:
        if "skipped" in row:
            console.print(plain(f"{row['algorithm']} skipped: {row['skipped']}"))
    fewer = [r for r in rows if r.get("repeat", args.repeat) < args.repeat]
    if fewer:
        times = ", ".join(f"{r['algorithm']} {r['repeat']}" for r in fewer)
        console.print(
            plain(
                f"*: timed fewer than --repeat {args.repeat} times each way ({times}), as one "
                f"call took over {TIME_BUDGET / (2 * args.repeat):.2g} s"
            )
        )
    note = _noise_note(load, _load(), torch.get_num_threads())
    if note:
        console.print(Text("note: " + note, style="yellow"))
    worst = max(r["rel_error"] for r in rows if "skipped" not in r)
    console.print(plain(f"all algorithms agree to {worst:.1e} (relative to the output's scale)"))
    return 0 if worst < 1e-4 else 1


def _flags(args: argparse.Namespace) -> str:
    """The demo's problem as the flags that set it, for messages."""
    return (
        f"--size {','.join(map(str, args.size))} --kernel {','.join(map(str, args.kernel))} "
        f"--channels {args.channels} --batch {args.batch} --dilation {args.dilation} "
        f"--stride {args.stride} --padding {args.padding}"
    )


def _skipped(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], spec: Any, flags: str
) -> dict[str, str]:
    """``{algorithm: reason}`` for the algorithms the demo does not run on this problem:
    those that refuse it (their own limits, memory), and the matrix above
    :data:`MATRIX_ENTRIES`. The float64 direct sum is the reference every row is compared
    with: a problem it refuses is refused whole, before anything is allocated."""
    import torch

    from anyconv.functional.algorithms.matrix import matrix_entries
    from anyconv.functional.algorithms.registry import ALGORITHMS, Problem, refusal

    def problem(dtype: torch.dtype, training: bool) -> Problem:
        return Problem(x_shape, w_shape, spec, dtype, torch.device("cpu"), training)

    reference = refusal(ALGORITHMS["direct"], problem(torch.float64, False))
    if reference is not None:
        raise ValueError(
            f"this demo's float64 reference (the direct sum) {reference}: {flags} is too "
            "large a problem; use a smaller --size, --kernel, --dilation or --padding"
        )
    skip = {}
    for name in ALGORITHMS:
        reason = refusal(ALGORITHMS[name], problem(torch.float32, True))
        if name != "auto" and reason is not None:
            skip[name] = reason
    entries = matrix_entries(w_shape, spec.out_shape)
    if "matrix" not in skip and entries > MATRIX_ENTRIES:
        skip["matrix"] = (
            f"{entries:,} nonzeros, above the demo's {MATRIX_ENTRIES:,} (each call builds "
            "the matrix, about 0.5 s per million nonzeros); conv(..., algorithm='matrix') "
            "runs it"
        )
    return skip


def _load() -> tuple[float, float] | None:
    """The machine's 1-minute load average and the time it was read, or ``None`` where the
    system does not say."""
    try:
        return os.getloadavg()[0], time.monotonic()
    except (OSError, AttributeError):
        return None


LOAD_MARGIN = 0.5
"""Load average from other work, beyond the cores the demo leaves free, above which its
timings are called noisy."""


def _noise_note(
    before: tuple[float, float] | None, after: tuple[float, float] | None, threads: int
) -> str | None:
    """A note when the timings are noisy: other work kept the CPUs busy.

    The 1-minute load average counts the demo's own threads too: it moves towards them by
    ``1 - exp(-seconds / 60)`` while the demo runs, so that much is taken off the reading
    after. The timings are noisy when the load of other work, before or after, exceeds the
    cores the demo leaves free (``cores - threads``) by more than :data:`LOAD_MARGIN`."""
    cores = os.cpu_count() or 1
    busy = min(threads, cores)
    others = []
    if before is not None:
        others.append(before[0])
    if after is not None:
        seconds = after[1] - before[1] if before is not None else 0.0
        others.append(after[0] - busy * (1 - math.exp(-max(seconds, 0.0) / 60)))
    if not others or max(others) <= cores - busy + LOAD_MARGIN:
        return None
    load = max(v[0] for v in (before, after) if v is not None)
    return (
        f"the timings are noisy: the load average was {load:.1f} on {cores} core(s) while "
        f"the demo used {threads} thread(s), so other work shared the CPUs; rerun on an "
        "idle machine, or with --threads 1 and a larger --repeat, before comparing speeds"
    )
