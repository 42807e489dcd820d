"""A layer table of a model: every layer's output shape, parameters, multiply-accumulates
and receptive field."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

import torch

from anyconv._checks import fail
from anyconv.analysis.receptive import axes_text, check_input_shape, field_of
from anyconv.analysis.trace import trace

COLUMNS = ("layer", "type", "output", "params", "MACs", "RF", "jump")
"""The table's columns: as ``anyconv summary`` prints them."""


class Summary(list):
    """The rows of :func:`summary`: a ``list`` of dicts, which prints as a table.

    Everything a list does works as before (``rows[0]["macs"]``, ``len``, iteration,
    ``==``); ``print(rows)`` and the REPL show :meth:`table`, and ``model`` and
    ``input_shape`` say what was summarised.
    """

    def __init__(self, rows: Sequence[dict[str, Any]], model: str, input_shape: tuple) -> None:
        super().__init__(rows)
        self.model, self.input_shape = model, input_shape

    def cells(self) -> list[list[str]]:
        """The table's cells, one list per row, as text: numbers whole, with thousands
        separators, never cut; fields to two decimals."""
        text = []
        for row in self:
            field = row["receptive_field"]
            shape = row["output_shape"]
            text.append(
                [
                    row["name"],
                    row["type"],
                    "" if shape is None else axes_text(shape),
                    f"{row['parameters']:,}",
                    f"{row['macs']:,}",
                    axes_text(field.size) if field is not None else "",
                    axes_text(field.jump) if field is not None else "",
                ]
            )
        return text

    def table(self) -> str:
        """A plain-text table in the manner of torchinfo: a title, one line per layer,
        the total, and what the columns mean. Columns are as wide as their longest cell,
        so nothing is ever elided, whatever the terminal's width."""
        cells = self.cells()
        widths = [max(len(c) for c in column) for column in zip(COLUMNS, *cells, strict=True)]
        left = {"layer", "type"}

        def line(values: Sequence[str]) -> str:
            parts = [
                v.ljust(w) if name in left else v.rjust(w)
                for name, v, w in zip(COLUMNS, values, widths, strict=True)
            ]
            return "  ".join(parts).rstrip()

        rule = "-" * len(line(["x" * w for w in widths]))
        body = [line(c) for c in cells[:-1]]
        total = self[-1]
        notes = sorted({f.note for r in self if (f := r["receptive_field"]) is not None and f.note})
        footer = [
            f"{total['parameters']:,} parameters; {total['macs']:,} MACs per sample = "
            f"{2 * total['macs']:,} FLOPs (1 MAC = 2 FLOPs; pooling, activations and "
            "normalisation count 0).",
            "output: channels x spatial size. RF: the receptive field of one output "
            "position, in input samples per axis; jump: input samples between "
            "neighbouring positions.",
            *(f"note: {n}" for n in notes),
        ]
        width = max(len(rule), 72)
        return "\n".join(
            [
                f"{self.model} on input {tuple(self.input_shape)}",
                rule,
                line(COLUMNS),
                rule,
                *body,
                rule,
                line(cells[-1]),
                rule,
                *(wrapped for text in footer for wrapped in textwrap.wrap(text, width)),
            ]
        )

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return self.table()


def summary(model: torch.nn.Module, input_shape: Sequence[int]) -> Summary:
    """Run one sample through ``model`` and describe each layer it calls, in order.

    MACs (multiply-accumulates) count the products of the call for that one sample:

    - convolution: output elements x ``C_in/groups`` x ``prod(kernel)`` (also locally
      connected, tiled, depthwise and Gabor layers; a separable layer counts its 1-D
      passes);
    - linear: output elements x ``in_features``; matrix products likewise;
    - pooling, activations, normalisation, dropout and reshapes: 0 (they do no
      multiply-accumulates; their few element operations are not counted);
    - bias additions are not counted.

    FLOPs are ``2 x MACs``. Functional calls in a container's own ``forward`` (e.g.
    ``F.conv2d``, ``x @ w``) are counted in a row for that container.

    Args:
        model: any ``torch.nn.Module``.
        input_shape: ``(C, *spatial)`` of one sample (a batch of one is run, in eval mode,
            without gradients; the model's training mode is restored afterwards).

    Returns:
        a :class:`Summary`, a list that prints as a table (``print(summary(...))``), of
        one dict per call of a layer (a leaf module, or one of anyconv's layers): ``name``,
        ``type``, ``output_shape`` (without the batch axis), ``parameters`` (its own,
        counted at its first call), ``macs`` and ``receptive_field`` (a
        :class:`~anyconv.analysis.ReceptiveField` of the output's positions, ``None`` where
        the output is not a spatial map or could not be followed); then a ``"total"`` row
        with the model's parameters and MACs and, in ``receptive_field``, the field of the
        last spatial map.

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.Flatten())
        >>> for r in summary(net, (1, 8, 8)):
        ...     print(r["name"], r["output_shape"], r["parameters"], r["macs"],
        ...           r["receptive_field"] and r["receptive_field"].size)
        0 (4, 6, 6) 40 1296 (3, 3)
        1 (144,) 0 0 None
        total None 40 1296 (3, 3)
        >>> print(summary(net, (1, 8, 8)))
        Sequential on input (1, 8, 8)
        ------------------------------------------------
        layer  type     output  params   MACs   RF  jump
        ------------------------------------------------
        0      Conv2d    4x6x6      40  1,296  3x3   1x1
        1      Flatten     144       0      0
        ------------------------------------------------
        total                       40  1,296  3x3   1x1
        ------------------------------------------------
        40 parameters; 1,296 MACs per sample = 2,592 FLOPs (1 MAC = 2 FLOPs;
        pooling, activations and normalisation count 0).
        output: channels x spatial size. RF: the receptive field of one output
        position, in input samples per axis; jump: input samples between
        neighbouring positions.
    """
    shape = check_input_shape(input_shape, "summary")
    if not isinstance(model, torch.nn.Module):
        raise fail("summary", "model", "a torch.nn.Module", type(model).__name__, TypeError)
    naxes = len(shape) - 1
    rows: list[dict[str, Any]] = []
    last_field = None
    for call in trace(model, shape, func="summary"):
        field = field_of(call.layout, naxes) if naxes else None
        if field is not None and call.name:
            last_field = field
        if not (call.leaf or call.macs):
            continue
        rows.append(
            {
                "name": call.name or "(model)",
                "type": type(call.module).__name__ + ("" if call.leaf else " (own forward)"),
                "output_shape": call.output_shape,
                "parameters": call.parameters if call.leaf else 0,
                "macs": call.macs,
                "receptive_field": field,
            }
        )
    total = sum(p.numel() for p in model.parameters())
    counted = sum(r["parameters"] for r in rows)
    if counted != total:  # parameters used outside leaf modules (e.g. a container's own)
        rows.append(
            {
                "name": "(other)",
                "type": "",
                "output_shape": None,
                "parameters": total - counted,
                "macs": 0,
                "receptive_field": None,
            }
        )
    rows.append(
        {
            "name": "total",
            "type": "",
            "output_shape": None,
            "parameters": total,
            "macs": sum(r["macs"] for r in rows),
            "receptive_field": last_field,
        }
    )
    return Summary(rows, type(model).__name__, shape)
