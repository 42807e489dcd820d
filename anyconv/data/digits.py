"""``digits``: scikit-learn's bundled 8x8 handwritten digits, the default dataset.

1797 images of 8x8 pixels with 17 grey levels (0..16), shipped inside scikit-learn, so
nothing is downloaded. Split 80/20 (1437 train / 360 test), stratified by class, always
with the same fixed seed 0: the ``seed`` argument of :func:`load_dataset` does not change
the split, so test accuracies are comparable between runs.
"""

from __future__ import annotations

import os
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from anyconv.data._common import no_argument, to_splits
from anyconv.data.base import Splits, register_dataset

SPLIT_SEED = 0


def cache_dir() -> Path:
    """Where derived data is cached: ``$ANYCONV_CACHE``, else ``~/.cache/anyconv``."""
    return Path(os.environ.get("ANYCONV_CACHE") or Path.home() / ".cache" / "anyconv")


@lru_cache(maxsize=1)
def digit_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The digits split as read-only numpy arrays ``x_train (1437, 1, 8, 8)`` float32 in
    [0, 1], ``y_train (1437,)`` int64, ``x_test (360, 1, 8, 8)``, ``y_test (360,)``.

    The split comes from scikit-learn once and is then read from a small cache file
    (:func:`cache_dir`, keyed by scikit-learn's version): importing scikit-learn takes
    about a second, longer than a whole epoch on this data set.

    Example:
        >>> x_train, y_train, x_test, y_test = digit_arrays()
        >>> x_train.shape, x_test.shape, float(x_train.max())
        ((1437, 1, 8, 8), (360, 1, 8, 8), 1.0)
    """
    from importlib.metadata import version

    cache = cache_dir() / f"digits-split-{SPLIT_SEED}-sklearn-{version('scikit-learn')}.npz"
    keys = ("x_train", "y_train", "x_test", "y_test")
    try:
        with np.load(cache, allow_pickle=False) as saved:
            arrays = tuple(saved[k] for k in keys)
        if [a.shape for a in arrays] != [(1437, 1, 8, 8), (1437,), (360, 1, 8, 8), (360,)]:
            raise ValueError(f"{cache}: not the digits split")
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        arrays = _split_with_sklearn()
        _write_cache(cache, dict(zip(keys, arrays, strict=True)))
    for a in arrays:
        a.setflags(write=False)
    return arrays  # type: ignore[return-value]


def _split_with_sklearn() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = (bunch.data.reshape(-1, 1, 8, 8) / 16.0).astype(np.float32)
    y = bunch.target.astype(np.int64)
    arrays = train_test_split(x, y, test_size=0.2, stratify=y, random_state=SPLIT_SEED)
    x_train, x_test, y_train, y_test = arrays
    return x_train, y_train, x_test, y_test


def _write_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write the cache atomically; a cache that cannot be written is simply skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except OSError:
        pass


@register_dataset(
    "digits",
    "scikit-learn's bundled 8x8 digits, 1437 train / 360 test (the default; nothing downloaded)",
)
def load_digits(argument: str | None = None, *, seed: int = 0) -> Splits:
    """scikit-learn's 8x8 digits as ``(N, 1, 8, 8)`` float32 in [0, 1] (grey level / 16),
    labels 0..9; 1437 train / 360 test. ``seed`` is ignored: the split is fixed.

    Example:
        >>> d = load_digits()
        >>> tuple(d.x_train.shape), tuple(d.x_test.shape), d.num_classes, d.kind
        ((1437, 1, 8, 8), (360, 1, 8, 8), 10, 'image')
    """
    no_argument("digits", argument)
    return to_splits(
        *digit_arrays(),
        kind="image",
        name="digits",
        class_names=[str(i) for i in range(10)],
        normalization={"divide": 16.0},
    )
