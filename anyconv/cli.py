"""The ``anyconv`` command: parses arguments, then calls the library."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import torch
from rich.console import Console
from rich.table import Table

from anyconv.analysis import compare_algorithms
from anyconv.functional.algorithms import list_algorithms


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated ints, got {text!r}") from None


def _padding(text: str):
    return int(text) if text.isdigit() else text


def _demo(args: argparse.Namespace, console: Console) -> int:
    torch.manual_seed(args.seed)
    ndim = len(args.size)
    kernel = args.kernel * ndim if len(args.kernel) == 1 else args.kernel
    x = torch.randn(args.batch, args.channels, *args.size)
    w = torch.randn(args.channels, args.channels // args.groups, *kernel)
    rows = compare_algorithms(
        x,
        w,
        repeat=args.repeat,
        padding=args.padding,
        stride=args.stride,
        dilation=args.dilation,
        groups=args.groups,
        padding_mode=args.padding_mode,
        flip=args.flip,
    )
    table = Table(
        title=f"conv of {tuple(x.shape)} with kernel {tuple(w.shape)}, "
        f"padding={args.padding!r} ({args.padding_mode}), stride={args.stride}, "
        f"dilation={args.dilation}, groups={args.groups}, flip={args.flip}"
    )
    for column in (
        "algorithm",
        "output shape",
        "rel. error vs float64",
        "forward ms",
        "fwd+bwd ms",
    ):
        table.add_column(column, justify="left" if column == "algorithm" else "right")
    for row in rows:
        if "skipped" in row:
            table.add_row(row["algorithm"], "-", row["skipped"], "-", "-")
            continue
        table.add_row(
            row["algorithm"],
            str(row["shape"]),
            f"{row['rel_error']:.1e}",
            f"{row['forward_s'] * 1e3:.2f}",
            f"{row['forward_backward_s'] * 1e3:.2f}",
        )
    console.print(table)
    worst = max(r["rel_error"] for r in rows if "skipped" not in r)
    console.print(f"all algorithms agree to {worst:.1e} (relative to the output's scale)")
    return 0 if worst < 1e-4 else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="anyconv", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="run every convolution algorithm on one problem and compare their results and speed",
    )
    demo.add_argument(
        "--size", type=_ints, default=(32, 32), help="spatial size, e.g. 64,64 (1-3 axes)"
    )
    demo.add_argument("--kernel", type=_ints, default=(5,), help="kernel size, e.g. 5 or 3,5")
    demo.add_argument("--batch", type=int, default=2)
    demo.add_argument("--channels", type=int, default=8)
    demo.add_argument("--groups", type=int, default=1)
    demo.add_argument(
        "--padding", type=_padding, default="same", help="valid, same, full, causal or an int"
    )
    demo.add_argument(
        "--padding-mode", default="zeros", choices=["zeros", "reflect", "replicate", "circular"]
    )
    demo.add_argument("--stride", type=int, default=1)
    demo.add_argument("--dilation", type=int, default=1)
    demo.add_argument("--flip", action="store_true", help="true convolution")
    demo.add_argument("--repeat", type=int, default=5)
    demo.add_argument("--seed", type=int, default=0)
    sub.add_parser("algorithms", help="list the algorithms")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console()
    try:
        if args.command == "demo":
            return _demo(args, console)
        console.print("\n".join(list_algorithms()))
        return 0
    except (ValueError, TypeError) as error:
        console.print(f"[red]error:[/red] {error}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
