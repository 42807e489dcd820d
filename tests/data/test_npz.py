"""``npz:FILE``: x_train, y_train, x_test, y_test, with the documented shape rules."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from anyconv.data import load_dataset


def _save(tmp_path, **arrays):
    base = dict(
        x_train=np.zeros((4, 6, 6), np.uint8),
        y_train=np.array([0, 1, 2, 1]),
        x_test=np.zeros((2, 6, 6), np.uint8),
        y_test=np.array([2, 0]),
    )
    base.update(arrays)
    path = tmp_path / "d.npz"
    np.savez(path, **{k: v for k, v in base.items() if v is not None})
    return path


@pytest.mark.parametrize(
    "train,test,kind,shape",
    [
        ((4, 6, 6), (2, 6, 6), "image", (1, 6, 6)),  # (N, H, W)
        ((4, 3, 6, 5), (2, 3, 6, 5), "image", (3, 6, 5)),  # (N, C, H, W)
        ((4, 6, 5, 3), (2, 6, 5, 3), "image", (3, 6, 5)),  # (N, H, W, C) channels last
        ((4, 2, 5, 6, 6), (2, 2, 5, 6, 6), "video", (2, 5, 6, 6)),  # (N, C, T, H, W)
        ((4, 30), (2, 30), "sequence", (1, 30)),  # (N, L)
    ],
)
def test_shape_rules(tmp_path, train, test, kind, shape):
    rng = np.random.default_rng(0)
    x_train = rng.random(train).astype(np.float32)
    path = _save(tmp_path, x_train=x_train, x_test=np.zeros(test, np.float32))
    d = load_dataset(f"npz:{path}")
    assert d.kind == kind and d.input_shape == shape and len(d.x_test) == 2
    expected = x_train.transpose(0, 3, 1, 2) if train == (4, 6, 5, 3) else x_train
    np.testing.assert_array_equal(d.x_train.numpy().reshape(expected.shape), expected)


@pytest.mark.parametrize(
    "kind,train,shape",
    [
        ("sequence", (4, 3, 20), (3, 20)),
        ("sequence", (4, 20), (1, 20)),
        ("video", (4, 5, 6, 6), (1, 5, 6, 6)),
        ("image", (4, 1, 6, 6), (1, 6, 6)),
    ],
)
def test_kind_entry_overrides_the_guess(tmp_path, kind, train, shape):
    path = _save(
        tmp_path, x_train=np.zeros(train), x_test=np.zeros((2, *train[1:])), kind=np.array(kind)
    )
    d = load_dataset(f"npz:{path}")
    assert d.kind == kind and d.input_shape == shape


def test_dtypes_scaling_labels_and_names(tmp_path):
    path = _save(
        tmp_path,
        x_train=np.full((4, 2, 2), 255, np.uint8),
        x_test=np.ones((2, 2, 2), bool),
        y_train=np.array([0.0, 1.0, 3.0, 1.0]),
        class_names=np.array(["a", "b", "c", "d", "e"]),
    )
    d = load_dataset(f"npz:{path}")
    assert d.x_train.dtype == torch.float32 and float(d.x_train.max()) == 1.0
    assert float(d.x_test.min()) == 1.0
    assert d.y_train.dtype == torch.int64 and d.y_train.tolist() == [0, 1, 3, 1]
    assert d.num_classes == 5 and d.class_names == ["a", "b", "c", "d", "e"]
    # without names: largest label + 1
    path = _save(
        tmp_path, x_train=np.full((4, 2, 2), 1000, np.int32), x_test=np.zeros((2, 2, 2), np.int64)
    )
    d = load_dataset(f"npz:{path}")
    assert d.num_classes == 3 and float(d.x_train.max()) == 1000.0  # other ints unscaled


def _error(tmp_path, message, **arrays):
    path = _save(tmp_path, **arrays)
    with pytest.raises(ValueError, match=re.escape(f"{path}: {message}")):
        load_dataset(f"npz:{path}")


def test_missing_arrays_are_listed(tmp_path):
    _error(
        tmp_path,
        "missing x_test, y_test; the file holds x_train, y_train",
        x_test=None,
        y_test=None,
    )


def test_count_mismatch(tmp_path):
    _error(tmp_path, "x_train holds 4 samples but y_train 3 labels", y_train=np.array([0, 1, 2]))


def test_train_and_test_shapes_must_agree(tmp_path):
    _error(
        tmp_path,
        "x_train samples are (1, 6, 6) but x_test samples (1, 5, 6)",
        x_test=np.zeros((2, 5, 6)),
    )


@pytest.mark.parametrize(
    "y,message",
    [
        (np.array([0, -1, 2, 1]), "y_train: labels must be >= 0, found -1"),
        (np.array([0, 0.5, 2, 1]), "y_train: labels must be whole numbers, found 0.5"),
        (np.eye(4), "y_train: labels must be 1-D (N,), got shape (4, 4) (one-hot?"),
        (np.array(["a", "b", "c", "d"]), "y_train: labels must be integers, got dtype <U1"),
    ],
)
def test_bad_labels(tmp_path, y, message):
    _error(tmp_path, message, y_train=y)


def test_non_finite_values(tmp_path):
    x = np.zeros((4, 6, 6))
    x[0, 0, :3] = np.nan
    _error(tmp_path, "x_train: 3 values are NaN or infinite", x_train=x)


def test_bad_shapes_and_kinds(tmp_path):
    _error(tmp_path, "x_train: shape (4,) is not (N, L)", x_train=np.zeros(4))
    _error(
        tmp_path, "kind must be 'sequence', 'image' or 'video', got 'audio'", kind=np.array("audio")
    )
    _error(
        tmp_path,
        "x_train: shape (4, 6, 6) has 3 dimensions, but kind 'video' needs 4",
        kind=np.array("video"),
    )
    _error(
        tmp_path,
        "y_train has label 2, but class_names lists only 2 classes",
        class_names=np.array(["a", "b"]),
    )


def test_pickled_objects_are_refused(tmp_path):
    _error(
        tmp_path,
        "x_train holds Python objects (dtype object), which anyconv never loads",
        x_train=np.array([{}, {}, {}, {}], object),
    )


def test_not_an_npz_file(tmp_path):
    path = tmp_path / "d.npz"
    path.write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(ValueError, match=re.escape(f"{path}: not a readable .npz file")):
        load_dataset(f"npz:{path}")
    np.save(tmp_path / "one.npy", np.zeros(3))
    with pytest.raises(ValueError, match=r"a single \.npy array"):
        load_dataset(f"npz:{tmp_path / 'one.npy'}")


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(f"{tmp_path / 'x.npz'}: no such file")):
        load_dataset(f"npz:{tmp_path / 'x.npz'}")
