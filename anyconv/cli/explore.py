"""``anyconv explore``: the Explorer page of a trained run or of a model (one HTML file)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.console import Console

from anyconv.cli.arguments import integer, ints
from anyconv.cli.output import plain
from anyconv.cli.registry import command


def _explore_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "target",
        metavar="RUN_DIR|MODEL",
        help="a run folder written by 'anyconv train', or a model name ('anyconv models'), "
        "shown untrained",
    )
    parser.add_argument(
        "--out",
        metavar="FILE.html",
        help="the page to write (default: RUN_DIR/explore.html, or explore-MODEL.html here)",
    )
    parser.add_argument(
        "--samples",
        type=integer,
        default=16,
        help="test samples embedded in the page, 1 to 256 (default: %(default)s)",
    )
    parser.add_argument(
        "--data",
        help="the data set the samples come from: for a run, another one of the same input "
        "shape and classes (default: the run's); for a model, any (default: synthetic "
        "inputs)",
    )
    parser.add_argument(
        "--input-shape",
        type=ints,
        help="C,... of one sample, for a model without --data (default: the model's own, "
        "'anyconv models')",
    )
    parser.add_argument(
        "--num-classes",
        type=integer,
        help="classes of a model without --data (default: 10)",
    )
    parser.add_argument(
        "--workers",
        type=integer,
        help="processes decoding the images of a folder: data (default: CPUs - 1, at most 4)",
    )


@command(
    "explore",
    "write one web page that shows a run or a model at work, layer by layer",
    _explore_arguments,
    description="Write the Explorer: one self-contained HTML file (no server, no network) "
    "with the network as a diagram, a sample picker, every layer's feature maps, receptive "
    "and projective fields on pointing, the probabilities, class activation maps, the "
    "kernels, a run's training curves and confusion matrix, and a convolution-arithmetic "
    "playground.",
)
def _explore(args: argparse.Namespace, console: Console) -> int:
    from anyconv.models import list_models

    target = args.target
    is_model = target in list_models() and not Path(target).exists()
    if not is_model and not Path(target).exists() and os.sep not in target:
        raise ValueError(
            f"{target}: no such run folder, and not a model name (one of "
            f"{', '.join(list_models())})"
        )
    path = _explore_model(args) if is_model else _explore_run(args)
    size = path.stat().st_size / 1e6
    console.print(plain(f"explorer page written: {path} ({size:.2f} MB); open it in a browser"))
    return 0


def _explore_run(args: argparse.Namespace) -> Path:
    from anyconv.viz.explorer import explore_run

    for flag in ("input_shape", "num_classes"):
        if getattr(args, flag) is not None:
            raise ValueError(
                f"--{flag.replace('_', '-')} is for a model name; a run folder's model has its own"
            )
    return explore_run(
        args.target, args.out, samples=args.samples, data=args.data, workers=args.workers
    )


def _explore_model(args: argparse.Namespace) -> Path:
    from anyconv.cli.analysis import load_target
    from anyconv.viz.explorer import explore_model
    from anyconv.viz.explorer.sources import check_samples

    name = args.target
    data = None
    shape, classes = args.input_shape, args.num_classes
    if args.data:
        from anyconv.data import load_dataset

        data = load_dataset(args.data, workers=args.workers)
        if shape is not None and tuple(shape) != tuple(data.input_shape):
            raise ValueError(
                f"--input-shape {tuple(shape)} differs from {args.data}'s samples "
                f"{tuple(data.input_shape)}; leave it out to use the data's"
            )
        if classes is not None and classes != data.num_classes:
            raise ValueError(
                f"--num-classes {classes} differs from {args.data}'s {data.num_classes} classes"
            )
        shape, classes = tuple(data.input_shape), data.num_classes
    if shape is not None:
        check_samples(args.samples, shape, "explore")  # before any model or sample is made
    model, shape, title, _ = load_target(name, shape, classes or 10)
    out = args.out or f"explore-{name}.html"
    if data is not None:
        from anyconv.data.spec import DataSpec

        title += f" on {DataSpec.parse(args.data).label}"
    return explore_model(
        model, out, input_shape=shape, data=data, samples=args.samples, title=title
    )
