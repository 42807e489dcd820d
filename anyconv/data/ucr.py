"""``ucr:PREFIX``: a time-series classification dataset of the UCR/UEA archives.

``PREFIX_TRAIN.EXT`` and ``PREFIX_TEST.EXT`` in one of the archives' formats, found by
extension in this order: ``.ts`` (sktime/aeon; univariate, multivariate, unequal
lengths), ``.arff`` (Weka; univariate, or multivariate as one relational attribute),
``.tsv`` (the 2018 archive: the label, then the values, tab-separated) and ``.txt`` (the
2015 archive, comma- or space-separated). See :mod:`anyconv.data.series_files`.
``PREFIX`` may also be a folder ``.../NAME`` holding ``NAME_TRAIN.EXT`` and
``NAME_TEST.EXT``, as in the archives.

Labels are any strings or numbers (``-1/1``, ``1..K``, ``walking``...): their distinct
values across both files (and any the header declares) become classes 0..K-1, numbers
first in numerical order, then other labels alphabetically; the original labels are kept
as ``class_names``. A number is one class however it is written (``1``, ``1.0``, ``1e0``).

Each series is z-normalised on its own, channel by channel (mean 0, standard deviation 1
over its non-missing values; a constant series becomes zeros), as is usual for the
archive, whose few unnormalised datasets would otherwise dominate any comparison. Missing
values become 0 after z-normalising: the series' mean, which a convolution sees as a flat,
uninformative stretch. Series of unequal lengths (UEA's JapaneseVowels, UCR's PLAID)
follow the rule ``lengths`` (``--lengths``, recorded in the run's ``config.json`` with
the other data options, so ``evaluate`` and ``predict`` repeat it): ``"pad"`` (the
default) pads every series at the end to the longest of both splits, with 0 after
z-normalising as for a missing value; ``"truncate"`` cuts every series to the shortest of
both splits (its first values; z-normalised over what is kept). Series are z-normalised
one by one and written straight into the float32 array of the split, so loading takes
that array and no padded copy; when it would take more than a quarter of the memory
available (one series of 200,000 values pads a thousand short ones to 763 MiB), the file
is refused with the estimate before anything is allocated.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from anyconv._checks import choice
from anyconv.data._common import need_file, path_argument, to_splits
from anyconv.data.base import Splits, register_dataset
from anyconv.data.series_files import READERS, SeriesFile
from anyconv.functional.algorithms import memory

MEMORY_FRACTION = 0.25
"""The most of the memory available that a split's padded series may take."""
LENGTH_RULES = ("pad", "truncate")
"""What ``ucr:`` does with series of unequal lengths (the option ``lengths``)."""


def read_ucr(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """One univariate ``.tsv``/``.txt`` UCR file: values ``(N, L)`` float64 with NaN where
    missing, and labels ``(N,)`` float64 as written. A non-numeric or infinite value
    (``inf``, or ``1e999``, which overflows to it) or a row of another length raises a
    ``ValueError`` naming the file, the line and the column.

    Example:
        >>> import tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     f = pathlib.Path(tmp) / "X_TRAIN.tsv"
        ...     _ = f.write_text("1\\t0.5\\t1.5\\n-1\\t2\\tNaN\\n")
        ...     x, y = read_ucr(f)
        >>> x.shape, y.tolist()
        ((2, 2), [1.0, -1.0])
    """
    s = READERS[".tsv"](Path(path))
    return s.x[:, 0], np.array([float(v) for v in s.labels])


def znormalise(x: np.ndarray) -> np.ndarray:
    """Each series ``x[n, c]`` of ``(N, C, L)`` (or any ``(..., L)``) to mean 0 and
    standard deviation 1 over its non-NaN values (constant: zeros), then NaN to 0.

    Each series is first scaled by the power of two nearest above its largest magnitude
    (exactly: no value changes but for its exponent, and z-normalisation does not see the
    scale), so that series near the float64 limits (1e308, or subnormal 1e-320) are
    normalised like any other instead of overflowing to zeros.

    Example:
        >>> znormalise(np.array([[[1.0, 3.0, np.nan]]])).tolist()
        [[[-1.0, 1.0, 0.0]]]
        >>> znormalise(np.array([[[1e308, -1e308]]])).tolist()
        [[[1.0, -1.0]]]
    """
    x = np.asarray(x, np.float64)
    present = ~np.isnan(x)
    filled = np.where(present, x, 0.0)
    _, exponent = np.frexp(np.max(np.abs(filled), axis=-1, keepdims=True, initial=0.0))
    filled = np.ldexp(filled, -exponent)  # now in (-1, 1): no square can overflow
    count = np.maximum(np.sum(present, axis=-1, keepdims=True), 1)
    mean = np.sum(filled, axis=-1, keepdims=True) / count
    centred = np.where(present, filled - mean, 0.0)
    std = np.sqrt(np.sum(centred * centred, axis=-1, keepdims=True) / count)
    return np.where(std > 0, centred / np.where(std > 0, std, 1.0), 0.0)


def _find(prefix: Path) -> tuple[str, dict[str, Path]]:
    """The first extension for which both PREFIX_TRAIN and PREFIX_TEST exist."""
    for ext in READERS:
        paths = {part: prefix.with_name(f"{prefix.name}_{part}{ext}") for part in ("TRAIN", "TEST")}
        if all(p.exists() for p in paths.values()):
            return ext, paths
    for ext in READERS:  # one of the pair exists: name the missing one
        paths = {part: prefix.with_name(f"{prefix.name}_{part}{ext}") for part in ("TRAIN", "TEST")}
        for p in paths.values():
            if p.exists():
                other = next(q for q in paths.values() if q != p)
                need_file(other, f"ucr:PREFIX reads {p.name} with {other.name}")
    looked = ", ".join(f"{prefix.name}_TRAIN{ext}" for ext in READERS)
    raise FileNotFoundError(
        f"{prefix}_TRAIN.*: no such files; ucr:PREFIX reads PREFIX_TRAIN and PREFIX_TEST "
        f"as .ts, .arff, .tsv or .txt (looked for {looked} in {prefix.parent})"
    )


def _classes(files: list[SeriesFile]) -> list[str]:
    """The distinct labels (spelled one way by the readers): numbers first, by value, then
    the others alphabetically; the same order in every process."""
    names = {label for f in files for label in f.labels}
    for f in files:
        names |= set(f.classes or ())

    def key(name: str) -> tuple[int, float, str]:
        try:
            return 0, float(name), name
        except ValueError:
            return 1, 0.0, name

    return sorted(names, key=key)


def _padded(f: SeriesFile, length: int, path: Path) -> np.ndarray:
    """The z-normalised series of ``f`` as float32 ``(N, C, length)``, zero-padded at the
    end; refused with the estimate when that would take more than
    :data:`MEMORY_FRACTION` of the memory available."""
    shape = (len(f.cases), f.channels, length)
    nbytes = 4 * shape[0] * shape[1] * shape[2]
    free = memory.available_memory()
    if nbytes > MEMORY_FRACTION * free:
        shortest = min(c.shape[1] for c in f.cases)
        ragged = (
            f"its series have unequal lengths ({shortest:,} to {f.length:,} values) and are "
            if shortest < length
            else "its series are "
        )
        raise ValueError(
            f"{path}: {ragged}padded at the end to the longest, {length:,} values: "
            f"{shape[0]:,} x {shape[1]:,} x {length:,} float32 values would take "
            f"{memory.human_bytes(nbytes)}, more than {MEMORY_FRACTION:.0%} of the "
            f"{memory.human_bytes(free)} of memory available (training copies them)"
            + ("; --lengths truncate cuts them to the shortest" if shortest < length else "")
        )
    memory.check_allocation(nbytes, f"{path}: its series padded to {length:,} values")
    x = np.zeros(shape, np.float32)
    for i, case in enumerate(f.cases):
        case = case[:, :length]  # truncated: the first values
        x[i, :, : case.shape[1]] = znormalise(case)
    return x


@register_dataset(
    "ucr",
    "UCR/UEA time-series archive: PREFIX_TRAIN and PREFIX_TEST as .ts, .arff or .tsv "
    "(multivariate and unequal lengths in .ts/.arff)",
)
def load_ucr(argument: str | None, *, seed: int = 0, lengths: str = "pad") -> Splits:
    """``PREFIX_TRAIN.EXT`` / ``PREFIX_TEST.EXT`` (``ucr:PREFIX``, e.g.
    ``ucr:UCRArchive_2018/ECG200/ECG200``, or the folder ``ucr:UCRArchive_2018/ECG200``) as
    ``(N, C, L)`` float32 series, each channel z-normalised, missing values and padding 0;
    labels 0..K-1 for the sorted distinct original labels; series of unequal lengths
    padded to the longest or truncated to the shortest (``lengths``: ``"pad"`` or
    ``"truncate"``). ``seed`` is unused.

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
    choice(lengths, LENGTH_RULES, "lengths", "ucr")
    prefix = path_argument("ucr", argument, "PREFIX")
    if prefix.is_dir():  # the archive's own layout: NAME/NAME_TRAIN.tsv
        prefix = prefix / prefix.name
    ext, paths = _find(prefix)
    files = {}
    for part, path in paths.items():
        files[part] = READERS[ext](need_file(path, "ucr:PREFIX"))
    train, test = files["TRAIN"], files["TEST"]
    if train.channels != test.channels:
        raise ValueError(
            f"{paths['TEST']}: {test.channels} dimensions, but {paths['TRAIN']} has "
            f"{train.channels}"
        )
    length = max(train.length, test.length)
    if lengths == "truncate":
        length = min(c.shape[1] for f in (train, test) for c in f.cases)
    classes = _classes([train, test])
    index = {name: i for i, name in enumerate(classes)}
    out = []
    for part, f in (("TRAIN", train), ("TEST", test)):
        labels = np.array([index[label] for label in f.labels], np.int64)
        out += [_padded(f, length, paths[part]), labels]
    return to_splits(
        *out,
        kind="sequence",
        name=f"ucr:{argument}",
        class_names=classes,
        where={"train": str(paths["TRAIN"]), "test": str(paths["TEST"])},
        normalization={"per_sample": "znorm"},
    )
