"""What every loader needs: its spec argument checked, labels checked, arrays turned into
:class:`~anyconv.data.base.Splits`.

Errors about files start with the file's path, then say what is wrong, so that a user
sees at once which of several files to fix. A path of the wrong kind (a folder where a
file belongs, or the reverse) raises an error that is both the ``OSError`` Python would
raise and a ``ValueError``, so that callers catching either see anyconv's own message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from anyconv._checks import fail
from anyconv.data.base import Dataset, Splits

# ``max label + 1`` may exceed the number of distinct labels (a subset of a larger label
# set), but not by this much: one stray label of 10**8 would otherwise make 10**8 classes.
MIN_LABEL_SPAN = 1024
LABEL_SPAN_FACTOR = 16


class IsAFolderError(IsADirectoryError, ValueError):
    """A folder was given where a file belongs."""


class NotAFolderError(NotADirectoryError, ValueError):
    """A file was given where a folder belongs."""


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
        raise NotAFolderError(f"{path}: is a file, expected a folder ({what})")
    return path


def need_file(path: Path, what: str) -> Path:
    """``path`` must be an existing file."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file ({what})")
    if path.is_dir():
        raise IsAFolderError(f"{path}: is a folder, expected a file ({what})")
    return path


def first_non_finite(x: np.ndarray | torch.Tensor) -> tuple[int, tuple[int, ...], float] | None:
    """The first sample (index along axis 0) holding NaN or infinity, the position of
    its first bad value within the sample, and that value; None when all are finite."""
    a = x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if a.dtype.kind not in "fc" or a.size == 0:
        return None
    flat = a.reshape(len(a), -1)
    # Chunked so that the boolean mask of a large array is never made at once.
    step = max(1, (1 << 24) // max(flat.shape[1], 1))
    for start in range(0, len(flat), step):
        bad = ~np.isfinite(flat[start : start + step])
        if bad.any():
            row, col = np.argwhere(bad)[0]
            position = np.unravel_index(col, a.shape[1:]) if a.ndim > 1 else ()
            return start + int(row), tuple(int(p) for p in position), float(flat[start + row, col])
    return None


def check_finite(x: np.ndarray | torch.Tensor, where: str, what: str | None = "sample") -> None:
    """NaN or infinity in ``x`` ``(N, ...)`` is an error naming ``where``, how many values
    are bad, and the first bad sample (``what`` names the samples; None when ``x`` is one
    sample, ``(1, ...)``).

    Example:
        >>> check_finite(np.array([[0.0, 1.0], [2.0, np.inf]]), "a.npz: x")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ValueError: a.npz: x: 1 value is NaN or infinite, the first in sample 1 at (1,) (inf); ...
    """
    found = first_non_finite(x)
    if found is not None:
        index, position, value = found
        a = x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
        count = int(a.size - np.count_nonzero(np.isfinite(a)))
        at = f" at {position}" if position else ""
        sample = f" in {what} {index}" if what else ""
        values = "value is" if count == 1 else "values are"
        raise ValueError(
            f"{where}: {count:,} {values} NaN or infinite, the first{sample}{at} "
            f"({value}); inputs must be finite numbers"
        )


def check_not_empty(n: int, part: str, where: str) -> None:
    """A split (``part``: "train" or "test") of ``n`` samples must hold at least one."""
    if n == 0:
        raise ValueError(
            f"{where}: the {part} split holds no samples; a dataset needs at least one "
            "training and one test sample"
        )


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
    if y.size and y.dtype.kind in "iu":  # before the cast, which would wrap 2**64-1 to -1
        low, high = int(y.min()), int(y.max())
        if low < 0:
            raise ValueError(f"{where}: labels must be >= 0, found {low}")
        if high >= 2**63:
            raise ValueError(f"{where}: label {high:,} does not fit in int64")
    elif y.size and y.min() < 0:
        raise ValueError(f"{where}: labels must be >= 0, found {float(y.min())!r}")
    if y.size and y.dtype.kind == "f" and y.max() >= 2**63:
        raise ValueError(f"{where}: label {float(y.max())!r} does not fit in int64")
    return y.astype(np.int64)


def check_label_span(ys: Sequence[tuple[str, np.ndarray]]) -> int:
    """The number of classes ``max label + 1`` of int64 label arrays, each given with
    where it comes from; refused when it is far beyond the number of distinct labels.

    Example:
        >>> check_label_span([("a", np.array([0, 3])), ("b", np.array([1]))])
        4
    """
    present = [(k, y) for k, y in ys if len(y)]
    if not present:
        return 0
    where, top = max(((k, int(y.max())) for k, y in present), key=lambda kv: kv[1])
    distinct = len(np.unique(np.concatenate([y for _, y in present])))
    allowed = max(MIN_LABEL_SPAN, LABEL_SPAN_FACTOR * distinct)
    if top + 1 > allowed:
        raise ValueError(
            f"{where}: label {top:,} would make {top + 1:,} classes, but there are only "
            f"{distinct:,} distinct labels; labels must be class indices 0..K-1 (at most "
            f"{allowed:,} classes here: renumber them, e.g. with np.unique(y, "
            "return_inverse=True))"
        )
    return top + 1


def to_splits(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    kind: str,
    name: str,
    class_names: Sequence[str] | None = None,
    where: Mapping[str, str] | None = None,
    labels_where: Mapping[str, str] | None = None,
    normalization: dict[str, Any] | None = None,
) -> Splits:
    """Wrap numpy arrays as float32 / int64 tensors; ``num_classes`` from the names if given,
    else the largest label + 1; ``normalization`` as :class:`Splits` documents.

    ``where`` names the source of each split's inputs (``{"train": ..., "test": ...}``,
    default the spec ``name``) and ``labels_where`` that of its labels (default
    ``where``), for the errors: a split with no samples, NaN or infinity in ``x`` (the
    first bad sample is named), a label far beyond the number of distinct labels.
    """
    where = {"train": name, "test": name, **(where or {})}
    labels_where = {**where, **(labels_where or {})}
    for part, x in (("train", x_train), ("test", x_test)):
        check_not_empty(len(x), part, where[part])
        check_finite(x, where[part])
    if class_names:
        num_classes = len(class_names)
    else:
        num_classes = check_label_span(
            [(labels_where["train"], y_train), (labels_where["test"], y_test)]
        )

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


def check_trainable(data: Dataset) -> None:
    """Refuse to train on ``data`` whose training split holds fewer than two classes: a
    classifier then reaches 100% by always giving the one answer, and learns nothing.

    Example:
        >>> x, y = torch.zeros(3, 1, 4), torch.zeros(3, dtype=torch.int64)
        >>> toy = Splits(x, y, x, y, num_classes=1, kind="sequence", name="toy")
        >>> check_trainable(toy)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ValueError: toy: the training split holds one class only ('0'); a classifier needs ...
    """
    present = torch.unique(data.labels("train"))
    if len(present) < 2:
        names = list(data.class_names)
        label = int(present[0]) if len(present) else None
        shown = names[label] if label is not None and label < len(names) else str(label)
        raise ValueError(
            f"{data.name}: the training split holds one class only ({shown!r}); a classifier "
            "needs at least two classes to learn anything (it would reach 100% by always "
            f"answering {shown!r})"
        )
