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


def _train(args: argparse.Namespace, console: Console) -> int:
    from anyconv.train import TrainConfig, TrainingDiverged, train

    overrides = {
        k: v
        for k, v in dict(
            model=args.model,
            data=args.data,
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            seed=args.seed,
            device=args.device,
            out=args.out,
            resume=args.resume,
            optimizer=args.optimizer,
            augment=args.augment or None,
            quiet=args.quiet or None,
            # [h-data] data options (None: not given)
            image_size=args.image_size,
            flip=args.flip,
            crop_scale=args.crop_scale,
            val_fraction=args.val_fraction,
            stream=args.stream,
            workers=args.workers,
            eval_every=args.eval_every,
        ).items()
        if v is not None
    }
    from anyconv.models.fcn import tsc_recipe  # [h-data] fcn/resnet1d on ucr: data

    config = TrainConfig(**{**tsc_recipe(args.model, args.data), **overrides})
    try:
        metrics = train(config, console=console)
    except TrainingDiverged as error:
        console.print(f"[red]training diverged:[/red] {error}")
        return 3
    return 0 if metrics else 1


def _evaluate(args: argparse.Namespace, console: Console) -> int:
    from anyconv.data import load_dataset
    from anyconv.train import evaluate, load_run

    model, config = load_run(args.run_dir)
    data = load_dataset(
        args.data or config["data"],
        seed=config.get("train", {}).get("data_seed", 0),
        **config.get("data_options", {}),  # [h-data] the run's held-out split and transform
        **({"workers": args.workers} if args.workers is not None else {}),
    )
    result = evaluate(model, data)
    console.print(
        f"test accuracy: {result['accuracy']:.2%}, loss {result['loss']:.4f} "
        f"({result['samples']} samples of {data.name})"
    )
    return 0


def _predict(args: argparse.Namespace, console: Console) -> int:
    from anyconv.data.files import load_inputs
    from anyconv.train import load_run, predict

    model, config = load_run(args.run_dir)
    names = config.get("class_names") or []
    table = Table()
    for column in ("input", "class", "probability"):
        table.add_column(column)
    for path in args.files:
        inputs = load_inputs([path], config["input_shape"], config.get("data_options"))
        probs = predict(model, inputs)
        for i, p in enumerate(probs):
            best = int(p.argmax())
            label = path if len(probs) == 1 else f"{path}[{i}]"
            table.add_row(label, names[best] if best < len(names) else str(best), f"{p[best]:.3f}")
    console.print(table)
    return 0


def _models(args: argparse.Namespace, console: Console) -> int:
    from anyconv.models import list_models

    table = Table(title="models (anyconv train MODEL)")
    table.add_column("name")
    table.add_column("description")
    for name, text in list_models().items():
        table.add_row(name, text)
    console.print(table)
    return 0


def _datasets(args: argparse.Namespace, console: Console) -> int:
    from anyconv.data import list_datasets

    table = Table(title="datasets (anyconv train --data SPEC)")
    table.add_column("spec")
    table.add_column("description")
    for name, text in list_datasets().items():
        table.add_row(name, text)
    console.print(table)
    return 0


def _summary(args: argparse.Namespace, console: Console) -> int:
    from anyconv.analysis import summary
    from anyconv.models import create_model, default_input_shape

    shape = args.input_shape or default_input_shape(args.model)
    model = create_model(
        args.model, in_channels=shape[0], num_classes=args.num_classes, input_size=tuple(shape[1:])
    )
    table = Table(title=f"{args.model} on input {tuple(shape)}")
    for column in ("layer", "type", "output shape", "parameters"):
        table.add_column(column, justify="right" if column == "parameters" else "left")
    for row in summary(model, shape):
        out = "" if row["output_shape"] is None else str(row["output_shape"])
        table.add_row(row["name"], row["type"], out, f"{row['parameters']:,}")
    console.print(table)
    return 0


def _image_size(text: str) -> int | tuple[int, int]:
    sizes = _ints(text)
    if len(sizes) not in (1, 2):
        raise argparse.ArgumentTypeError(f"expected H or H,W; got {text!r}")
    return sizes[0] if len(sizes) == 1 else sizes


def _data_arguments(parser: argparse.ArgumentParser) -> None:  # [h-data]
    group = parser.add_argument_group("image folders (folder:DIR)")
    group.add_argument(
        "--image-size",
        type=_image_size,
        metavar="H[,W]",
        help="resize and crop images to this size (random-resized crops for training), "
        "normalised by the training set's mean and std",
    )
    group.add_argument(
        "--flip",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="mirror training images left-right at random (default off)",
    )
    group.add_argument(
        "--crop-scale",
        type=float,
        metavar="F",
        help="smallest area of a random training crop, a fraction of the image (default 0.08)",
    )
    group.add_argument(
        "--val-fraction",
        type=float,
        metavar="F",
        help="held out of each class as the test split when DIR has no test folder (default 0.2)",
    )
    where = group.add_mutually_exclusive_group()
    where.add_argument(
        "--stream",
        dest="stream",
        action="store_const",
        const=True,
        help="decode images from disk in every epoch (default: when they would fill more "
        "than a quarter of the free memory)",
    )
    where.add_argument(
        "--in-memory", dest="stream", action="store_const", const=False, help="hold images decoded"
    )
    group.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="image decoding processes (default: CPUs - 1, at most 4; 0: none)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="anyconv", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a model (default: lenet5 on digits)")
    train.add_argument("model", nargs="?", help="a name from 'anyconv models' (default lenet5)")
    train.add_argument("--data", help="a spec from 'anyconv datasets' (default digits)")
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--lr", type=float)
    train.add_argument("--optimizer", choices=["adamw", "sgd"])
    train.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="random 1-pixel shifts of images and video frames (default on)",
    )
    train.add_argument("--seed", type=int)
    train.add_argument("--device", choices=["auto", "cpu", "cuda"])
    train.add_argument("--out", help="run folder (default runs/<model>-<data>-<time>)")
    train.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument(
        "--eval-every",
        type=int,
        metavar="N",
        help="evaluate and checkpoint every N epochs and after the last (default 1)",
    )
    _data_arguments(train)

    evaluate = sub.add_parser("evaluate", help="test accuracy of a trained run")
    evaluate.add_argument("run_dir")
    evaluate.add_argument("--data", help="another dataset spec of the same shape")
    evaluate.add_argument("--workers", type=int, help="image decoding processes")

    predict = sub.add_parser("predict", help="classify images or .npy arrays")
    predict.add_argument("run_dir")
    predict.add_argument("files", nargs="+")

    sub.add_parser("models", help="list the models")
    sub.add_parser("datasets", help="list the dataset specs")
    summ = sub.add_parser("summary", help="layer table of a model: output shapes, parameters")
    summ.add_argument("model")
    summ.add_argument("--input-shape", type=_ints, help="C,H,W of one sample (e.g. 1,28,28)")
    summ.add_argument("--num-classes", type=int, default=10)

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
    sub.add_parser("algorithms", help="list the convolution algorithms")
    return parser


COMMANDS = {
    "train": _train,
    "evaluate": _evaluate,
    "predict": _predict,
    "models": _models,
    "datasets": _datasets,
    "summary": _summary,
    "demo": _demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console()
    try:
        if args.command == "algorithms":
            console.print("\n".join(list_algorithms()))
            return 0
        return COMMANDS[args.command](args, console)
    except (ValueError, TypeError, FileNotFoundError) as error:
        console.print(f"[red]error:[/red] {error}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
