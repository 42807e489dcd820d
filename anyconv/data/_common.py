"""What every loader needs: its spec argument checked, labels checked, arrays turned into
:class:`~anyconv.data.base.Splits`.

Errors about files start with the file's path, then say what is wrong, so that a user
sees at once which of several files to fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from anyconv._spec import fail
from anyconv.data.base import Splits


def no_argument(name: str, argument: str | None) -> None:
    """``name`` takes no ``:ARG``; fail if one was given."""
    if argument is not None:
        raise fail(
            "load_dataset",
            "spec",
            f"'{name}' alone ('{name}' takes no ':ARG')",
            f"{name}:{argument}",
        )


def path_argument(name: str, argument: str | None, what: str) -> Path:
    """The path in ``name:PATH`` (``~`` expanded); fail if it is missing."""
    if not argument:
        raise fail("load_dataset", "spec", f"'{name}:{what}'", name)
    return Path(argument).expanduser()


def need_dir(path: Path, what: str) -> Path:
    """``path`` must be an existing folder."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such folder ({what})")
    if not path.is_dir():
        raise NotADirectoryError(f"{path}: is not a folder ({what})")
    return path


def need_file(path: Path, what: str) -> Path:
    """``path`` must be an existing file."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file ({what})")
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder, expected a file ({what})")
    return path


def check_labels(y: np.ndarray, where: str) -> np.ndarray:
    """Labels as int64 ``(N,)``: integers (or whole floats) ``>= 0``."""
    y = np.asarray(y)
    if y.ndim != 1:
        hint = " (one-hot? use y.argmax(1))" if y.ndim == 2 else ""
        raise ValueError(f"{where}: labels must be 1-D (N,), got shape {y.shape}{hint}")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            bad = y[~(np.isfinite(y) & (y == np.round(y)))][0]
            raise ValueError(f"{where}: labels must be whole numbers, found {float(bad)!r}")
    elif y.dtype.kind not in "iub":
        raise ValueError(f"{where}: labels must be integers, got dtype {y.dtype}")
    y = y.astype(np.int64)
    if y.size and y.min() < 0:
        raise ValueError(f"{where}: labels must be >= 0, found {int(y.min())}")
    return y


def to_splits(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    kind: str,
    name: str,
    class_names: Sequence[str] | None = None,
    normalization: dict[str, Any] | None = None,
) -> Splits:
    """Wrap numpy arrays as float32 / int64 tensors; ``num_classes`` from the names if given,
    else the largest label + 1; ``normalization`` as :class:`Splits` documents."""
    ys = [y for y in (y_train, y_test) if len(y)]
    num_classes = len(class_names) if class_names else max(int(y.max()) for y in ys) + 1

    def tensor(a: np.ndarray, dtype: type) -> torch.Tensor:
        a = np.ascontiguousarray(a, dtype=dtype)
        return torch.from_numpy(a if a.flags.writeable else a.copy())

    return Splits(
        tensor(x_train, np.float32),
        tensor(y_train, np.int64),
        tensor(x_test, np.float32),
        tensor(y_test, np.int64),
        num_classes=num_classes,
        kind=kind,
        name=name,
        class_names=list(class_names or []),
        normalization=dict(normalization or {}),
    )


def class_name(value: float) -> str:
    """``1.0 -> '1'``, ``-1.0 -> '-1'``, ``0.5 -> '0.5'``."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))
