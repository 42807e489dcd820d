"""Datasets: loaders registered by name and reached through one spec string.

``load_dataset("digits")`` (the default, bundled with scikit-learn), ``"mnist1d"``,
``"moving-digits"``, ``"idx:DIR"``, ``"folder:DIR"``, ``"npz:FILE"``, ``"ucr:PREFIX"``; each
returns a :class:`Dataset`, the written interface every consumer asks (name, kind, classes,
input shape, labels, batches, the tensors of a split when held in memory, fingerprint):
:class:`Splits` holds float32 ``x`` of shape ``(N, C, *spatial)`` and int64 ``y`` in
memory. A spec string is parsed once, into a :class:`DataSpec`.

Example:
    >>> from anyconv.data import load_dataset
    >>> d = load_dataset("moving-digits", seed=0)
    >>> d.input_shape, d.num_classes, d.kind
    ((1, 10, 16, 16), 8, 'video')
"""

from anyconv.data import digits, folder, idx, mnist_1d, moving_digits, npz, ucr
from anyconv.data._common import check_trainable
from anyconv.data.base import (
    DATASETS,
    Dataset,
    Splits,
    list_datasets,
    load_dataset,
    register_dataset,
)
from anyconv.data.idx import read_idx, write_idx
from anyconv.data.images import read_image
from anyconv.data.moving_digits import moving_digits as make_moving_digits
from anyconv.data.spec import DataSpec
from anyconv.data.ucr import read_ucr

__all__ = [
    "DATASETS",
    "DataSpec",
    "Dataset",
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
