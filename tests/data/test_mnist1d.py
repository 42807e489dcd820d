"""``mnist1d``: the mnist1d package's default dataset, generated offline."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from anyconv.data import load_dataset

pytest.importorskip("mnist1d", reason="the mnist1d dataset needs the mnist1d package")


def test_shapes_labels_and_standardisation():
    d = load_dataset("mnist1d")
    assert tuple(d.x_train.shape) == (4000, 1, 40) and tuple(d.x_test.shape) == (1000, 1, 40)
    assert d.x_train.dtype == torch.float32 and d.y_train.dtype == torch.int64
    assert d.kind == "sequence" and d.num_classes == 10
    y = torch.cat([d.y_train, d.y_test])
    assert torch.equal(torch.unique(y), torch.arange(10))
    x = torch.cat([d.x_train, d.x_test]).double()
    assert abs(float(x.mean())) < 1e-3 and abs(float(x.std()) - 1) < 1e-2


def test_matches_the_package_defaults_and_leaves_global_rngs_alone():
    from mnist1d.data import get_dataset_args, make_dataset

    np.random.seed(7)
    random.seed(7)
    d = load_dataset("mnist1d", seed=3)
    after_np, after_py = np.random.rand(), random.random()
    np.random.seed(7)
    random.seed(7)
    assert (after_np, after_py) == (np.random.rand(), random.random())
    ref = make_dataset(get_dataset_args())
    np.testing.assert_array_equal(d.x_train[:, 0].numpy(), ref["x"].astype(np.float32))
    np.testing.assert_array_equal(d.y_test.numpy(), ref["y_test"])
