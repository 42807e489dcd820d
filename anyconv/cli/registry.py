"""The command table of ``anyconv``: every subcommand is registered with :func:`command`.

Each command module (:data:`anyconv.cli.COMMAND_MODULES`) registers its commands with the
decorator at import; :func:`anyconv.cli.build_parser` makes one sub-parser per entry of
:data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console

Run = Callable[[argparse.Namespace, Console], int]
Arguments = Callable[[argparse.ArgumentParser], None]


@dataclass(frozen=True)
class Command:
    """One subcommand.

    Attributes:
        help: one line for ``anyconv --help``.
        run: ``run(args, console) -> exit code``.
        arguments: ``arguments(parser)`` adds the command's options to its sub-parser.
        description: the text of ``anyconv NAME --help`` (default: ``help`` as a sentence).
    """

    help: str
    run: Run
    arguments: Arguments
    description: str | None = None


COMMANDS: dict[str, Command] = {}
"""Subcommands by name, in the order ``anyconv --help`` lists them."""


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    return None


def command(
    name: str, help: str, arguments: Arguments | None = None, description: str | None = None
) -> Callable[[Run], Run]:
    """Decorator: register ``run(args, console) -> exit code`` as ``anyconv NAME``.

    Example:
        >>> @command("doc-example", "print nothing")
        ... def _doc_example(args, console):
        ...     return 0
        >>> COMMANDS.pop("doc-example").help
        'print nothing'
    """

    def wrap(run: Run) -> Run:
        COMMANDS[name] = Command(help, run, arguments or _no_arguments, description)
        return run

    return wrap
