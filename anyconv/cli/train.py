"""``anyconv train``, ``evaluate`` and ``predict``: a run folder made, tested, used.

``train``'s options are generated from :class:`~anyconv.train.TrainConfig`'s fields and the
help in its docstring, the choices from the library's tuples; nothing is written twice.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any

from rich.console import Console

from anyconv.cli.arguments import Switch, integer, ints, model_option, number, text
from anyconv.cli.output import error_line, main_rank, plain, print_error, titled_table, warn
from anyconv.cli.registry import command


def _field_type(hint: Any) -> Any:
    args = typing.get_args(hint) or (hint,)
    for candidate in (bool, int, float, str):
        if candidate in args:
            return candidate
    if any(typing.get_origin(a) is list for a in args):
        return list
    return str


def config_arguments(parser: argparse.ArgumentParser) -> None:
    """One option per :class:`TrainConfig` field that is a flag (its
    :class:`~anyconv.train.config.Setting`: names, choices), named after it, with its
    docstring help; every default is None, so only the flags given reach the config."""
    from anyconv.train.config import TrainConfig, setting_facts
    from anyconv.train.recipes import FALLBACK

    hints = typing.get_type_hints(TrainConfig)
    helps = TrainConfig.field_help()
    parser.add_argument(
        "model",
        nargs="?",
        help="a name from 'anyconv models' (default: lenet5), or your own model as "
        "'package.module:Name' (see the README's 'Your own model')",
    )
    group = parser.add_argument_group("training settings")
    facts = setting_facts()
    for f in dataclasses.fields(TrainConfig):
        setting = facts[f.name]
        if not setting.flag:
            continue
        names = ["--" + f.name.replace("_", "-"), *setting.aliases]
        kind = _field_type(hints[f.name])
        help = helps[f.name].replace("``", "'").replace("%", "%%")
        if f.name in FALLBACK:
            help += " (default: the recipe of the data set and model; see 'anyconv datasets')"
        elif f.default is not None and f.default is not dataclasses.MISSING:
            help += f" (default: {f.default})"
        if kind is bool:
            group.add_argument(
                *names,
                dest=f.name,
                action=Switch,
                off=setting.off,
                default=None,
                help=help,
            )
        else:
            parse = {int: integer, float: number, list: ints}.get(kind, text)
            group.add_argument(
                *names,
                dest=f.name,
                type=parse,
                choices=setting.choices,
                default=None,
                metavar=None if setting.choices else f.name.upper(),
                help=help,
            )
    group.add_argument(
        "-o",
        "--option",
        dest="model_kwargs",
        type=model_option,
        action="append",
        metavar="NAME=VALUE",
        help="a model option, repeatable: e.g. -o causal_time=true -o channels=8,16,16 "
        "('anyconv models' lists each model's options and defaults)",
    )


def config_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the user gave (flags left out keep their defaults or recipe)."""
    from anyconv.train.config import TrainConfig

    settings = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(TrainConfig)
        if getattr(args, f.name, None) is not None
    }
    if "model_kwargs" in settings:
        settings["model_kwargs"] = dict(settings["model_kwargs"])
    return settings


@command(
    "train",
    "train a model and write its run folder (default: lenet5 on digits)",
    config_arguments,
    description="Train a model on a data set and write a run folder with the weights, the "
    "metrics and pictures. Settings not given come from the recipe of the data set and "
    "model ('anyconv datasets', 'anyconv models').",
)
def _train(args: argparse.Namespace, console: Console) -> int:
    from anyconv.train import TrainConfig, train

    train(TrainConfig(**config_settings(args)), console=console)
    return 0


def _evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="a run folder written by 'anyconv train'")
    parser.add_argument(
        "--data", help="another data set of the same input shape and classes (default: the run's)"
    )
    parser.add_argument(
        "--workers",
        type=integer,
        help="processes decoding the images of a folder: run (default: CPUs - 1, at most 4)",
    )


@command(
    "evaluate",
    "test accuracy of a trained run",
    _evaluate_arguments,
    description="Test accuracy of a trained run on its own data set's test split, or on "
    "another data set of the same input shape and classes.",
)
def _evaluate(args: argparse.Namespace, console: Console) -> int:
    from anyconv.train import evaluate
    from anyconv.train.run import RunFolder, check_data_fits_run, load_run_data

    model, config = RunFolder(args.run_dir).load_model()
    data = load_run_data(config, args.data, workers=args.workers)
    spec = config["data"] if args.data is None else args.data
    for warning in check_data_fits_run(config, data, spec, args.run_dir):
        warn(warning)
    result = evaluate(model, data)
    console.print(
        plain(
            f"test accuracy: {result['accuracy']:.2%}, loss {result['loss']:.4f} "
            f"({result['samples']} samples of {data.name})"
        )
    )
    return 0


def _predict_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="a run folder written by 'anyconv train'")
    parser.add_argument(
        "files",
        nargs="+",
        help="images (PNG, JPEG, ...: read as pixel / maximum, in [0, 1]) or .npy arrays of "
        "one input (C, *spatial) or a batch (N, C, *spatial), holding raw values as in the "
        "data set's files (e.g. 0..16 for digits)",
    )
    parser.add_argument(
        "--top", type=integer, default=3, help="classes shown per input (default: %(default)s)"
    )
    parser.add_argument(
        "--scaled",
        action="store_true",
        help="the .npy arrays are already scaled like the model's inputs: skip the run's "
        "input normalisation",
    )


@command(
    "predict",
    "classify images or .npy arrays with a trained run",
    _predict_arguments,
    description="Classify files with a trained run. Inputs get the run's own input "
    "normalisation (stored in its config.json), and a warning when their values lie far "
    "from the training inputs' range.",
)
def _predict(args: argparse.Namespace, console: Console) -> int:
    from anyconv.train import predict
    from anyconv.train.inputs import read_inputs, top_k
    from anyconv.train.run import RunFolder

    if args.top < 1:
        raise ValueError(f"--top must be a positive int; got {args.top}")
    model, config = RunFolder(args.run_dir).load_model()
    names = config.get("class_names") or []
    table = titled_table(
        f"predictions of {args.run_dir} ({config['model']} on {config['data']})",
        ("input", "class", "probability", "next"),
        right=("probability",),
    )
    failed = []
    for path in args.files:
        try:  # one bad file is reported, and the others still predicted
            x, warning = read_inputs(path, config, scaled=args.scaled)
        except (ValueError, TypeError, OSError, MemoryError) as error:
            if getattr(args, "debug", False):
                raise
            failed.append(error_line(error))
            continue
        if warning:
            warn(warning)
        probs = predict(model, x)
        for i, ranked in enumerate(top_k(probs, names, args.top)):
            label = path if len(probs) == 1 else f"{path}[{i}]"
            (best, p), rest = ranked[0], ranked[1:]
            others = ", ".join(f"{name} {q:.3f}" for name, q in rest)
            table.add_row(label, best, f"{p:.3f}", others)
    if table.rows:
        table.show(console)
    errors = Console(stderr=True, quiet=not main_rank())
    for line in failed:
        print_error(errors, line)
    if failed:
        print_error(errors, f"{len(failed)} of {len(args.files)} files could not be predicted")
        return 2  # EXIT_BAD_INPUT, as for any bad input
    return 0
