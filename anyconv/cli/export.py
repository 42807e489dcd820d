"""``anyconv export``: a trained run as an ONNX file or a ``torch.export`` program."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from rich.console import Console

from anyconv.cli.output import plain
from anyconv.cli.registry import command

CHECK_SAMPLES = 16
"""Test samples the written file is run on and compared with PyTorch."""


def _export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run folder of 'anyconv train'")
    parser.add_argument(
        "--format",
        choices=("onnx", "pt2"),
        default="onnx",
        help="onnx (onnxruntime; needs pip install 'anyconv[export]') or pt2 (a "
        "torch.export program) (default: %(default)s)",
    )
    parser.add_argument(
        "--out", metavar="FILE", help="the file to write (default: RUN_DIR/model.FORMAT)"
    )


def raw_samples(config: dict, count: int) -> torch.Tensor:
    """Up to ``count`` test samples of the run's data as ``anyconv predict`` takes them in
    ``.npy`` files: the run's normalisation undone (per-sample z-normalised series are
    their own raw form)."""
    from anyconv.train.run import load_run_data

    data = load_run_data(config)
    x, _ = data.first_samples("test", count)
    normalization = config.get("input", {}).get("normalization", {})
    x = x.float()
    if "mean" in normalization and "std" in normalization:
        shape = (1, -1) + (1,) * (x.dim() - 2)
        mean = torch.tensor(normalization["mean"]).view(shape)
        x = x * torch.tensor(normalization["std"]).view(shape) + mean
    if normalization.get("divide"):
        x = x * float(normalization["divide"])
    return x


@command(
    "export",
    "write a trained run as an ONNX file or a torch.export program, checked against PyTorch",
    _export_arguments,
    description="Export a run's model with its input normalisation inside the graph: the "
    "file takes the raw inputs 'anyconv predict' takes in .npy files (any batch size) and "
    "returns logits; its metadata hold the class names, the input shape and the "
    "normalisation. Before it reports success, the file is run (onnxruntime, or the loaded "
    "program) on test samples of the run's data and compared with PyTorch.",
)
def _export(args: argparse.Namespace, console: Console) -> int:
    from anyconv.interop import export
    from anyconv.train.run import load_run

    model, config = load_run(args.run_dir)
    out = Path(args.out) if args.out else Path(args.run_dir) / f"model.{args.format}"
    samples = raw_samples(config, CHECK_SAMPLES)
    path = export(
        model,
        samples[:2],
        out,
        args.format,
        normalization=config.get("input", {}).get("normalization", {}),
        class_names=config.get("class_names"),
        check=samples,
    )
    console.print(
        plain(
            f"{args.format} file written: {path} ({path.stat().st_size / 1e6:.2f} MB); "
            f"its logits on {len(samples)} test samples match PyTorch's"
        )
    )
    return 0
