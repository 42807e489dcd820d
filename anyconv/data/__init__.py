"""Datasets: loaders registered by name and reached through one spec string.

``load_dataset("digits")`` (the default, bundled with scikit-learn), ``"mnist1d"``,
``"moving-digits"``, ``"idx:DIR"``, ``"folder:DIR"``, ``"npz:FILE"``, ``"ucr:PREFIX"``; each
returns :class:`Splits` (float32 ``x`` of shape ``(N, C, *spatial)``, int64 ``y``).

Example:
    >>> from anyconv.data import load_dataset
    >>> d = load_dataset("moving-digits", seed=0)
    >>> d.input_shape, d.num_classes, d.kind
    ((1, 10, 16, 16), 8, 'video')
"""

from anyconv.data import digits, folder, idx, mnist_1d, moving_digits, npz, ucr
from anyconv.data._common import check_trainable
from anyconv.data.base import DATASETS, Splits, list_datasets, load_dataset, register_dataset
from anyconv.data.idx import read_idx, write_idx
from anyconv.data.images import read_image
from anyconv.data.moving_digits import moving_digits as make_moving_digits
from anyconv.data.ucr import read_ucr

__all__ = [
    "DATASETS",
    "Splits",
    "check_trainable",
    "digits",
    "folder",
    "idx",
    "list_datasets",
    "load_dataset",
    "make_moving_digits",
    "mnist_1d",
    "moving_digits",
    "npz",
    "read_idx",
    "read_image",
    "read_ucr",
    "register_dataset",
    "ucr",
    "write_idx",
]
