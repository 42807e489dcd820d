"""The analysis subcommands of ``anyconv``: ``summary``, ``equivariance``, ``animate``,
``matrix``. Each parses, calls the library, prints or writes; :func:`register` adds them to
the main parser and returns their handlers."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from rich import box
from rich.console import Console
from rich.table import Table

Handler = Callable[[argparse.Namespace, Console], int]


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated ints, got {text!r}") from None


def _padding(text: str) -> Any:
    """``same``, ``3``, ``causal,same`` (one rule per axis) or ``1:2`` (a (lo, hi) pair)."""
    entries = []
    for part in text.split(","):
        if ":" in part:
            lo, hi = part.split(":")
            entries.append((int(lo), int(hi)))
        else:
            entries.append(int(part) if part.lstrip("-").isdigit() else part)
    return entries[0] if len(entries) == 1 else tuple(entries)


def _shifts(text: str) -> list[int]:
    """``-4..4`` (a range, both ends included) or ``0,1,2``."""
    try:
        if ".." in text:
            lo, hi = (int(v) for v in text.split(".."))
            return list(range(lo, hi + 1))
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a range like -4..4 or comma-separated ints, got {text!r}"
        ) from None


def load_target(
    target: str, input_shape: tuple[int, ...] | None, num_classes: int = 10
) -> tuple[torch.nn.Module, tuple[int, ...], str, dict[str, Any] | None]:
    """A registered model (built fresh) or a run folder (its trained model): the model, the
    input shape, a title and the run's config (``None`` for a fresh model)."""
    if Path(target).is_dir():
        from anyconv.train import load_run

        model, config = load_run(target)
        shape = tuple(config["input_shape"])
        if input_shape is not None and tuple(input_shape) != shape:
            raise ValueError(
                f"the run {target} was trained on inputs {shape}; got --input-shape "
                f"{tuple(input_shape)}"
            )
        return model, shape, f"{config['model']} trained on {config['data']}", config
    from anyconv.models import create_model, default_input_shape

    shape = tuple(input_shape or default_input_shape(target))
    model = create_model(
        target, in_channels=shape[0], num_classes=num_classes, input_size=tuple(shape[1:])
    )
    return model, shape, f"{target} (untrained)", None


def _axes(values: Any) -> str:
    return "x".join(f"{v:g}" for v in values)


def _field_json(field: Any) -> dict[str, Any] | None:
    if field is None:
        return None
    return {"size": field.size, "jump": field.jump, "start": field.start, "note": field.note}


def _summary(args: argparse.Namespace, console: Console) -> int:
    from anyconv.analysis import summary

    model, shape, title, _ = load_target(args.target, args.input_shape, args.num_classes)
    rows = summary(model, shape)
    if args.json:
        out = [
            {**r, "flops": 2 * r["macs"], "receptive_field": _field_json(r["receptive_field"])}
            for r in rows
        ]
        print(json.dumps({"model": title, "input_shape": shape, "rows": out}, indent=2))
        return 0
    table = Table(title=f"{title} on input {shape}", box=box.SIMPLE_HEAD)
    for column in ("layer", "type", "output", "params", "MACs", "RF", "jump"):
        table.add_column(
            column,
            justify="left" if column in ("layer", "type") else "right",
            no_wrap=column != "type",
        )
    for row in rows:
        field = row["receptive_field"]
        table.add_row(
            row["name"],
            row["type"],
            "" if row["output_shape"] is None else _axes(row["output_shape"]),
            f"{row['parameters']:,}",
            f"{row['macs']:,}",
            _axes(field.size) if field else "",
            _axes(field.jump) if field else "",
            style="bold" if row["name"] == "total" else None,
        )
    console.print(table)
    total = rows[-1]
    console.print(
        f"{total['parameters']:,} parameters; {total['macs']:,} MACs per sample = "
        f"{2 * total['macs']:,} FLOPs (1 MAC = 2 FLOPs; pooling, activations and "
        "normalisation count 0). output: channels x spatial size. RF: the receptive field "
        "of one output position, in input samples per axis; jump: input samples between "
        "neighbouring positions.",
        highlight=False,
    )
    notes = {f.note for r in rows if (f := r["receptive_field"]) is not None and f.note}
    for note in sorted(notes):
        console.print(f"note: {note}", highlight=False)
    return 0


def register(sub: Any) -> dict[str, Handler]:
    """Add the analysis subcommands to ``sub`` (an argparse subparsers object)."""
    summ = sub.add_parser(
        "summary",
        help="layer table of a model or trained run: shapes, parameters, MACs, receptive fields",
    )
    summ.add_argument("target", metavar="MODEL|RUN_DIR", help="a model name or a run folder")
    summ.add_argument("--input-shape", type=_ints, help="C,H,W of one sample (e.g. 1,28,28)")
    summ.add_argument("--num-classes", type=int, default=10)
    summ.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return {"summary": _summary}
