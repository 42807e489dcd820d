"""The ``anyconv`` command: parses arguments, then calls the library.

Each subcommand is one entry of :data:`COMMANDS`, registered with :func:`command`: a help
line, a function adding its arguments, and the function that runs it. Options are derived
from the library (``TrainConfig``'s fields and their help, the tuples of choices), never
written out a second time here. Errors are caught in one place, :func:`main`.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import dataclasses
import inspect
import math
import os
import re
import sys
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

DESCRIPTION = """\
anyconv: every convolution from the textbook, on PyTorch.

Train and evaluate classic CNNs on bundled or your own data, classify files with a
trained run, measure and draw what the theory says (receptive fields, MACs, equivariance,
the sliding window), test its claims in experiments, and compare the convolution
algorithms on one problem.

  anyconv train                      LeNet-5 on the bundled 8x8 digits (about 99%)
  anyconv train cnn1d --data mnist1d a 1-D CNN on MNIST-1D sequences
  anyconv train allcnn --data folder:DIR --image-size 32   your own image folder
  anyconv predict RUN_DIR img.png    classify files with a trained run
  anyconv models | datasets          what can be trained, on what
  anyconv summary lenet5             shapes, parameters, MACs, receptive fields
  anyconv animate --input 5,5 --kernel 3 --stride 2 --padding same --out conv.gif
  anyconv experiment list            claims of the theory, tested on data
  anyconv demo --size 64,64          every convolution algorithm on one problem

Run 'anyconv COMMAND --help' for the options of a command."""

EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 3


# -- the command table -----------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """One subcommand: ``arguments(parser)`` adds its options, ``run(args, console)``
    returns the exit code."""

    help: str
    run: Callable[[argparse.Namespace, Console], int]
    arguments: Callable[[argparse.ArgumentParser], None]
    description: str | None = None


COMMANDS: dict[str, Command] = {}
"""Subcommands by name, in the order ``anyconv --help`` lists them."""


def command(
    name: str,
    help: str,
    arguments: Callable[[argparse.ArgumentParser], None] | None = None,
    description: str | None = None,
) -> Callable[[Callable[[argparse.Namespace, Console], int]], Callable]:
    """Decorator: register ``run(args, console) -> exit code`` as ``anyconv NAME``."""

    def wrap(run: Callable[[argparse.Namespace, Console], int]) -> Callable:
        COMMANDS[name] = Command(help, run, arguments or (lambda parser: None), description)
        return run

    return wrap


# -- argument types: one clear message each ---------------------------------------------


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated ints, got {text!r}") from None


def _padding(text: str) -> str | int:
    from anyconv.padding import PADDING_RULES

    if text in PADDING_RULES:
        return text
    try:
        return int(text)
    except ValueError:
        allowed = ", ".join(PADDING_RULES)
        raise argparse.ArgumentTypeError(
            f"expected one of {allowed} or an int >= 0, got {text!r}"
        ) from None


def _literal(text: str) -> Any:
    """A model option's value: true/false, none, a number, comma-separated numbers (a
    tuple) or a string."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    if "," in text:
        return tuple(_literal(part) for part in text.split(",") if part.strip())
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    return value if isinstance(value, int | float) and not isinstance(value, bool) else text


def _option(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(
            f"expected NAME=VALUE (e.g. causal_time=true), got {text!r}"
        )
    return name.strip().replace("-", "_"), _literal(value)


# -- printing user-controlled strings -------------------------------------------------


def plain(value: Any) -> Text:
    """``value`` as text that rich prints verbatim: file, folder and class names are never
    read as markup (``[red]`` stays ``[red]``)."""
    return Text(str(value))


def _table(title: str, columns: Sequence[str], right: Sequence[str] = ()) -> Table:
    table = Table(title=plain(title))
    for column in columns:
        table.add_column(column, justify="right" if column in right else "left")
    return table


def _main_rank() -> bool:
    return os.environ.get("RANK", "0") == "0"


def _error(console: Console, message: str) -> None:
    console.print(Text("error: ", style="bold red") + plain(message), soft_wrap=True)


def _warn(message: str) -> None:
    """A warning line on stderr (rank 0 only)."""
    Console(stderr=True, quiet=not _main_rank()).print(
        Text("warning: ", style="yellow") + plain(message), soft_wrap=True
    )


# -- train ------------------------------------------------------------------------------

NOT_FLAGS = ("model", "model_kwargs")  # a positional argument and --option
EXTRA_FLAG_NAMES = {"pictures": "--plots"}
NEGATIVE_FLAG_NAMES = {"stream": "--in-memory"}  # also --no-stream


class _Switch(argparse.BooleanOptionalAction):
    """``--flag``/``--no-flag``, and ``off``: one more name for ``--no-flag``."""

    def __init__(self, option_strings: Sequence[str], dest: str, off: str | None = None, **kw):
        super().__init__(option_strings, dest, **kw)
        self.off = off
        if off:
            self.option_strings.append(off)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        if option_string is not None and option_string == self.off:
            setattr(namespace, self.dest, False)
        else:
            super().__call__(parser, namespace, values, option_string)


def _field_type(hint: Any) -> Any:
    args = typing.get_args(hint) or (hint,)
    for candidate in (bool, int, float, str):
        if candidate in args:
            return candidate
    if any(typing.get_origin(a) is list for a in args):
        return list
    return str


def _config_arguments(parser: argparse.ArgumentParser) -> None:
    """One option per :class:`TrainConfig` field, named after it, with its docstring help;
    every default is None, so only the flags given reach the config."""
    from anyconv.train.config import CHOICES, TrainConfig
    from anyconv.train.recipes import FALLBACK

    hints = typing.get_type_hints(TrainConfig)
    helps = TrainConfig.field_help()
    parser.add_argument("model", nargs="?", help="a name from 'anyconv models' (default: lenet5)")
    group = parser.add_argument_group("training settings")
    for f in dataclasses.fields(TrainConfig):
        if f.name in NOT_FLAGS:
            continue
        names = ["--" + f.name.replace("_", "-")]
        if f.name in EXTRA_FLAG_NAMES:
            names.append(EXTRA_FLAG_NAMES[f.name])
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
                action=_Switch,
                off=NEGATIVE_FLAG_NAMES.get(f.name),
                default=None,
                help=help,
            )
        else:
            parse = {int: _int, float: _float, list: _ints}.get(kind, str)
            group.add_argument(
                *names,
                dest=f.name,
                type=parse,
                choices=CHOICES.get(f.name),
                default=None,
                metavar=None if f.name in CHOICES else f.name.upper(),
                help=help,
            )
    group.add_argument(
        "-o",
        "--option",
        dest="model_kwargs",
        type=_option,
        action="append",
        metavar="NAME=VALUE",
        help="a model option, repeatable: e.g. -o causal_time=true -o channels=8,16,16 "
        "('anyconv models' lists each model's options and defaults)",
    )


def _config_settings(args: argparse.Namespace) -> dict[str, Any]:
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
    _config_arguments,
    description="Train a model on a data set and write a run folder with the weights, the "
    "metrics and pictures. Settings not given come from the recipe of the data set and "
    "model ('anyconv datasets', 'anyconv models').",
)
def _train(args: argparse.Namespace, console: Console) -> int:
    from anyconv.train import TrainConfig, train

    train(TrainConfig(**_config_settings(args)), console=console)
    return 0


# -- evaluate, predict ------------------------------------------------------------------


def _evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="a run folder written by 'anyconv train'")
    parser.add_argument(
        "--data", help="another data set of the same input shape and classes (default: the run's)"
    )
    parser.add_argument(
        "--workers",
        type=_int,
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
    from anyconv.train.inputs import evaluation_data
    from anyconv.train.run import RunFolder, check_data_fits_run

    model, config = RunFolder(args.run_dir).load_model()
    data, notes = evaluation_data(config, args.data, workers=args.workers)
    spec = config["data"] if args.data is None else args.data
    for warning in check_data_fits_run(config, data, spec, args.run_dir):
        _warn(warning)
    for note in notes:
        console.print(plain(note))
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
        "--top", type=_int, default=3, help="classes shown per input (default: %(default)s)"
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
    table = _table(
        f"predictions of {args.run_dir} ({config['model']} on {config['data']})",
        ("input", "class", "probability", "next"),
        right=("probability",),
    )
    failed = []
    for path in args.files:
        try:  # one bad file is reported, and the others still predicted
            x, warning = read_inputs(path, config, scaled=args.scaled)
        except (ValueError, TypeError, OSError, MemoryError) as error:
            if args.debug:
                raise
            failed.append(_message(error))
            continue
        if warning:
            _warn(warning)
        probs = predict(model, x)
        for i, ranked in enumerate(top_k(probs, names, args.top)):
            label = path if len(probs) == 1 else f"{path}[{i}]"
            (best, p), rest = ranked[0], ranked[1:]
            others = ", ".join(f"{name} {q:.3f}" for name, q in rest)
            table.add_row(plain(label), plain(best), f"{p:.3f}", plain(others))
    if table.row_count:
        console.print(table)
    errors = Console(stderr=True)
    for message in failed:
        _error(errors, message)
    if failed:
        _error(errors, f"{len(failed)} of {len(args.files)} files could not be predicted")
        return EXIT_BAD_INPUT
    return 0


# -- listings ---------------------------------------------------------------------------


@command("models", "list the models, their inputs, options and recipes")
def _models(args: argparse.Namespace, console: Console) -> int:
    from anyconv.models import list_models
    from anyconv.models.options import model_options
    from anyconv.train.recipes import MODEL_RECIPES, describe

    table = _table("models (anyconv train MODEL)", ("name", "options (defaults)", "description"))
    table.columns[0].no_wrap = True
    for name, text in list_models().items():
        options = ", ".join(f"{k}={v!r}" for k, v in model_options(name).items())
        for data, settings in MODEL_RECIPES.get(name, {}).items():
            on = "" if data == "*" else f" on {dataset_spec_form(data)} data"
            text += f" (recipe{on}: {describe(settings)})"
        table.add_row(plain(name), plain(options or "-"), plain(text))
    console.print(table)
    console.print(
        plain(
            "set an option with -o NAME=VALUE, e.g. anyconv train c3d --data moving-digits "
            "-o causal_time=true"
        )
    )
    if not MODEL_RECIPES:
        console.print(
            plain(
                "recipes: each model trains with its data set's recipe ('anyconv datasets'); "
                "no model family needs settings of its own"
            )
        )
    return 0


def dataset_spec_form(name: str) -> str:
    """How to write a registered data set on the command line: ``digits`` or ``idx:DIR``
    (a loader whose ``argument`` has no default takes one, named after the first of DIR,
    FILE, PREFIX or PATH in its help text)."""
    from anyconv.data.base import DATASETS

    loader, help = DATASETS[name][0], DATASETS[name][1]
    try:
        parameter = inspect.signature(loader).parameters.get("argument")
    except (TypeError, ValueError):
        parameter = None
    if parameter is None or parameter.default is not inspect.Parameter.empty:
        return name
    word = re.search(r"(?<![A-Za-z])(DIR|FILE|PREFIX|PATH)(?![A-Za-z])", help)
    return f"{name}:{word[1] if word else 'ARG'}"


@command("datasets", "list the data sets, their spec forms and recipes")
def _datasets(args: argparse.Namespace, console: Console) -> int:
    from anyconv.data import list_datasets
    from anyconv.train.recipes import DATA_RECIPES, FALLBACK, describe

    table = _table("datasets (anyconv train --data SPEC)", ("spec", "description", "recipe"))
    for name, text in list_datasets().items():
        settings = DATA_RECIPES.get(name)
        table.add_row(
            plain(dataset_spec_form(name)),
            plain(text),
            plain(describe(settings) if settings else "fallback"),
        )
    console.print(table)
    console.print(plain(f"fallback recipe: {describe(FALLBACK)}; any flag overrides a recipe"))
    return 0


def _algorithm_line(name: str) -> str:
    from anyconv.functional.algorithms.registry import ALGORITHMS

    return ALGORITHMS[name].summary.replace("``", "")


@command("algorithms", "list the convolution algorithms, one line each")
def _algorithms(args: argparse.Namespace, console: Console) -> int:
    from anyconv.functional.algorithms import list_algorithms

    table = _table("convolution algorithms (algorithm=NAME)", ("name", "what it does"))
    for name in list_algorithms():
        table.add_row(plain(name), plain(_algorithm_line(name)))
    console.print(table)
    return 0


def _model_estimate(name: str, kwargs: dict[str, Any], shape: Sequence[int]) -> float:
    """Bytes of a model's parameters (counted on the meta device, nothing allocated) and
    of its widest activation, twice, for one sample. Where PyTorch cannot even build the
    model on the meta device (sizes beyond int64), the bytes of the input and the logits
    alone, a floor that is then far above :func:`memory_limit`."""
    import torch

    from anyconv.models import create_model

    try:
        with torch.device("meta"):
            meta = create_model(name, **kwargs)
    except (RuntimeError, TypeError, OverflowError):
        floor = 4.0 * (math.prod(shape) + kwargs.get("num_classes", 0))
        if floor <= memory_limit():
            raise
        return floor
    params = sum(p.numel() for p in meta.parameters())
    widest = max(
        [getattr(m, "out_channels", 0) for m in meta.modules()] + [shape[0]], default=shape[0]
    )
    return 4.0 * (params + 2 * widest * math.prod(shape[1:]))


# -- analysis: summary, equivariance, animate, matrix (anyconv/cli_analysis.py) -----------


def _register_analysis() -> None:
    from anyconv.cli_analysis import ANALYSIS_COMMANDS

    for name, (help, run, arguments) in ANALYSIS_COMMANDS.items():
        COMMANDS[name] = Command(help, run, arguments)


_register_analysis()


# -- demo -------------------------------------------------------------------------------


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    from anyconv.padding import PADDING_MODES, PADDING_RULES

    parser.add_argument(
        "--size", type=_ints, default=(32, 32), help="spatial size, 1-3 axes (default: 32,32)"
    )
    parser.add_argument(
        "--kernel", type=_ints, default=(5,), help="kernel size, e.g. 5 or 3,5 (default: 5)"
    )
    parser.add_argument("--batch", type=_int, default=2, help="(default: %(default)s)")
    parser.add_argument(
        "--channels", type=_int, default=8, help="input and output channels (default: %(default)s)"
    )
    parser.add_argument("--groups", type=_int, default=1, help="(default: %(default)s)")
    parser.add_argument(
        "--padding",
        type=_padding,
        default="same",
        help=f"{', '.join(PADDING_RULES)} or an int (default: %(default)s)",
    )
    parser.add_argument(
        "--padding-mode", default="zeros", choices=PADDING_MODES, help="(default: %(default)s)"
    )
    parser.add_argument("--stride", type=_int, default=1, help="(default: %(default)s)")
    parser.add_argument("--dilation", type=_int, default=1, help="(default: %(default)s)")
    parser.add_argument("--flip", action="store_true", help="true convolution (kernel flipped)")
    parser.add_argument(
        "--repeat", type=_int, default=5, help="timed runs per algorithm (default: %(default)s)"
    )
    parser.add_argument("--seed", type=_int, default=0, help="(default: %(default)s)")


MAX_REPEAT = 1000
"""Most timed runs per algorithm ``anyconv demo`` takes (more only waits longer)."""


def _positive(args: argparse.Namespace, *names: str) -> None:
    for name in names:
        values = getattr(args, name)
        for value in values if isinstance(values, tuple) else (values,):
            if value < 1:
                flag = "--" + name.replace("_", "-")
                raise ValueError(f"{flag} must be positive; got {values!r}")


def memory_limit() -> int:
    """Bytes a command may plan to allocate: half the machine's physical memory."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def check_memory(estimate: float, what: str) -> None:
    """Refuse before allocating when ``estimate`` bytes exceed :func:`memory_limit`."""
    limit = memory_limit()
    if estimate > limit:
        raise MemoryError(
            f"{what} would need about {estimate / 2**30:,.1f} GiB, more than the "
            f"{limit / 2**30:,.1f} GiB (half of this machine's memory) allowed; use smaller sizes"
        )


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

    from anyconv._spec import check_int
    from anyconv.analysis import compare_algorithms
    from anyconv.functional.algorithms.auto import choose
    from anyconv.functional.conv import conv_spec
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
        name: getattr(args, name)
        for name in ("stride", "padding", "dilation", "groups", "padding_mode")
    }
    spec = conv_spec(x_shape, w_shape, **geometry, func="demo")
    check_memory(_demo_estimate(args, kernel, spec.out_shape), "this demo")
    torch.manual_seed(args.seed)
    x, w = torch.randn(x_shape), torch.randn(w_shape)
    table = _table(
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


# -- experiments (anyconv/experiments/) --------------------------------------------------


def _experiment_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="an experiment name, 'list' or 'all'")
    parser.add_argument("--quick", action="store_true", help="reduced run (under a minute each)")
    parser.add_argument(
        "--seeds", type=_int, help="number of training seeds (default: the experiment's)"
    )
    parser.add_argument("--seed", type=_int, default=0, help="first seed (default 0)")
    parser.add_argument(
        "--data", help="image data set spec, e.g. idx:DIR for MNIST (default: the experiment's)"
    )
    parser.add_argument(
        "--out", help="output folder (default runs/experiment-NAME; with 'all': one per name)"
    )
    parser.add_argument("--threads", type=_int, help="torch CPU threads (default: torch's choice)")


@command(
    "experiment",
    "test a claim of the theory: results.json, table.md and figures",
    _experiment_arguments,
    description="Test a claim of the theory on real data. 'list' names the experiments and "
    "their claims; 'all' runs every one.",
)
def _experiment(args: argparse.Namespace, console: Console) -> int:
    from pathlib import Path

    import torch

    from anyconv._spec import check_int
    from anyconv.experiments import get_experiment, list_experiments, run_experiment
    from anyconv.experiments.report import rich_table, verdict
    from anyconv.experiments.runner import progress_bar
    from anyconv.train.config import MAX_THREADS

    if args.name == "list":
        table = Table(title="experiments (anyconv experiment NAME [--quick])")
        table.add_column("name")
        table.add_column("claim")
        for name, claim in list_experiments().items():
            table.add_row(name, plain(claim))
        console.print(table)
        return 0
    names = list(list_experiments()) if args.name == "all" else [get_experiment(args.name).name]
    if args.threads is not None:
        check_int(args.threads, "--threads", "anyconv experiment", minimum=1, maximum=MAX_THREADS)
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


# -- the entry point ----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, one sub-parser per entry of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="anyconv",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the full traceback of an error",
    )
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, entry in COMMANDS.items():
        child = sub.add_parser(
            name,
            help=entry.help,
            description=entry.description or entry.help[:1].upper() + entry.help[1:] + ".",
            parents=[debug],
        )
        entry.arguments(child)
    return parser


def _message(error: BaseException) -> str:
    """One line for an expected error: an OS error names its file."""
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        return f"{error.filename}: {error.strerror}"
    return str(error) or type(error).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``anyconv`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit code.

    anyconv's own errors (``ValueError``, ``TypeError``), expected OS errors (missing or
    unreadable files) and a missing optional package end in one line on stderr and exit
    code 2; a diverged training in exit code 3. ``--debug`` shows the traceback instead.
    Under ``torchrun`` only rank 0 prints.
    """
    args = build_parser().parse_args(argv)
    console = Console(quiet=not _main_rank())
    errors = Console(stderr=True, quiet=not _main_rank())
    from anyconv.train.trainer import TrainingDiverged

    try:
        return COMMANDS[args.command].run(args, console)
    except TrainingDiverged as error:
        if args.debug:
            raise
        errors.print(Text(str(error), style="red"), soft_wrap=True)
        return EXIT_DIVERGED
    except (ValueError, TypeError, OSError, ImportError, MemoryError) as error:
        if args.debug:
            raise
        _error(errors, _message(error))
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        _error(errors, "interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
