"""Evaluation, prediction and the per-epoch metric files."""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from anyconv._checks import fail
from anyconv.data.base import Dataset, check_split
from anyconv.train.checkpoint import atomic_write

CSV_COLUMNS = (
    "epoch",
    "loss",
    "accuracy",
    "val_loss",
    "val_accuracy",
    "test_loss",
    "test_accuracy",
    "lr",
    "seconds",
    "eval_seconds",
)


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """Mixed precision in ``dtype`` on ``device``, or nothing when ``dtype`` is None."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def _model_device(model: torch.nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def evaluation_sums(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    num_classes: int,
    batch_size: int,
    device: torch.device,
    amp_dtype: torch.dtype | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed loss, correct count, sample count ``(3,)`` float64 and the confusion matrix
    ``(K, K)`` int64 on ``device``: sums, so processes holding shards can all-reduce them."""
    batches = (
        (x[start : start + batch_size], y[start : start + batch_size])
        for start in range(0, len(x), batch_size)
    )
    return batch_sums(model, batches, num_classes, device, amp_dtype)


@torch.no_grad()
def batch_sums(
    model: torch.nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    num_classes: int,
    device: torch.device,
    amp_dtype: torch.dtype | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`evaluation_sums` over ``(x, y)`` batches from any source (a streamed
    dataset's ``batches``)."""
    sums = torch.zeros(3, dtype=torch.float64, device=device)
    confusion = torch.zeros(num_classes * num_classes, dtype=torch.int64, device=device)
    was_training = model.training
    model.eval()
    try:
        for xb, yb in batches:
            xb = xb.to(device, non_blocking=True)
            yb = yb.to(device, non_blocking=True)
            with autocast(device, amp_dtype):
                logits = model(xb)
            logits = logits.float()
            pred = logits.argmax(1)
            sums[0] += F.cross_entropy(logits, yb, reduction="sum").double()
            sums[1] += (pred == yb).sum()
            sums[2] += len(yb)
            confusion += torch.bincount(yb * num_classes + pred, minlength=num_classes**2)
    finally:
        model.train(was_training)
    return sums, confusion.view(num_classes, num_classes)


def evaluate(
    model: torch.nn.Module,
    data: Any,
    batch_size: int = 1024,
    device: str | torch.device | None = None,
    split: str = "test",
) -> dict[str, Any]:
    """Loss, accuracy and confusion matrix of ``model`` on a split.

    Args:
        model: maps ``(N, C, *spatial)`` to logits ``(N, K)``.
        data: a :class:`~anyconv.data.Dataset` (``split`` picks ``"test"`` or
            ``"train"``; samples it reads through ``batches`` get its test-time transform)
            or a pair ``(x, y)`` with ``x (N, C, *spatial)``, ``y (N,)`` int64.
        batch_size: samples per forward pass.
        device: where to compute; default: where the model's parameters are.

    Returns:
        ``{"loss": float, "accuracy": float in [0, 1], "samples": int,
        "confusion": int64 tensor (K, K)}`` with rows the true and columns the predicted class.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
        >>> out = evaluate(model, (torch.randn(10, 1, 2, 2), torch.randint(0, 3, (10,))))
        >>> out["confusion"].shape, out["samples"]
        (torch.Size([3, 3]), 10)
    """
    device = torch.device(device) if device is not None else _model_device(model)
    model.to(device)
    if isinstance(data, Dataset):
        check_split(split, "evaluate")
        held = data.tensors(split)
        if held is None:  # read with the test-time transform
            labels = data.labels(split)
            batches = data.batches(split, torch.arange(len(labels)), batch_size)
            return summarize(*batch_sums(model, batches, data.num_classes, device))
        (x, y), num_classes = held, data.num_classes
    elif isinstance(data, tuple | list) and len(data) == 2:
        (x, y), num_classes = data, None
    else:
        raise fail("evaluate", "data", "a Dataset or an (x, y) pair of tensors", data, TypeError)
    if num_classes is None:
        with torch.no_grad():
            was_training = model.training
            num_classes = model.eval()(x[:1].to(device)).shape[1]
            model.train(was_training)
    sums, confusion = evaluation_sums(model, x, y, int(num_classes), batch_size, device)
    return summarize(sums, confusion)


def summarize(sums: torch.Tensor, confusion: torch.Tensor) -> dict[str, Any]:
    """Turn :func:`evaluation_sums` output into the dict :func:`evaluate` returns."""
    loss, correct, n = sums.tolist()
    n = max(n, 1.0)
    return {
        "loss": loss / n,
        "accuracy": correct / n,
        "samples": int(n),
        "confusion": confusion.cpu(),
    }


@torch.no_grad()
def predict(
    model: torch.nn.Module,
    x: torch.Tensor,
    batch_size: int = 1024,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """Class probabilities ``(N, K)`` (softmax of the logits) for inputs ``(N, C, *spatial)``.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
        >>> p = predict(model, torch.randn(5, 1, 2, 2))
        >>> p.shape, bool(torch.allclose(p.sum(1), torch.ones(5)))
        (torch.Size([5, 3]), True)
    """
    if not isinstance(x, torch.Tensor) or x.ndim < 2:
        raise fail("predict", "x", "a tensor (N, C, *spatial)", x, TypeError)
    device = torch.device(device) if device is not None else _model_device(model)
    was_training = model.training
    model.eval()
    try:
        out = [
            F.softmax(model(x[i : i + batch_size].to(device)).float(), dim=1).cpu()
            for i in range(0, len(x), batch_size)
        ]
    finally:
        model.train(was_training)
    return torch.cat(out)


def write_csv(path: str | Path, history: Sequence[dict[str, Any]]) -> Path:
    """Atomically write one row per epoch with :data:`CSV_COLUMNS`."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(history)
    data = buffer.getvalue().encode()
    return atomic_write(path, lambda f: f.write(data))
