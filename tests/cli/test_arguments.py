"""anyconv/cli/arguments.py: the argument types, one parser per kind of value."""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

import pytest

import anyconv.cli
from anyconv.cli import COMMANDS, build_parser, main
from anyconv.cli.arguments import padding, padding_for, padding_or_border, shifts
from anyconv.padding import PADDING_MODES, PADDING_RULES, padding_entries


@pytest.mark.parametrize(
    ("text", "want"),
    [
        *((rule, rule) for rule in PADDING_RULES),
        ("3", 3),
        ("causal,same", ("causal", "same")),
        ("1:2,same,0", ((1, 2), "same", 0)),
    ],
)
def test_padding_reads_every_form_conv_takes(text, want):
    assert padding(text) == want
    ndim = len(want) if isinstance(want, tuple) else 1
    assert len(padding_entries(want, ndim, "f")) == ndim  # the library takes it as it is


@pytest.mark.parametrize("text", ["samee", "1:2:3", "x:1", "same,", "circular"])
def test_padding_refuses_other_text_naming_the_forms(text):
    with pytest.raises(argparse.ArgumentTypeError, match="an int, a lo:hi pair, or one of"):
        padding(text)


def test_a_border_is_a_padding_only_where_asked():
    assert [padding_or_border(mode) for mode in PADDING_MODES] == list(PADDING_MODES)
    assert padding_or_border("1:0") == ((1, 0),)


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_a_lone_pair_pads_every_axis(ndim):
    """``--padding 2:0`` came to the library as (2, 0), two ints: in 2-D padding 2 on the
    first axis and none on the second, and refused in 1-D."""
    want = ((2, 0),) * ndim
    assert padding_entries(padding_for(padding("2:0"), ndim), ndim, "f") == want


def test_animate_with_a_lone_pair(tmp_path, capsys):
    out = tmp_path / "a.png"
    argv = ["animate", "--input", "5,5", "--padding", "2:0", "--frames", "--out", str(out)]
    assert main(argv) == 0
    assert "padding (lo, hi) = (2, 0), (2, 0)" in capsys.readouterr().out


def test_shifts():
    assert shifts("-2..1") == [-2, -1, 0, 1] and shifts("3") == [3]
    with pytest.raises(argparse.ArgumentTypeError, match=r"a range like -4\.\.4"):
        shifts("1..x")


@pytest.mark.parametrize("command", ["demo", "animate", "matrix"])
def test_every_padding_option_uses_the_one_parser(command):
    parser = build_parser()._subparsers._group_actions[0].choices[command]
    action = next(a for a in parser._actions if a.dest == "padding")
    assert action.type in (padding, padding_or_border)


def test_an_unknown_padding_is_a_one_line_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["animate", "--padding", "sme"])
    assert info.value.code == 2
    assert "argument --padding: expected valid, same" in capsys.readouterr().err


def test_commands_come_from_the_command_modules_only():
    """Each command module registers through ``@command``; none reaches into a private
    helper of a sibling (``from anyconv.cli.X import _name``)."""
    modules = {c.run.__module__ for c in COMMANDS.values()}
    assert modules == {f"anyconv.cli.{m}" for m in anyconv.cli.COMMAND_MODULES}
    for path in Path(anyconv.cli.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("anyconv.cli"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path.name} imports {private} from {node.module}"
