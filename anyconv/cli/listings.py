"""``anyconv models``, ``datasets`` and ``algorithms``: what there is, one table each."""

from __future__ import annotations

import argparse
import inspect
import re

from rich.console import Console

from anyconv.cli.output import plain, titled_table
from anyconv.cli.registry import command


@command("models", "list the models, their inputs, options and recipes")
def _models(args: argparse.Namespace, console: Console) -> int:
    from anyconv.models import list_models
    from anyconv.models.options import model_options
    from anyconv.train.recipes import MODEL_RECIPES, describe

    table = titled_table(
        "models (anyconv train MODEL)", ("name", "options (defaults)", "description")
    )
    for name, text in list_models().items():
        options = ", ".join(f"{k}={v!r}" for k, v in model_options(name).items())
        for data, settings in MODEL_RECIPES.get(name, {}).items():
            on = "" if data == "*" else f" on {dataset_spec_form(data)} data"
            text += f" (recipe{on}: {describe(settings)})"
        table.add_row(plain(name), plain(options or "-"), plain(text))
    table.show(console)
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

    table = titled_table("datasets (anyconv train --data SPEC)", ("spec", "description", "recipe"))
    for name, text in list_datasets().items():
        settings = DATA_RECIPES.get(name)
        table.add_row(
            plain(dataset_spec_form(name)),
            plain(text),
            plain(describe(settings) if settings else "fallback"),
        )
    table.show(console)
    console.print(plain(f"fallback recipe: {describe(FALLBACK)}; any flag overrides a recipe"))
    return 0


def _algorithm_line(name: str) -> str:
    from anyconv.functional.algorithms.registry import ALGORITHMS

    return ALGORITHMS[name].summary.replace("``", "")


@command("algorithms", "list the convolution algorithms, one line each")
def _algorithms(args: argparse.Namespace, console: Console) -> int:
    from anyconv.functional.algorithms import list_algorithms

    table = titled_table("convolution algorithms (algorithm=NAME)", ("name", "what it does"))
    for name in list_algorithms():
        table.add_row(plain(name), plain(_algorithm_line(name)))
    table.show(console)
    return 0
