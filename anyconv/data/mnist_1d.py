"""``mnist1d``: the MNIST-1D benchmark (Greydanus 2020), generated offline.

The `mnist1d` package's ``make_dataset`` with its default arguments
(``get_dataset_args()``: 5000 samples, 80/20 split, length 40, its own seed 42) builds the
same 4000 train / 1000 test sequences that the paper uses, from ten 1-D templates with
random padding, translation, scaling, shear and noise. ``get_dataset`` is never called:
it would try to download a pickle. Generation takes about a second, so nothing is cached on
disk; the arrays are kept in memory for the rest of the process.

``make_dataset`` reseeds NumPy's and Python's global random generators; their states are
saved before and restored after, so loading this dataset does not disturb a user's
random streams.
"""

from __future__ import annotations

import random
from functools import lru_cache

import numpy as np

from anyconv.data._common import no_argument, to_splits
from anyconv.data.base import Splits, register_dataset


@lru_cache(maxsize=1)
def _generate() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as e:
        raise ImportError(
            "the 'mnist1d' dataset needs the mnist1d package: pip install mnist1d"
        ) from e
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(get_dataset_args())
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    arrays = (
        data["x"][:, None, :].astype(np.float32),
        data["y"].astype(np.int64),
        data["x_test"][:, None, :].astype(np.float32),
        data["y_test"].astype(np.int64),
    )
    for a in arrays:
        a.setflags(write=False)
    return arrays


@register_dataset(
    "mnist1d",
    "MNIST-1D sequences of length 40, 4000 train / 1000 test "
    "(generated offline by the mnist1d package)",
)
def load_mnist1d(argument: str | None = None, *, seed: int = 0) -> Splits:
    """MNIST-1D as ``(N, 1, 40)`` float32 sequences (standardised by the package to mean 0,
    standard deviation 1), labels 0..9; 4000 train / 1000 test. ``seed`` is ignored: the
    data are the package's fixed default set.

    Example:
        >>> d = load_mnist1d()
        >>> tuple(d.x_train.shape), tuple(d.x_test.shape), d.kind
        ((4000, 1, 40), (1000, 1, 40), 'sequence')
    """
    no_argument("mnist1d", argument)
    return to_splits(
        *_generate(), kind="sequence", name="mnist1d", class_names=[str(i) for i in range(10)]
    )
