"""``digits``: scikit-learn's 8x8 digits, split 80/20 stratified with a fixed seed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from anyconv.data import load_dataset

sklearn_datasets = pytest.importorskip("sklearn.datasets", reason="digits needs scikit-learn")


def test_split_sizes_shapes_and_scaling():
    d = load_dataset("digits")
    assert tuple(d.x_train.shape) == (1437, 1, 8, 8)
    assert tuple(d.x_test.shape) == (360, 1, 8, 8)
    assert d.num_classes == 10 and d.class_names == [str(i) for i in range(10)]
    assert d.kind == "image"
    # grey levels 0..16 divided by 16, exactly
    levels = torch.unique(torch.cat([d.x_train, d.x_test]) * 16)
    assert torch.equal(levels, torch.arange(17, dtype=torch.float32))


def test_split_is_a_stratified_partition_of_the_bundled_data():
    d = load_dataset("digits")
    raw = sklearn_datasets.load_digits()
    x = np.concatenate([d.x_train.numpy(), d.x_test.numpy()]).reshape(-1, 64) * 16
    y = np.concatenate([d.y_train.numpy(), d.y_test.numpy()])
    # same multiset of (image, label) rows as the original
    ours = np.unique(np.column_stack([x, y]), axis=0, return_counts=True)
    theirs = np.unique(np.column_stack([raw.data, raw.target]), axis=0, return_counts=True)
    np.testing.assert_array_equal(ours[0], theirs[0])
    np.testing.assert_array_equal(ours[1], theirs[1])
    # stratified: each class's test share is 20% up to rounding
    share = np.bincount(d.y_test.numpy(), minlength=10) / np.bincount(raw.target, minlength=10)
    assert np.all(np.abs(share - 0.2) < 0.02)


def test_split_is_deterministic_and_ignores_the_seed():
    a, b = load_dataset("digits", seed=0), load_dataset("digits", seed=123)
    for name in ("x_train", "y_train", "x_test", "y_test"):
        assert torch.equal(getattr(a, name), getattr(b, name))


def test_returned_tensors_are_independent_copies():
    a = load_dataset("digits")
    a.x_train.add_(1.0)
    assert float(load_dataset("digits").x_train.max()) == 1.0
