"""Inputs of a trained model: what the run records about its training inputs, and how files
given to ``predict`` are brought to the same scale and checked against it.

A run's ``config.json`` holds ``input``: the loader's ``normalization`` (see
:class:`~anyconv.data.base.Splits`) and the range, mean and spread of the training inputs
as the model saw them. ``.npy`` arrays are taken as *raw* values, in the units of the data
set's own files (grey levels 0..16 for ``digits``, bytes 0..255 for MNIST), and get the
loader's whole normalisation; images are read as pixel / maximum, in [0, 1], like the
image loaders, and get only its per-channel mean and spread.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

FAR_OFF = 0.5
"""Inputs reaching further than this fraction of the training range beyond it, or spanning
less than :data:`NARROW` of it, are reported as far off."""
NARROW = 0.1


def input_record(x: torch.Tensor, normalization: dict[str, Any]) -> dict[str, Any]:
    """What ``config.json``'s ``input`` holds for training inputs ``x (N, C, *spatial)``.

    Example:
        >>> r = input_record(torch.tensor([[[0.0, 1.0]], [[0.5, 0.5]]]), {"divide": 16.0})
        >>> r["min"], r["max"], r["normalization"]
        (0.0, 1.0, {'divide': 16.0})
    """
    record: dict[str, Any] = {"normalization": dict(normalization)}
    if x.numel():
        dims = [0, *range(2, x.ndim)]
        std, mean = torch.std_mean(x.float(), dim=dims, correction=0)
        record.update(min=float(x.min()), max=float(x.max()), mean=mean.tolist(), std=std.tolist())
    return record


def normalize(x: torch.Tensor, normalization: dict[str, Any], raw: bool = True) -> torch.Tensor:
    """Apply a loader's normalisation to inputs ``x (N, C, *spatial)``: per-sample
    z-normalisation and the divisor when ``raw``, then per-channel mean and spread.

    Example:
        >>> normalize(torch.tensor([[[0.0, 8.0, 16.0]]]), {"divide": 16.0})
        tensor([[[0.0000, 0.5000, 1.0000]]])
    """
    x = x.float()
    if raw and normalization.get("per_sample") == "znorm":
        from anyconv.data.ucr import znormalise

        flat = x.reshape(x.shape[0], x.shape[1], -1).double().numpy()
        x = torch.from_numpy(znormalise(flat).astype(np.float32)).view(x.shape)
    if raw and normalization.get("divide"):
        x = x / float(normalization["divide"])
    if "mean" in normalization and "std" in normalization:
        shape = (1, -1) + (1,) * (x.ndim - 2)
        mean = torch.tensor(normalization["mean"], dtype=x.dtype).view(shape)
        std = torch.tensor(normalization["std"], dtype=x.dtype).view(shape)
        x = (x - mean) / std
    return x


def range_warning(x: torch.Tensor, record: dict[str, Any], source: str) -> str | None:
    """A sentence when ``x`` lies far from the training inputs' range, else ``None``.

    Example:
        >>> record = {"min": 0.0, "max": 1.0, "normalization": {"divide": 16.0}}
        >>> range_warning(torch.tensor([0.0, 0.9]), record, "a.npy") is None
        True
        >>> range_warning(torch.tensor([0.0, 15.0]), record, "a.npy")[:40]
        'a.npy: values span [0, 15] after the run'
    """
    if "min" not in record or "max" not in record or not x.numel():
        return None
    lo, hi = float(record["min"]), float(record["max"])
    a, b = float(x.min()), float(x.max())
    span = max(hi - lo, 1e-12)
    far = a < lo - FAR_OFF * span or b > hi + FAR_OFF * span
    narrow = (b - a) < NARROW * span
    if not (far or narrow):
        return None
    divide = record.get("normalization", {}).get("divide")
    units = (
        f" Arrays must hold raw values as in the data set's files (0..{divide:g} here);"
        if divide
        else " Arrays must hold values as in the data set's files;"
    )
    return (
        f"{source}: values span [{a:.3g}, {b:.3g}] after the run's input normalisation, "
        f"but the training inputs spanned [{lo:.3g}, {hi:.3g}]: predictions may be "
        f"meaningless.{units} pass --scaled for arrays already scaled like the model's "
        "inputs."
    )


def top_k(probs: torch.Tensor, class_names: Sequence[str], k: int) -> list[list[tuple[str, float]]]:
    """The ``k`` most probable classes of each row of ``probs (N, K)``, as (name, p).

    Example:
        >>> top_k(torch.tensor([[0.1, 0.7, 0.2]]), ["a", "b", "c"], 2)
        [[('b', 0.699999988079071), ('c', 0.20000000298023224)]]
    """
    k = max(1, min(k, probs.shape[1]))
    values, indices = probs.topk(k, dim=1)
    names = list(class_names)
    return [
        [(names[i] if i < len(names) else str(i), float(v)) for v, i in zip(vs, ix, strict=True)]
        for vs, ix in zip(values.tolist(), indices.tolist(), strict=True)
    ]


def read_inputs(
    path: str | Path, config: dict[str, Any], scaled: bool = False
) -> tuple[torch.Tensor, str | None]:
    """One file (image or ``.npy``) as model inputs ``(N, *input_shape)`` normalised as the
    run's training inputs were, and a warning when their range is far off (or ``None``).

    ``scaled``: the arrays already hold model inputs; only images are normalised.
    """
    from anyconv.data.files import load_inputs

    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(
            f"{path}: is a folder; give image or .npy files, e.g. {path / '*.png'}"
        )
    record = config.get("input", {})
    normalization = record.get("normalization", {})
    x = load_inputs([path], config["input_shape"], config.get("data_options"))
    raw = path.suffix.lower() == ".npy" and not scaled
    x = normalize(x, normalization, raw=raw)
    if not torch.isfinite(x).all():
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{path}: {bad:,} values are NaN or infinite")
    return x, range_warning(x, record, str(path))


def describe_change(old: dict[str, Any], new: dict[str, Any]) -> str:
    """What differs between two fingerprints, in words.

    Example:
        >>> describe_change({"train": 5, "digest": "a"}, {"train": 6, "digest": "b"})
        'train 5, now 6; contents differ'
    """
    parts = [
        f"{key} {old.get(key)!r}, now {new.get(key)!r}"
        for key in sorted(set(old) | set(new))
        if key != "digest" and old.get(key) != new.get(key)
    ]
    if old.get("digest") != new.get("digest"):
        parts.append("contents differ")
    return "; ".join(parts) or "fingerprints differ"
