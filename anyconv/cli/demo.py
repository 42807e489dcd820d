"""``anyconv demo``: every convolution algorithm on one problem, its error and its speed."""

from __future__ import annotations

import argparse
import contextlib
import math
from typing import Any

from rich.console import Console

from anyconv.cli.arguments import integer, ints, padding, padding_for
from anyconv.cli.limits import check_memory
from anyconv.cli.output import plain, titled_table
from anyconv.cli.registry import command


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


MAX_REPEAT = 1000
"""Most timed runs per algorithm ``anyconv demo`` takes (more only waits longer)."""


def _positive(args: argparse.Namespace, *names: str) -> None:
    for name in names:
        values = getattr(args, name)
        for value in values if isinstance(values, tuple) else (values,):
            if value < 1:
                flag = "--" + name.replace("_", "-")
                raise ValueError(f"{flag} must be positive; got {values!r}")


def _demo_estimate(args: argparse.Namespace, kernel: tuple[int, ...], out: tuple[int, ...]) -> int:
    """Bytes the demo allocates at its peak, about: float32 input, weight and output with
    their gradients, the float64 reference, and im2col's column matrix."""
    n, c = args.batch, args.channels
    x = n * c * math.prod(args.size)
    w = c * (c // args.groups) * math.prod(kernel)
    y = n * c * math.prod(out)
    columns = n * (c // args.groups) * math.prod(kernel) * math.prod(out) * args.groups
    return 4 * 3 * (x + w + y) + 8 * 2 * (x + w + y) + 4 * 2 * columns


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
    from anyconv.train.config import MAX_SEED

    _positive(args, "size", "kernel", "batch", "channels", "groups", "stride", "dilation")
    _positive(args, "repeat")
    if args.repeat > MAX_REPEAT:
        raise ValueError(f"--repeat must be at most {MAX_REPEAT}; got {args.repeat}")
    check_int(args.seed, "--seed", "anyconv demo", minimum=0, maximum=MAX_SEED, note="2**63 - 1")
    ndim = len(args.size)
    if not 1 <= ndim <= 3:
        raise ValueError(f"--size must have 1, 2 or 3 axes; got {args.size!r}")
    if len(args.kernel) not in (1, ndim):
        raise ValueError(f"--kernel must have 1 or {ndim} entries (one per axis of --size)")
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
    check_memory(_demo_estimate(args, kernel, spec.out_shape), "this demo")
    torch.manual_seed(args.seed)
    x, w = torch.randn(x_shape), torch.randn(w_shape)
    table = titled_table(
        f"conv of {x_shape} with kernel {w_shape}, "
        f"padding={args.padding!r} ({args.padding_mode}), stride={args.stride}, "
        f"dilation={args.dilation}, groups={args.groups}, flip={args.flip}",
        ("algorithm", "output shape", "rel. error vs float64", "forward ms", "fwd+bwd ms"),
        right=("output shape", "rel. error vs float64", "forward ms", "fwd+bwd ms"),
    )

    def add(row: dict[str, Any]) -> None:
        if "skipped" in row:
            table.add_row(row["algorithm"], "-", plain(row["skipped"]), "-", "-")
        else:
            table.add_row(
                row["algorithm"],
                str(row["shape"]),
                f"{row['rel_error']:.1e}",
                f"{row['forward_s'] * 1e3:.2f}",
                f"{row['forward_backward_s'] * 1e3:.2f}",
            )
        if live is not None:
            live.refresh()

    # On a terminal each row appears as its algorithm finishes; piped, the table once.
    live = Live(table, console=console, auto_refresh=False) if console.is_terminal else None
    with live or contextlib.nullcontext():
        rows = compare_algorithms(x, w, repeat=args.repeat, on_row=add, flip=args.flip, **geometry)
    if live is None:
        console.print(table)
    console.print(
        f"algorithm='auto' picks {choose(x, w, spec)} for this problem "
        "(by its cost model; 'with anyconv.measure():' times the candidates instead)",
        highlight=False,
    )
    worst = max(r["rel_error"] for r in rows if "skipped" not in r)
    console.print(f"all algorithms agree to {worst:.1e} (relative to the output's scale)")
    return 0 if worst < 1e-4 else 1
