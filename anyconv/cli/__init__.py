"""The ``anyconv`` command: parses arguments, then calls the library.

A package with one module per group of commands (:data:`COMMAND_MODULES`), each registering
its commands with :func:`~anyconv.cli.registry.command`; the argument types they share are
in :mod:`~anyconv.cli.arguments`, the printing in :mod:`~anyconv.cli.output`. Options are
derived from the library (``TrainConfig``'s fields and their help, the tuples of choices),
never written out a second time here. Errors are caught in one place, :func:`main`.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

from rich.console import Console
from rich.text import Text

from anyconv.cli.output import error_line, main_rank, print_error
from anyconv.cli.registry import COMMANDS, Command, command

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
  anyconv explore RUN_DIR            one web page: the trained network at work, layer by layer
  anyconv models | datasets          what can be trained, on what
  anyconv summary lenet5             shapes, parameters, MACs, receptive fields
  anyconv animate --input 5,5 --kernel 3 --stride 2 --padding same --out conv.gif
  anyconv experiment list            claims of the theory, tested on data
  anyconv demo --size 64,64          every convolution algorithm on one problem

Run 'anyconv COMMAND --help' for the options of a command."""

EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 3

COMMAND_MODULES = ("train", "listings", "analysis", "demo", "experiment", "explore")
"""The command modules of :mod:`anyconv.cli`, in the order ``anyconv --help`` lists their
commands. A new group of commands is one module here that registers with ``@command``."""

for _module in COMMAND_MODULES:
    importlib.import_module(f"{__name__}.{_module}")


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


def out_of_memory(error: BaseException) -> str | None:
    """One line for PyTorch's failure to allocate (a ``RuntimeError`` from its CPU
    allocator, or ``torch.OutOfMemoryError`` on a GPU), or ``None`` for any other error.

    Example:
        >>> out_of_memory(RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. "
        ...     "DefaultCPUAllocator: can't allocate memory: you tried to allocate "
        ...     "3277600000 bytes. Error code 12 (Cannot allocate memory)"))
        'out of memory: PyTorch could not allocate 3.1 GiB; use smaller sizes (or free memory)'
    """
    import re

    import torch

    text = str(error)
    if not isinstance(error, torch.OutOfMemoryError) and not (
        isinstance(error, RuntimeError)
        and ("can't allocate memory" in text or "not enough memory" in text)
    ):
        return None
    tried = re.search(r"allocate (\d+) bytes", text) or re.search(
        r"allocate ([\d.]+ [KMGT]iB)", text
    )
    size = ""
    if tried is not None:
        size = f" {int(tried[1]) / 2**30:.1f} GiB" if tried[1].isdigit() else f" {tried[1]}"
    return f"out of memory: PyTorch could not allocate{size}; use smaller sizes (or free memory)"


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``anyconv`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit code.

    anyconv's own errors (``ValueError``, ``TypeError``), expected OS errors (missing or
    unreadable files), a missing optional package and PyTorch's failure to allocate memory
    (:func:`out_of_memory`) end in one line on stderr and exit code 2; a diverged training
    in exit code 3. ``--debug`` shows the traceback instead. Under ``torchrun`` only rank 0
    prints.
    """
    args = build_parser().parse_args(argv)
    console = Console(quiet=not main_rank())
    errors = Console(stderr=True, quiet=not main_rank())
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
        print_error(errors, error_line(error))
        return EXIT_BAD_INPUT
    except RuntimeError as error:  # PyTorch's allocators fail with a RuntimeError
        message = out_of_memory(error)
        if args.debug or message is None:
            raise
        print_error(errors, message)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print_error(errors, "interrupted")
        return 130


__all__ = ["COMMANDS", "COMMAND_MODULES", "Command", "build_parser", "command", "main"]
