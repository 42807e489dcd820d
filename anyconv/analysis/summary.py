"""A layer table of a model: every leaf module's output shape and parameter count."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from anyconv._spec import fail, is_int


def summary(model: torch.nn.Module, input_shape: Sequence[int]) -> list[dict[str, Any]]:
    """Run one sample through ``model`` and describe each leaf module it calls, in order.

    Args:
        model: any ``torch.nn.Module``.
        input_shape: ``(C, *spatial)`` of one sample (a batch of one is run, in eval mode,
            without gradients; the model's training mode is restored afterwards).

    Returns:
        one dict per call of a leaf module: ``name``, ``type``, ``output_shape``
        (without the batch axis) and ``parameters`` (its own, counted once per module),
        followed by a ``"total"`` row with the model's parameter count.

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.Flatten())
        >>> [(r["name"], r["output_shape"], r["parameters"]) for r in summary(net, (1, 8, 8))]
        [('0', (4, 6, 6), 40), ('1', (144,), 0), ('total', None, 40)]
    """
    if not (isinstance(input_shape, Sequence) and all(map(is_int, input_shape))):
        raise fail(
            "summary", "input_shape", "a tuple (C, *spatial) of ints", input_shape, TypeError
        )
    rows: list[dict[str, Any]] = []
    seen: set[int] = set()
    names = {module: name for name, module in model.named_modules()}

    def hook(module: torch.nn.Module, _inputs: Any, output: Any) -> None:
        shape = tuple(output.shape[1:]) if isinstance(output, torch.Tensor) else None
        own = 0 if id(module) in seen else sum(p.numel() for p in module.parameters(recurse=False))
        seen.add(id(module))
        rows.append(
            {
                "name": names.get(module, "?"),
                "type": type(module).__name__,
                "output_shape": shape,
                "parameters": own,
            }
        )

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    training = model.training
    try:
        param = next(model.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        dtype = param.dtype if param is not None else torch.float32
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, *input_shape, device=device, dtype=dtype))
    finally:
        for h in handles:
            h.remove()
        model.train(training)
    total = sum(p.numel() for p in model.parameters())
    counted = sum(r["parameters"] for r in rows)
    if counted != total:  # parameters used outside leaf modules (e.g. a container's own)
        rows.append(
            {"name": "(other)", "type": "", "output_shape": None, "parameters": total - counted}
        )
    rows.append({"name": "total", "type": "", "output_shape": None, "parameters": total})
    return rows
