"""``python -m benchmarks [--quick] [--only NAME ...] [--device cpu|cuda] [--json FILE]``.

Runs anyconv and its peers side by side in one process and prints tables of medians and
ratios (> 1 means anyconv is faster); ``--json`` keeps every figure.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys

import torch
from rich.console import Console
from rich.table import Table

from benchmarks import conv, layers, transposed

SUITES = {
    "conv2d": lambda a: conv.conv_sweep("2d", quick=a.quick, repeat=a.repeat, device=a.device),
    "conv1d": lambda a: conv.conv_sweep("1d", quick=a.quick, repeat=a.repeat, device=a.device),
    "conv3d": lambda a: conv.conv_sweep("3d", quick=a.quick, repeat=a.repeat, device=a.device),
    "depthwise": lambda a: conv.depthwise(repeat=a.repeat, device=a.device),
    "scipy": lambda a: conv.scipy_single_channel(repeat=a.repeat),
    "overlap": lambda a: conv.overlap_save(repeat=a.repeat, device=a.device),
    "template": lambda a: conv.template_matching(repeat=a.repeat),
    "local": lambda a: layers.local(repeat=a.repeat, device=a.device),
    "tiled": lambda a: layers.tiled(repeat=a.repeat, device=a.device),
    "softpool": lambda a: layers.softpool(repeat=a.repeat, device=a.device),
    "transposed": lambda a: transposed.transposed_sweep(
        quick=a.quick, repeat=a.repeat, device=a.device
    ),
}


def machine() -> dict:
    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "processor": platform.processor(),
        "threads": torch.get_num_threads(),
    }
    try:
        from importlib.metadata import version

        import fft_conv_pytorch  # noqa: F401

        info["fft-conv-pytorch"] = version("fft-conv-pytorch")
    except ImportError:
        pass
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}"


def show_sweep(console: Console, rows: list[dict]) -> None:
    peers = [p for p in ("native", "fft-conv-pytorch") if f"{p}_fwd_bwd_s" in rows[0]]
    table = Table(
        title=f"conv {rows[0]['sweep']} {tuple(rows[0]['shape'])}, same padding, "
        "forward+backward ms (ratios: peer time / anyconv time)"
    )
    for col in [
        "k",
        "native",
        "auto",
        "fft",
        "fft-conv-pytorch",
        "auto vs native",
        "fft vs fft-conv-pytorch",
        "fwd: auto vs native",
        "err fft",
        "err peer",
        "err fft f64",
    ]:
        table.add_column(col, justify="right")
    ratios = []
    for r in rows:
        peer = r.get("fft-conv-pytorch_fwd_bwd_s")
        ratio = r["native_fwd_bwd_s"] / r["auto_fwd_bwd_s"]
        ratios.append(ratio)
        table.add_row(
            str(r["kernel"]),
            _ms(r["native_fwd_bwd_s"]),
            _ms(r["auto_fwd_bwd_s"]),
            _ms(r["fft_fwd_bwd_s"]),
            _ms(peer) if peer else "-",
            f"{ratio:.2f}x",
            f"{peer / r['fft_fwd_bwd_s']:.2f}x" if peer else "-",
            f"{r['native_fwd_s'] / r['auto_fwd_s']:.2f}x",
            f"{r['fft_rel_error']:.1e}",
            f"{r['fft-conv-pytorch_rel_error']:.1e}" if peer else "-",
            f"{r['fft_float64_rel_error']:.1e}",
        )
    console.print(table)
    geo = math.exp(sum(map(math.log, ratios)) / len(ratios))
    console.print(
        f"geometric mean, auto vs native (forward+backward): {geo:.2f}x; "
        f"peers measured: {', '.join(peers)}\n"
    )


def show_transposed(console: Console, rows: list[dict]) -> None:
    """conv_transpose: PyTorch's against each anyconv algorithm, forward+backward ms, and
    the ratio of PyTorch's time to native's and auto's (> 1: anyconv faster)."""
    labels = ["torch", *transposed.ALGORITHMS]
    clock = "CPU" if rows[0].get("clock") == "cpu" else "wall-clock"
    table = Table(
        title=f"conv_transpose, forward+backward {clock} ms (PyTorch's conv_transpose vs "
        "anyconv's algorithms; -: refused) and ratios of PyTorch's time to anyconv's"
    )
    for col in [
        "case",
        "shape",
        "k",
        "s",
        *labels,
        "torch/native",
        "torch/auto",
        "auto runs",
        "fwd torch/auto",
        "max err",
    ]:
        table.add_column(col, justify="right")
    for r in rows:
        cells = [
            _ms(r[f"{label}_fwd_bwd_s"]) if f"{label}_fwd_bwd_s" in r else "-" for label in labels
        ]
        errors = [v for k, v in r.items() if k.endswith("_rel_error")]
        table.add_row(
            r["case"],
            "x".join(map(str, r["shape"])),
            str(r["kernel"]),
            str(r["stride"]),
            *cells,
            f"{r['torch_fwd_bwd_s'] / r['native_fwd_bwd_s']:.2f}x",
            f"{r['torch_fwd_bwd_s'] / r['auto_fwd_bwd_s']:.2f}x",
            r["auto_runs"],
            f"{r['torch_fwd_s'] / r['auto_fwd_s']:.2f}x",
            f"{max(errors):.1e}",
        )
    console.print(table)
    console.print()


def show_rows(console: Console, name: str, rows: list[dict]) -> None:
    table = Table(title=name)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for r in rows:
        for key, value in r.items():
            if key.endswith("_s"):
                value = f"{value * 1e3:.1f} ms"
            elif key.endswith("_bytes"):
                value = f"{value / 2**20:.1f} MiB"
            elif isinstance(value, float):
                value = f"{value:.3g}"
            table.add_row(key, str(value))
    console.print(table)
    pairs = [
        ("unfold+einsum_fwd_bwd_s", "anyconv_fwd_bwd_s", "time"),
        ("unfold+einsum_peak_bytes", "anyconv_peak_bytes", "peak memory"),
        ("tiled_fwd_bwd_s", "conv_fwd_bwd_s", "tiled time / conv time"),
        ("plain_fwd_bwd_s", "anyconv_fwd_bwd_s", "plain formula time / anyconv"),
        ("plain_fwd_s", "anyconv_fwd_s", "plain formula forward time / anyconv"),
        ("native_fwd_bwd_s", "auto_fwd_bwd_s", "native / auto"),
        ("whole_fwd_bwd_s", "blocks_fwd_bwd_s", "one transform / overlap-save blocks"),
        ("skimage_s", "anyconv_s", "scikit-image / anyconv"),
    ]
    for r in rows:
        where = ", ".join(f"{key} {r[key]}" for key in ("shape", "kernel") if key in r)
        for peer, ours, label in pairs:
            if peer in r and ours in r and r[ours]:
                console.print(f"{name} ({where}): {label}: {r[peer] / r[ours]:.2f}x")
    console.print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--only", nargs="+", choices=list(SUITES), default=list(SUITES))
    parser.add_argument("--quick", action="store_true", help="fewer kernel sizes")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs (median)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--json", help="write every figure to this file")
    args = parser.parse_args(argv)
    console = Console(width=180)
    info = machine()
    console.print(f"machine: {info}")
    results = {"machine": info, "suites": {}}
    for name in args.only:
        rows = SUITES[name](args)
        results["suites"][name] = rows
        if rows and "sweep" in rows[0]:
            show_sweep(console, rows)
        elif rows and rows[0].get("bench") == "transposed":
            show_transposed(console, rows)
        elif rows:
            show_rows(console, name, rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
