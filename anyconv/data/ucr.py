"""``ucr:PREFIX``: a dataset in the UCR time-series archive layout (Dau et al. 2018).

``PREFIX_TRAIN.tsv`` and ``PREFIX_TEST.tsv`` hold one series per line: the class label,
then the values, separated by tabs (commas, as in the 2015 archive, also work). Blank lines
are skipped. ``PREFIX`` may also be a folder ``.../NAME`` holding ``NAME_TRAIN.tsv`` and
``NAME_TEST.tsv``, as in the archive. Labels are any numbers (``-1/1``, ``1..K``, ...):
their sorted distinct values across both files become classes 0..K-1, and the original
labels are kept as ``class_names``.

Each series is z-normalised on its own (mean 0, standard deviation 1 over its non-missing
values; a constant series becomes zeros), as is usual for the archive, whose few
unnormalised datasets would otherwise dominate any comparison. Variable-length datasets
pad series with NaN: after z-normalising, NaN becomes 0, the series' mean, which a
convolution sees as a flat, uninformative stretch. If the two files have different
lengths, the shorter is padded the same way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from anyconv.data._common import class_name, need_file, path_argument, to_splits
from anyconv.data.base import Splits, register_dataset


def read_ucr(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """One UCR file: values ``(N, L)`` float64 with NaN where missing, and labels ``(N,)``
    float64 as written. A non-numeric or infinite value (``inf``, or ``1e999``, which
    overflows to it) or a row of another length raises a ``ValueError`` naming the file,
    the line and the column.

    Example:
        >>> import tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     f = pathlib.Path(tmp) / "X_TRAIN.tsv"
        ...     _ = f.write_text("1\\t0.5\\t1.5\\n-1\\t2\\tNaN\\n")
        ...     x, y = read_ucr(f)
        >>> x.shape, y.tolist()
        ((2, 2), [1.0, -1.0])
    """
    path = Path(path)
    try:
        text = path.read_text()
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not a text file ({e})") from None
    rows, labels, width = [], [], None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        sep = "\t" if "\t" in line else "," if "," in line else None
        fields = [f.strip() for f in line.strip().split(sep)]
        try:
            values = np.array(fields, dtype=np.float64)
        except ValueError:
            column, bad = next((i, f) for i, f in enumerate(fields, 1) if not _is_number(f))
            raise ValueError(
                f"{path}: line {number}, column {column}: {bad!r} is not a number"
            ) from None
        if len(values) < 2:
            raise ValueError(
                f"{path}: line {number}: a label and no values (expected "
                "'label<TAB>value<TAB>value...')"
            )
        if width is None:
            width = len(values)
        elif len(values) != width:
            raise ValueError(
                f"{path}: line {number} has {len(values) - 1} values, but the "
                f"first line has {width - 1}; pad shorter series with NaN"
            )
        if not np.isfinite(values[0]):
            raise ValueError(
                f"{path}: line {number}, column 1: label {fields[0]!r} is not a finite number"
            )
        infinite = np.isinf(values[1:])
        if infinite.any():
            column = int(np.argmax(infinite)) + 2
            raise ValueError(
                f"{path}: line {number}, column {column}: {fields[column - 1]!r} is infinite; "
                "values must be finite numbers (NaN marks a missing value)"
            )
        labels.append(values[0])
        rows.append(values[1:])
    if not rows:
        raise ValueError(f"{path}: no series (the file is empty)")
    return np.stack(rows), np.array(labels)


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def _normalise(x: np.ndarray) -> np.ndarray:
    count = np.sum(~np.isnan(x), axis=1, keepdims=True)
    safe = np.maximum(count, 1)
    mean = np.nansum(x, axis=1, keepdims=True) / safe
    centred = x - mean
    std = np.sqrt(np.nansum(centred**2, axis=1, keepdims=True) / safe)
    z = np.where(std > 0, centred / np.where(std > 0, std, 1), 0.0)
    return np.nan_to_num(z, nan=0.0)


@register_dataset(
    "ucr",
    "UCR time-series archive layout: PREFIX_TRAIN.tsv and "
    "PREFIX_TEST.tsv, label in the first column",
)
def load_ucr(argument: str | None, *, seed: int = 0) -> Splits:
    """``PREFIX_TRAIN.tsv`` / ``PREFIX_TEST.tsv`` (``ucr:PREFIX``, e.g.
    ``ucr:UCRArchive_2018/ECG200/ECG200``, or the folder ``ucr:UCRArchive_2018/ECG200``) as
    ``(N, 1, L)`` float32 series, each z-normalised, missing values 0; labels 0..K-1 for the
    sorted distinct original labels. ``seed`` is unused.

    Example:
        >>> import tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     for part in ("TRAIN", "TEST"):
        ...         f = pathlib.Path(tmp) / f"E_{part}.tsv"
        ...         _ = f.write_text("1\\t0\\t2\\n-1\\t3\\t1\\n")
        ...     d = load_ucr(f"{tmp}/E")
        >>> tuple(d.x_train.shape), d.y_train.tolist(), d.class_names
        ((2, 1, 2), [1, 0], ['-1', '1'])
    """
    prefix = path_argument("ucr", argument, "PREFIX")
    if prefix.is_dir():  # the archive's own layout: NAME/NAME_TRAIN.tsv
        prefix = prefix / prefix.name
    parts = {}
    for part in ("TRAIN", "TEST"):
        f = need_file(
            prefix.with_name(f"{prefix.name}_{part}.tsv"),
            "ucr:PREFIX reads PREFIX_TRAIN.tsv and PREFIX_TEST.tsv",
        )
        parts[part] = read_ucr(f)
    length = max(x.shape[1] for x, _ in parts.values())
    classes = np.unique(np.concatenate([y for _, y in parts.values()]))
    out = []
    for x, y in parts.values():
        x = np.pad(x, ((0, 0), (0, length - x.shape[1])), constant_values=np.nan)
        out += [_normalise(x)[:, None, :], np.searchsorted(classes, y)]
    return to_splits(
        *out, kind="sequence", name=f"ucr:{argument}", class_names=[class_name(c) for c in classes]
    )
