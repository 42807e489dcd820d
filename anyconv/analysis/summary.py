"""A layer table of a model: every layer's output shape, parameters, multiply-accumulates
and receptive field."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from anyconv._checks import fail
from anyconv.analysis.receptive import check_input_shape, field_of
from anyconv.analysis.trace import trace


def summary(model: torch.nn.Module, input_shape: Sequence[int]) -> list[dict[str, Any]]:
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
    return rows
