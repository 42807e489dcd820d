"""Hostile ``.npz`` files: empty splits, folders, wrong keys and dtypes, headers declaring
terabytes, random bytes, NaN, absurd labels. Never unpickled, never described as pickled
data, never a hint to ``allow_pickle``."""

from __future__ import annotations

import io
import os
import re
import zipfile

import numpy as np
import pytest

from anyconv.cli import main
from anyconv.data import check_trainable, load_dataset


def _save(tmp_path, **arrays):
    base = dict(
        x_train=np.zeros((4, 3), np.float32),
        y_train=np.array([0, 1, 0, 1]),
        x_test=np.zeros((2, 3), np.float32),
        y_test=np.array([1, 0]),
    )
    base.update(arrays)
    path = tmp_path / "d.npz"
    np.savez(path, **{k: v for k, v in base.items() if v is not None})
    return path


def _printed(capsys) -> str:
    """What the command printed, on either stream, with rich's line wrapping undone."""
    out = capsys.readouterr()
    return " ".join((out.out + out.err).split())


def _refused(path, message, kind=ValueError):
    with pytest.raises(kind, match=re.escape(f"{path}: {message}")) as error:
        load_dataset(f"npz:{path}")
    text = str(error.value).lower()
    assert "pickle" not in text or "python objects" in text
    assert "allow_pickle" not in text
    return error.value


def test_empty_test_split(tmp_path):
    # was: loaded, then IndexError
    path = _save(tmp_path, x_test=np.zeros((0, 3)), y_test=np.zeros(0, int))
    _refused(path, "x_test: the test split holds no samples")


def test_npz_spec_naming_a_folder(tmp_path, capsys):
    # was: IsADirectoryError surfaced as a traceback
    error = _refused(tmp_path, "is a folder, expected a file (npz:FILE)", IsADirectoryError)
    assert isinstance(error, ValueError)
    assert main(["train", "--data", f"npz:{tmp_path}", "--epochs", "1", "--quiet"]) == 2
    printed = _printed(capsys)
    assert "Traceback" not in printed
    assert f"{tmp_path}: is a folder, expected a file" in printed


@pytest.mark.parametrize(
    "arrays,message",
    [
        ({"y_test": None}, "missing y_test; the file holds x_train, y_train, x_test"),
        ({"x_train": np.array(["a", "b", "c", "d"])}, "x_train: must hold numbers, got dtype <U1"),
        ({"x_train": np.zeros((4, 3), complex)}, "x_train: must hold numbers, got dtype complex"),
        (
            {"x_train": np.array([{}, 1, "a", None], object)},
            "x_train holds Python objects (dtype object), which anyconv never loads",
        ),
        ({"y_train": np.array(["a", "b", "a", "b"])}, "y_train: labels must be integers"),
        ({"y_train": np.array([0, 0.5, 1, 1])}, "y_train: labels must be whole numbers, found 0.5"),
        ({"y_test": np.array([[0, 1], [1, 0]])}, "y_test: labels must be 1-D (N,)"),
    ],
)
def test_wrong_keys_and_dtypes(tmp_path, arrays, message):
    _refused(_save(tmp_path, **arrays), message)


def test_header_declaring_terabytes_is_refused_before_allocating(tmp_path):
    # was: np.load tried to allocate 3.64 TiB
    path = tmp_path / "d.npz"
    with zipfile.ZipFile(path, "w") as z:
        for key, a in dict(
            y_train=np.array([0, 1]), x_test=np.zeros((2, 3)), y_test=np.array([0, 1])
        ).items():
            buffer = io.BytesIO()
            np.save(buffer, a)
            z.writestr(f"{key}.npy", buffer.getvalue())
        buffer = io.BytesIO()
        header = {"descr": "<f4", "fortran_order": False, "shape": (10**12,)}
        np.lib.format.write_array_header_1_0(buffer, header)
        z.writestr("x_train.npy", buffer.getvalue() + bytes(16))
    _refused(
        path,
        "x_train declares shape (1000000000000,) of float32 (4,000,000,000,000 bytes), but "
        "the archive holds 16 bytes of data for it",
    )


def test_random_bytes_are_not_called_pickled_data(tmp_path):
    # was: "This file contains pickled (object) data ... allow_pickle=..."
    path = tmp_path / "d.npz"
    path.write_bytes(b"\x80\x04" + os.urandom(1000))
    _refused(
        path,
        "not an .npz archive (a zip file of .npy arrays, as np.savez writes); it starts "
        "with the bytes 80 04",
    )


def test_truncated_archive(tmp_path):
    path = _save(tmp_path)
    path.write_bytes(path.read_bytes()[:200])
    _refused(path, "not a readable .npz file")


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_inputs_name_the_first_bad_sample(tmp_path, value):
    x = np.zeros((2, 3), np.float32)
    x[1, 2] = value
    _refused(
        _save(tmp_path, x_test=x),
        f"x_test: 1 value is NaN or infinite, the first in sample 1 at (0, 2) ({value}); "
        "inputs must be finite numbers",
    )


def test_one_huge_label_is_refused_naming_the_file(tmp_path):
    # was: 100,000,001 class names (7.3 GB)
    path = _save(tmp_path, y_train=np.array([0, 1, 10**8, 1]))
    _refused(
        path,
        "y_train: label 100,000,000 would make 100,000,001 classes, but there are only 3 "
        "distinct labels",
    )


def test_uint64_label_is_shown_as_it_is(tmp_path):
    # was: "labels must be >= 0, found -1"
    path = _save(tmp_path, y_train=np.array([0, 1, 2**64 - 1, 1], np.uint64))
    _refused(path, "y_train: label 18,446,744,073,709,551,615 does not fit in int64")


def test_labels_a_little_beyond_the_distinct_ones_are_fine(tmp_path):
    # a subset of a larger label set: labels 0, 1 and 99 make 100 classes
    d = load_dataset(f"npz:{_save(tmp_path, y_train=np.array([0, 1, 99, 1]))}")
    assert d.num_classes == 100


def test_one_class_is_refused_for_training(tmp_path, capsys):
    path = _save(tmp_path, y_train=np.array([1, 1, 1, 1]), y_test=np.array([1, 1]))
    d = load_dataset(f"npz:{path}")  # loading is fine: evaluation on one class is sensible
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"npz:{path}: the training split holds one class only ('1'); a classifier needs "
            "at least two classes"
        ),
    ):
        check_trainable(d)
    out = tmp_path / "run"
    assert main(["train", "--data", f"npz:{path}", "--out", str(out), "--quiet"]) == 2
    assert "holds one class only" in _printed(capsys)
    assert not out.exists()


# -- issue 26: what users bring --------------------------------------------------------


def test_pytorch_s_one_channel_sequence_layout_is_a_sequence(tmp_path):
    # was: (N, 1, 64) read as images one pixel high
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 1, 64)).astype(np.float32)
    path = _save(tmp_path, x_train=x, y_train=np.arange(6) % 2, x_test=x[:2])
    d = load_dataset(f"npz:{path}")
    assert d.kind == "sequence" and d.input_shape == (1, 64)
    np.testing.assert_array_equal(d.x_train.numpy(), x)


@pytest.mark.parametrize(
    "kind,shape,expected",
    [
        (None, (6, 3, 64), ("image", (1, 3, 64))),  # the guess: ambiguous, so documented
        ("sequence", (6, 3, 64), ("sequence", (3, 64))),
        ("image", (6, 1, 64), ("image", (1, 1, 64))),
        (b"sequence", (6, 64), ("sequence", (1, 64))),
    ],
)
def test_an_explicit_kind_decides_what_the_guess_cannot(tmp_path, kind, shape, expected):
    x = np.zeros(shape, np.float32)
    extra = {} if kind is None else {"kind": np.array(kind)}
    path = _save(tmp_path, x_train=x, y_train=np.arange(6) % 2, x_test=x[:2], **extra)
    d = load_dataset(f"npz:{path}")
    assert (d.kind, d.input_shape) == expected


def test_one_pixel_images_train_without_a_shift_nobody_asked_for(tmp_path, capsys):
    # was: "argument 'shift' must be smaller than the images' height and width (1, 1)"
    # for a --shift the user never gave (the default 1)
    rng = np.random.default_rng(0)
    x = rng.random((20, 1, 1, 1)).astype(np.float32)
    path = _save(tmp_path, x_train=x, y_train=np.arange(20) % 2, x_test=x[:2])
    argv = ["train", "mlp", "--data", f"npz:{path}", "--epochs", "1", "--threads", "1"]
    assert main([*argv, "--quiet", "--no-pictures", "--out", str(tmp_path / "run")]) == 0
    assert "shift" not in _printed(capsys)
    # an explicit shift larger than the images is still refused
    big = ["--shift", "2", "--out", str(tmp_path / "run2")]
    x = rng.random((20, 1, 2, 2)).astype(np.float32)
    path = _save(tmp_path, x_train=x, y_train=np.arange(20) % 2, x_test=x[:2])
    assert main([*argv[:3], f"npz:{path}", *argv[4:], "--quiet", *big]) == 2
    assert "argument 'shift' must be smaller" in _printed(capsys)
