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
        ).items()
        if v is not None
    }
    config = TrainConfig(**overrides)
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
        args.data or config["data"], seed=config.get("train", {}).get("data_seed", 0)
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
        probs = predict(model, load_inputs([path], config["input_shape"]))
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


def _experiment(args: argparse.Namespace, console: Console) -> int:
    from pathlib import Path

    from anyconv.experiments import get_experiment, list_experiments, run_experiment
    from anyconv.experiments.report import rich_table, verdict
    from anyconv.experiments.runner import progress_bar

    if args.name == "list":
        table = Table(title="experiments (anyconv experiment NAME [--quick])")
        table.add_column("name")
        table.add_column("claim")
        for name, claim in list_experiments().items():
            table.add_row(name, claim)
        console.print(table)
        return 0
    names = list(list_experiments()) if args.name == "all" else [get_experiment(args.name).name]
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    done = []
    with progress_bar(console) as progress:
        for name in names:
            # with 'all', --data goes to the experiments that read an image dataset
            reads_data = "data" in get_experiment(name).full or args.name != "all"
            out = args.out if args.name != "all" or args.out is None else Path(args.out) / name
            results = run_experiment(
                name,
                quick=args.quick,
                seeds=args.seeds,
                seed=args.seed,
                out=out,
                data=args.data if reads_data else None,
                console=console,
                progress=progress,
            )
            folder = out or f"runs/experiment-{name}{'-quick' if args.quick else ''}"
            progress.console.print(rich_table(results))
            for note in results["notes"]:
                progress.console.print(f"  [dim]{note}[/dim]", highlight=False)
            progress.console.print(f"  rule: {results['rule']}", highlight=False)
            colour = "green" if results["holds"] else "red"
            progress.console.print(
                f"  [{colour}]the claim {verdict(results)}[/{colour}] in "
                f"{results['seconds']:.1f} s; results, table.md and "
                f"{len(results['figures'])} figure(s) in {folder}\n",
                highlight=False,
            )
            done.append(results)
    if len(done) > 1:
        table = Table(title="experiments run")
        for column in ("experiment", "claim holds", "seconds"):
            table.add_column(column)
        for results in done:
            table.add_row(
                results["experiment"],
                "yes" if results["holds"] else "no",
                f"{results['seconds']:.1f}",
            )
        console.print(table)
    return 0


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

    evaluate = sub.add_parser("evaluate", help="test accuracy of a trained run")
    evaluate.add_argument("run_dir")
    evaluate.add_argument("--data", help="another dataset spec of the same shape")

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

    exp = sub.add_parser(
        "experiment",
        help="test a claim of the theory: results.json, table.md and figures",
        description="'list' names the experiments and their claims; 'all' runs every one.",
    )
    exp.add_argument("name", help="an experiment name, 'list' or 'all'")
    exp.add_argument("--quick", action="store_true", help="reduced run (under a minute each)")
    exp.add_argument("--seeds", type=int, help="number of training seeds (default per run)")
    exp.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    exp.add_argument("--data", help="image dataset spec, e.g. idx:DIR for MNIST (default digits)")
    exp.add_argument(
        "--out", help="output folder (default runs/experiment-NAME; with 'all': one per name)"
    )
    exp.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    return parser


COMMANDS = {
    "train": _train,
    "evaluate": _evaluate,
    "predict": _predict,
    "models": _models,
    "datasets": _datasets,
    "summary": _summary,
    "demo": _demo,
    "experiment": _experiment,
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
