"""Default recipes: each README results row is its command with no flag but --data."""

import re
import shlex
from pathlib import Path

import pytest

from anyconv.cli import build_parser
from anyconv.cli.train import config_settings
from anyconv.train import TrainConfig
from anyconv.train.recipes import DATA_RECIPES, FALLBACK, RECIPE_KEYS, recipe

README = Path(__file__).parents[2] / "README.md"


def _results_commands():
    text = README.read_text()
    section = text.split("## Results", 1)[1].split("\n## ", 1)[0]
    table = "\n".join(line for line in section.splitlines() if line.startswith("|"))
    return re.findall(r"\| `(anyconv train[^`]*)` \|", table)


def test_readme_results_rows_use_no_flag_but_data():
    commands = _results_commands()
    assert len(commands) >= 4
    for command in commands:
        words = shlex.split(command)[2:]
        flags = [w for w in words if w.startswith("-")]
        assert flags in ([], ["--data"]), command


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], {"epochs": 50, "lr": 5e-3, "batch_size": 64, "augment": True}),
        (["lenet5", "--data", "idx:DIR"], {"epochs": 3, "lr": 3e-3, "batch_size": 64}),
        (["cnn1d", "--data", "mnist1d"], {"epochs": 30, "lr": 1e-2, "batch_size": 100}),
        (["c3d", "--data", "moving-digits"], {"epochs": 5}),
        (["lenet5", "--data", "npz:x.npz"], FALLBACK),
        (
            ["cnn1d", "--data", "mnist1d", "--epochs", "2", "--augment"],
            {"epochs": 2, "augment": True},
        ),
    ],
)
def test_the_command_line_takes_the_recipe_and_flags_win(argv, expected):
    args = build_parser().parse_args(["train", *argv])
    config = TrainConfig(**config_settings(args))
    for key, value in expected.items():
        assert getattr(config, key) == value, key


def test_every_recipe_sets_exactly_the_recipe_keys():
    for name, settings in DATA_RECIPES.items():
        assert set(settings) == set(RECIPE_KEYS), name
    assert recipe("lenet5", "no-such-data") == FALLBACK
