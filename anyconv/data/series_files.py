"""Time-series classification files of the UCR/UEA archives: ``.ts`` (sktime/aeon),
``.arff`` (Weka, univariate or relational multivariate) and ``.tsv`` / ``.txt`` (label,
then values).

Every reader returns a :class:`SeriesFile`: the series as float64 ``(N, C, L)`` with NaN
where a value is missing or a series is shorter than the longest, the labels as written,
and the class labels the file declares (if it does). Values are parsed by hand, with no
dependency: a non-numeric or infinite value, a row of the wrong shape, or a label the
header does not declare raises a ``ValueError`` naming the file, the line and the
position.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anyconv.data._common import class_name

MISSING = ("?", "nan", "NaN", "NAN", "")


@dataclass
class SeriesFile:
    """The contents of one file: ``x`` float64 ``(N, C, L)`` (NaN: missing or padding),
    ``labels`` (strings, as written), ``classes`` (the labels the header declares, or
    None)."""

    x: np.ndarray
    labels: list[str]
    classes: list[str] | None = None


def _text(path: Path) -> str:
    try:
        return path.read_text()
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not a text file ({e})") from None


def _value(field: str, where: str) -> float:
    field = field.strip()
    if field in MISSING:
        return math.nan
    try:
        value = float(field)
    except ValueError:
        raise ValueError(f"{where}: {field!r} is not a number") from None
    if math.isinf(value):
        raise ValueError(
            f"{where}: {field!r} is infinite; values must be finite numbers ('?' or NaN "
            "marks a missing value)"
        )
    return value


def _values(text: str, where: str) -> np.ndarray:
    """Comma-separated numbers, ``?``/NaN/empty as missing; fast path through numpy."""
    fields = text.split(",")
    try:
        a = np.array([f if f.strip() not in MISSING else "nan" for f in fields], np.float64)
    except ValueError:
        a = None
    if a is None or np.isinf(a).any():  # find and name the first bad field
        for i, f in enumerate(fields, 1):
            _value(f, f"{where}, value {i}")
    return a


def _pad(rows: list[np.ndarray]) -> np.ndarray:
    """``(C, L_i)`` arrays -> ``(N, C, max L)``, NaN-padded at the end."""
    length = max((r.shape[1] for r in rows), default=0)
    out = np.full((len(rows), rows[0].shape[0] if rows else 1, length), np.nan)
    for i, r in enumerate(rows):
        out[i, :, : r.shape[1]] = r
    return out


def read_ts(path: str | Path) -> SeriesFile:
    """A ``.ts`` file (the sktime/aeon format): ``@`` header lines, then after ``@data``
    one case per line, dimensions separated by ``:``, values by ``,``, the class label
    last. Unequal lengths (``@equalLength false``) are padded with NaN at the end.

    Example:
        >>> import tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     f = pathlib.Path(tmp) / "X_TRAIN.ts"
        ...     _ = f.write_text("@classLabel true a b\\n@data\\n1,2,3:4,5,6:b\\n7,?:8,9:a\\n")
        ...     s = read_ts(f)
        >>> s.x.shape, s.labels, s.classes, s.x[1, 0].tolist()
        ((2, 2, 3), ['b', 'a'], ['a', 'b'], [7.0, nan, nan])
    """
    path = Path(path)
    header: dict[str, str] = {}
    rows: list[np.ndarray] = []
    labels: list[str] = []
    in_data = False
    dims = None
    for number, raw in enumerate(_text(path).splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", "%")):
            continue
        where = f"{path}: line {number}"
        if not in_data:
            if not line.startswith("@"):
                raise ValueError(f"{where}: expected a @ header line or @data; got {line[:40]!r}")
            tag, _, value = line[1:].partition(" ")
            tag = tag.lower()
            if tag == "data":
                in_data = True
                _check_ts_header(header, path)
            else:
                header[tag] = value.strip()
            continue
        fields = line.split(":")
        if len(fields) < 2:
            raise ValueError(
                f"{where}: expected dimensions separated by ':' and the class label last"
            )
        label = fields[-1].strip()
        series = fields[:-1]
        if dims is None:
            dims = len(series)
            declared = header.get("dimensions") or header.get("dimension")
            if declared and declared.isdigit() and int(declared) != dims:
                raise ValueError(f"{where}: {dims} dimensions, but the header declares {declared}")
        elif len(series) != dims:
            raise ValueError(f"{where}: {len(series)} dimensions, but the first case has {dims}")
        values = [_values(s, f"{where}, dimension {d + 1}") for d, s in enumerate(series)]
        length = max(len(v) for v in values)
        case = np.full((dims, length), np.nan)
        for d, v in enumerate(values):
            case[d, : len(v)] = v
        rows.append(case)
        labels.append(label)
    if not in_data:
        raise ValueError(f"{path}: no @data line; is this a .ts file?")
    if not rows:
        raise ValueError(f"{path}: no series after @data (the file is empty)")
    classes = _declared(header.get("classlabel", ""), path)
    _check_labels(labels, classes, path)
    return SeriesFile(_pad(rows), labels, classes)


def _check_ts_header(header: dict[str, str], path: Path) -> None:
    if header.get("timestamps", "false").lower() == "true":
        raise ValueError(
            f"{path}: @timeStamps true is not supported; anyconv reads equally spaced "
            "series (values only)"
        )
    if header.get("targetlabel", "false").lower() == "true":
        raise ValueError(f"{path}: a regression problem (@targetLabel true); anyconv classifies")
    label = header.get("classlabel", "true").split()
    if label and label[0].lower() == "false":
        raise ValueError(f"{path}: @classLabel false: the file holds no class labels")


def _declared(value: str, path: Path) -> list[str] | None:
    parts = value.split()
    if not parts or parts[0].lower() != "true":
        return None
    return parts[1:] or None


def _check_labels(labels: list[str], classes: list[str] | None, path: Path) -> None:
    if classes is None:
        return
    known = set(classes)
    for i, label in enumerate(labels):
        if label not in known:
            raise ValueError(
                f"{path}: case {i + 1} has label {label!r}, which the header does not "
                f"declare ({', '.join(classes)})"
            )


_ATTRIBUTE = re.compile(r"@attribute\s+('[^']*'|\"[^\"]*\"|\S+)\s+(.*)", re.IGNORECASE)


def read_arff(path: str | Path) -> SeriesFile:
    """A Weka ``.arff`` file of the UCR/UEA archives: numeric attributes (one per time
    point) and a nominal class attribute last; or, multivariate, one relational
    attribute whose quoted values hold the dimensions separated by ``\\n``. ``?`` marks
    a missing value; sparse rows are not supported.

    Example:
        >>> import tempfile, pathlib
        >>> text = ("@relation r\\n@attribute t1 numeric\\n@attribute t2 numeric\\n"
        ...         "@attribute target {x,y}\\n@data\\n1,2,y\\n3,?,x\\n")
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     f = pathlib.Path(tmp) / "X_TRAIN.arff"
        ...     _ = f.write_text(text)
        ...     s = read_arff(f)
        >>> s.x.shape, s.labels, s.classes
        ((2, 1, 2), ['y', 'x'], ['x', 'y'])
    """
    path = Path(path)
    attributes: list[tuple[str, str]] = []
    nested = 0
    rows: list[np.ndarray] = []
    labels: list[str] = []
    in_data = False
    for number, raw in enumerate(_text(path).splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("%"):
            continue
        where = f"{path}: line {number}"
        if not in_data:
            lower = line.lower()
            if lower.startswith("@attribute"):
                match = _ATTRIBUTE.match(line)
                if match is None:
                    raise ValueError(f"{where}: malformed @attribute line")
                if nested == 0:
                    kind = match.group(2).strip()
                    attributes.append((match.group(1).strip("'\""), kind))
                    if kind.lower().startswith("relational"):
                        nested = 1
            elif lower.startswith("@end"):
                nested = 0
            elif lower.startswith("@data"):
                in_data = True
                relational, classes = _check_arff_header(attributes, path)
            continue
        if line.startswith("{"):
            raise ValueError(f"{where}: sparse ARFF rows are not supported")
        if relational:
            case, label = _relational_row(line, where)
        else:
            head, _, label = line.rpartition(",")
            values = _values(head, where)
            if len(values) != len(attributes) - 1:
                raise ValueError(
                    f"{where}: {len(values)} values, but the header declares "
                    f"{len(attributes) - 1} numeric attributes"
                )
            case = values[None]
        rows.append(case)
        labels.append(label.strip().strip("'\""))
    if not in_data:
        raise ValueError(f"{path}: no @data line; is this an ARFF file?")
    if not rows:
        raise ValueError(f"{path}: no series after @data (the file is empty)")
    if relational and len({r.shape[0] for r in rows}) > 1:
        raise ValueError(f"{path}: cases have different numbers of dimensions")
    _check_labels(labels, classes, path)
    return SeriesFile(_pad(rows), labels, classes)


def _check_arff_header(attributes: list[tuple[str, str]], path: Path) -> tuple[bool, list[str]]:
    if len(attributes) < 2:
        raise ValueError(f"{path}: needs attributes for the series and a class attribute last")
    name, kind = attributes[-1]
    if not kind.startswith("{"):
        raise ValueError(
            f"{path}: the last attribute {name!r} must be the nominal class ({{a,b,...}}); "
            f"got {kind!r}"
        )
    classes = [c.strip().strip("'\"") for c in kind.strip("{}").split(",") if c.strip()]
    body = attributes[:-1]
    relational = len(body) == 1 and body[0][1].lower().startswith("relational")
    if not relational:
        for n, k in body:
            if k.lower() not in ("numeric", "real", "integer"):
                raise ValueError(
                    f"{path}: attribute {n!r} is {k!r}; the series attributes must be "
                    "numeric (or one relational attribute)"
                )
    return relational, classes


def _relational_row(line: str, where: str) -> tuple[np.ndarray, str]:
    quote = line[0]
    if quote not in "'\"":
        raise ValueError(f"{where}: expected the quoted series first, then the label")
    end = line.find(quote, 1)
    if end < 0:
        raise ValueError(f"{where}: unterminated quote")
    label = line[end + 1 :].lstrip().lstrip(",")
    parts = line[1:end].split("\\n")
    values = [_values(p, f"{where}, dimension {d + 1}") for d, p in enumerate(parts)]
    length = max(len(v) for v in values)
    case = np.full((len(values), length), np.nan)
    for d, v in enumerate(values):
        case[d, : len(v)] = v
    return case, label


def read_table(path: str | Path) -> SeriesFile:
    """A ``.tsv``/``.txt`` file of the UCR archive: one series per line, the label first,
    then the values, separated by tabs (or commas, or spaces, as in the 2015 archive).
    Shorter series must be padded with NaN: a row of another length is an error.

    Example:
        >>> import tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     f = pathlib.Path(tmp) / "X_TRAIN.tsv"
        ...     _ = f.write_text("1\\t0.5\\t1.5\\n-1\\t2\\tNaN\\n")
        ...     s = read_table(f)
        >>> s.x.shape, s.labels
        ((2, 1, 2), ['1', '-1'])
    """
    path = Path(path)
    rows, labels, width = [], [], None
    for number, line in enumerate(_text(path).splitlines(), 1):
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
        labels.append(class_name(values[0]))  # "1", "1.0" and "1e0" are one class
        rows.append(values[1:])
    if not rows:
        raise ValueError(f"{path}: no series (the file is empty)")
    return SeriesFile(np.stack(rows)[:, None, :], labels)


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


READERS = {".ts": read_ts, ".arff": read_arff, ".tsv": read_table, ".txt": read_table}
"""Readers by file extension, in the order ``ucr:PREFIX`` looks for them."""
