"""Time-series classification files of the UCR/UEA archives: ``.ts`` (sktime/aeon),
``.arff`` (Weka, univariate or relational multivariate) and ``.tsv`` / ``.txt`` (label,
then values).

Every reader returns a :class:`SeriesFile`: each case's series as float64 ``(C, L_i)``
with NaN where a value is missing, the labels as written, and the class labels the file
declares (if it does). Values are parsed by hand, with no dependency: a non-numeric or
infinite value, a row of the wrong shape, a length the header contradicts
(``@equalLength true``, ``@seriesLength``) or a label the header does not declare raises a
``ValueError`` naming the file, the line and the position. Files may start with a UTF-8
byte-order mark (as Windows editors write them). Numeric labels name one class however
they are written: ``1``, ``1.0`` and ``1e0`` are the class ``1``.
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
    """The contents of one file: ``cases``, one float64 ``(C, L_i)`` array per series (NaN:
    missing), ``labels`` (strings; numbers in one spelling, :func:`canonical_label`), ``classes``
    (the labels the header declares, or None)."""

    cases: list[np.ndarray]
    labels: list[str]
    classes: list[str] | None = None

    @property
    def channels(self) -> int:
        """C, the dimensions of every series."""
        return self.cases[0].shape[0] if self.cases else 1

    @property
    def length(self) -> int:
        """The length of the longest series."""
        return max((c.shape[1] for c in self.cases), default=0)

    @property
    def x(self) -> np.ndarray:
        """The series as float64 ``(N, C, L)``, NaN where missing or beyond a series' end."""
        out = np.full((len(self.cases), self.channels, self.length), np.nan)
        for i, case in enumerate(self.cases):
            out[i, :, : case.shape[1]] = case
        return out


def canonical_label(text: str) -> str:
    """A class label in one spelling: a finite number as :func:`class_name` writes it
    (``"1.0"``, ``"1e0"``, ``"01"`` -> ``"1"``), anything else stripped as it is.

    Example:
        >>> [canonical_label(t) for t in ("1.0", " -2 ", "0.50", "walking", "nan")]
        ['1', '-2', '0.5', 'walking', 'nan']
    """
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        return text
    return class_name(value) if math.isfinite(value) else text


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")  # a byte-order mark is no header
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


def read_ts(path: str | Path) -> SeriesFile:
    """A ``.ts`` file (the sktime/aeon format): ``@`` header lines, then after ``@data``
    one case per line, dimensions separated by ``:``, values by ``,``, the class label
    last. Series may have unequal lengths (``@equalLength false``); ``@equalLength true``
    and ``@seriesLength N`` are checked against every case.

    Example:
        >>> import tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     f = pathlib.Path(tmp) / "X_TRAIN.ts"
        ...     _ = f.write_text("@classLabel true a b\\n@data\\n1,2,3:4,5,6:b\\n7,?:8,9:a\\n")
        ...     s = read_ts(f)
        >>> s.x.shape, s.labels, s.classes, s.cases[1][0].tolist()
        ((2, 2, 3), ['b', 'a'], ['a', 'b'], [7.0, nan])
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
        labels.append(canonical_label(fields[-1]))
        _check_lengths(values, header, where, path, rows[0].shape[1])
    if not in_data:
        raise ValueError(f"{path}: no @data line; is this a .ts file?")
    if not rows:
        raise ValueError(f"{path}: no series after @data (the file is empty)")
    classes = _declared(header.get("classlabel", ""), path)
    _check_labels(labels, classes, path)
    return SeriesFile(rows, labels, classes)


def _check_lengths(
    values: list[np.ndarray], header: dict[str, str], where: str, path: Path, first: int
) -> None:
    """A case's dimensions against ``@equalLength true`` (one length for every dimension
    of every case, that of the first) and ``@seriesLength N``."""
    declared = header.get("serieslength", "")
    equal = header.get("equallength", "").lower() == "true"
    lengths = [len(v) for v in values]
    if declared.isdigit() and (equal or header.get("equallength") is None):
        bad = next((d for d, n in enumerate(lengths) if n != int(declared)), None)
        if bad is not None:
            raise ValueError(
                f"{where}, dimension {bad + 1}: {lengths[bad]:,} values, but the header "
                f"declares @seriesLength {declared}"
            )
    if equal:
        bad = next((d for d, n in enumerate(lengths) if n != first), None)
        if bad is not None:
            raise ValueError(
                f"{where}, dimension {bad + 1}: {lengths[bad]:,} values, but the header "
                f"declares @equalLength true and the first case has {first:,} (write "
                "@equalLength false for series of unequal lengths)"
            )


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
    return [canonical_label(p) for p in parts[1:]] or None


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
            head, label = _last_field(line, where)
            values = _values(head, where)
            if len(values) != len(attributes) - 1:
                raise ValueError(
                    f"{where}: {len(values)} values, but the header declares "
                    f"{len(attributes) - 1} numeric attributes"
                )
            case = values[None]
        rows.append(case)
        labels.append(canonical_label(_unquote(label)))
    if not in_data:
        raise ValueError(f"{path}: no @data line; is this an ARFF file?")
    if not rows:
        raise ValueError(f"{path}: no series after @data (the file is empty)")
    if relational and len({r.shape[0] for r in rows}) > 1:
        raise ValueError(f"{path}: cases have different numbers of dimensions")
    _check_labels(labels, classes, path)
    return SeriesFile(rows, labels, classes)


def _unquote(field: str) -> str:
    """An ARFF value without its quotes (``'a,b'`` -> ``a,b``)."""
    field = field.strip()
    if len(field) >= 2 and field[0] == field[-1] and field[0] in "'\"":
        return field[1:-1]
    return field


def _last_field(line: str, where: str) -> tuple[str, str]:
    """``line`` split before its last comma-separated field, which may be quoted and hold
    commas (``1,2,'a,b'``)."""
    if line[-1] in "'\"":
        start = line.rfind(line[-1], 0, len(line) - 1)
        if start < 0:
            raise ValueError(f"{where}: unterminated quote in the class label")
        head = line[:start].rstrip()
        if not head.endswith(","):
            raise ValueError(f"{where}: expected ',' before the quoted class label")
        return head[:-1], line[start:]
    head, _, last = line.rpartition(",")
    return head, last


def _nominal(kind: str) -> list[str]:
    """The values of a nominal attribute ``{a, 'b,c', "d"}``, quotes removed: a comma
    inside quotes belongs to the value."""
    values, field, quote = [], "", None
    for char in kind.strip()[1:-1] if kind.strip().endswith("}") else kind.strip()[1:]:
        if quote:
            field += char
            quote = None if char == quote else quote
        elif char in "'\"":
            field += char
            quote = char
        elif char == ",":
            values.append(field)
            field = ""
        else:
            field += char
    values.append(field)
    return [canonical_label(_unquote(v)) for v in values if v.strip()]


def _check_arff_header(attributes: list[tuple[str, str]], path: Path) -> tuple[bool, list[str]]:
    if len(attributes) < 2:
        raise ValueError(f"{path}: needs attributes for the series and a class attribute last")
    name, kind = attributes[-1]
    if not kind.startswith("{"):
        raise ValueError(
            f"{path}: the last attribute {name!r} must be the nominal class ({{a,b,...}}); "
            f"got {kind!r}"
        )
    classes = _nominal(kind)
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
    label = line[end + 1 :].lstrip().removeprefix(",")
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
        rows.append(values[1:][None])
    if not rows:
        raise ValueError(f"{path}: no series (the file is empty)")
    return SeriesFile(rows, labels)


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


READERS = {".ts": read_ts, ".arff": read_arff, ".tsv": read_table, ".txt": read_table}
"""Readers by file extension, in the order ``ucr:PREFIX`` looks for them."""
