"""``idx:DIR``: MNIST-format IDX files, gzipped or raw, and every way they can be broken."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from anyconv.data import load_dataset, read_idx, write_idx

MNIST = (Path(__file__).parents[2] / ".." / "shared" / "datasets" / "mnist").resolve()
NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def _idx_bytes(array: np.ndarray, code: int) -> bytes:
    """An IDX file written out by hand from the format description (not by write_idx)."""
    head = bytes([0, 0, code, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    return head + array.astype(array.dtype.newbyteorder(">")).tobytes()


def _dataset(folder: Path, n_train=6, n_test=3, size=(4, 5), gz=(True, False, True, False), seed=0):
    rng = np.random.default_rng(seed)
    arrays = [
        rng.integers(0, 256, (n_train, *size), dtype=np.uint8),
        rng.integers(0, 10, n_train, dtype=np.uint8),
        rng.integers(0, 256, (n_test, *size), dtype=np.uint8),
        rng.integers(0, 10, n_test, dtype=np.uint8),
    ]
    for name, a, z in zip(NAMES, arrays, gz):
        data = _idx_bytes(a, 0x08)
        (folder / (name + ".gz" * z)).write_bytes(gzip.compress(data) if z else data)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize(
    "dtype,code",
    [
        (np.uint8, 0x08),
        (np.int8, 0x09),
        (np.int16, 0x0B),
        (np.int32, 0x0C),
        (np.float32, 0x0D),
        (np.float64, 0x0E),
    ],
)
def test_read_idx_parses_every_type_code(tmp_path, dtype, code, gz):
    a = (np.arange(2 * 3 * 4) - 7).astype(dtype).reshape(2, 3, 4)
    if dtype == np.uint8:
        a = a + np.uint8(7)
    path = tmp_path / ("a-idx3" + ".gz" * gz)
    data = _idx_bytes(a, code)
    path.write_bytes(gzip.compress(data) if gz else data)
    b = read_idx(path)
    assert b.dtype == np.dtype(dtype) and b.dtype.isnative and b.flags.writeable
    np.testing.assert_array_equal(a, b)
    # write_idx is its inverse and writes the same bytes
    write_idx(tmp_path / "b", a)
    assert (tmp_path / "b").read_bytes() == data


def test_load_mixes_gzipped_and_raw_files_and_scales_to_unit_range(tmp_path):
    x_tr, y_tr, x_te, y_te = _dataset(tmp_path)
    d = load_dataset(f"idx:{tmp_path}")
    assert d.kind == "image" and d.name == f"idx:{tmp_path}"
    assert tuple(d.x_train.shape) == (6, 1, 4, 5) and tuple(d.x_test.shape) == (3, 1, 4, 5)
    assert d.x_train.dtype == torch.float32 and d.y_train.dtype == torch.int64
    np.testing.assert_array_equal(d.x_train[:, 0].numpy(), (x_tr / 255).astype(np.float32))
    np.testing.assert_array_equal(d.x_test[:, 0].numpy(), (x_te / 255).astype(np.float32))
    np.testing.assert_array_equal(d.y_train.numpy(), y_tr)
    np.testing.assert_array_equal(d.y_test.numpy(), y_te)
    assert d.num_classes == max(y_tr.max(), y_te.max()) + 1


def test_dotted_file_names_are_accepted(tmp_path):
    _dataset(tmp_path, gz=(False,) * 4)
    for name in NAMES:
        (tmp_path / name).rename(tmp_path / name.replace("-idx", ".idx"))
    assert tuple(load_dataset(f"idx:{tmp_path}").x_train.shape) == (6, 1, 4, 5)


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(f"{tmp_path / 'nope'}: no such folder")):
        load_dataset(f"idx:{tmp_path / 'nope'}")


def test_missing_file_names_it_and_the_expected_ones(tmp_path):
    _dataset(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(
        FileNotFoundError,
        match=re.escape(f"{tmp_path / 't10k-labels-idx1-ubyte'}[.gz]: no such file"),
    ):
        load_dataset(f"idx:{tmp_path}")


def test_truncated_images_say_how_many_bytes_were_expected(tmp_path):
    _dataset(tmp_path, n_train=5, size=(4, 4), gz=(False,) * 4)
    path = tmp_path / NAMES[0]
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"{path}: expected 96 bytes for 5 images of 4x4 (uint8), got 50 (truncated)"
        ),
    ):
        load_dataset(f"idx:{tmp_path}")


def test_sizes_are_those_of_the_decompressed_file(tmp_path):
    _dataset(tmp_path, n_train=60000 // 1000, size=(28, 28))
    path = tmp_path / (NAMES[0] + ".gz")
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()) + b"\0\0"))
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"{path}: expected 47,056 bytes (after decompression) for 60 images of 28x28 "
            "(uint8), got more than 47,056 (trailing bytes)"
        ),
    ):
        load_dataset(f"idx:{tmp_path}")


def test_truncated_gzip_stream(tmp_path):
    _dataset(tmp_path)
    path = tmp_path / (NAMES[0] + ".gz")
    path.write_bytes(path.read_bytes()[:-12])
    with pytest.raises(ValueError, match=re.escape(f"{path}: truncated gzip file")):
        load_dataset(f"idx:{tmp_path}")


def test_gzip_is_recognised_by_content_not_name(tmp_path):
    x_tr, *_ = _dataset(tmp_path)
    path = tmp_path / (NAMES[0] + ".gz")
    path.write_bytes(gzip.decompress(path.read_bytes()))  # raw bytes under a .gz name
    np.testing.assert_array_equal(read_idx(path), x_tr)
    (tmp_path / "z").write_bytes(gzip.compress(_idx_bytes(x_tr, 0x08)))  # gzip, no .gz
    np.testing.assert_array_equal(read_idx(tmp_path / "z"), x_tr)


def test_corrupt_gzip_stream(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(b"\x1f\x8b" + bytes(40))
    with pytest.raises(ValueError, match=re.escape(f"{path}: corrupt gzip file")):
        read_idx(path)


def test_labels_where_images_belong_is_a_bad_magic_number(tmp_path):
    _dataset(tmp_path, gz=(False,) * 4)
    (tmp_path / NAMES[0]).write_bytes((tmp_path / NAMES[1]).read_bytes())
    with pytest.raises(
        ValueError,
        match=re.escape(f"{tmp_path / NAMES[0]}: bad magic number 0x00000801, expected 0x00000803"),
    ):
        load_dataset(f"idx:{tmp_path}")


@pytest.mark.parametrize(
    "head,shown",
    [
        (b"\x00\x00\x12\x34", "0x00001234"),
        (b"\x00\x01\x08\x03", "0x00010803"),
        (b"\x00\x00\x08\x02", "0x00000802"),
    ],
)
def test_bad_magic_numbers(tmp_path, head, shown):
    path = tmp_path / "x"
    path.write_bytes(head + bytes(100))
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"{path}: bad magic number {shown}, expected 0x00000803 (uint8, 3 dimensions)"
        ),
    ):
        read_idx(path, ndim=3)


@pytest.mark.parametrize(
    "data,message",
    [
        (b"", "0 bytes, too short for an IDX file"),
        (b"\x00\x00", "2 bytes, too short for an IDX file"),
        (
            b"\x00\x00\x08\x03\x00\x00\x00\x02",
            "truncated header: 3 dimensions need 16 bytes, got 8",
        ),
    ],
)
def test_short_files(tmp_path, data, message):
    (tmp_path / "x").write_bytes(data)
    with pytest.raises(ValueError, match=re.escape(f"{tmp_path / 'x'}: {message}")):
        read_idx(tmp_path / "x")


def test_label_count_must_match_image_count(tmp_path):
    _dataset(tmp_path, gz=(False,) * 4)
    (tmp_path / NAMES[3]).write_bytes(_idx_bytes(np.zeros(5, np.uint8), 0x08))
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"{tmp_path / NAMES[3]}: 5 labels, but {tmp_path / NAMES[2]} holds 3 images"
        ),
    ):
        load_dataset(f"idx:{tmp_path}")


def test_train_and_test_image_sizes_must_agree(tmp_path):
    _dataset(tmp_path, gz=(False,) * 4)
    (tmp_path / NAMES[2]).write_bytes(_idx_bytes(np.zeros((3, 5, 5), np.uint8), 0x08))
    with pytest.raises(ValueError, match="images of \\(5, 5\\), but the train images are"):
        load_dataset(f"idx:{tmp_path}")


def test_write_idx_rejects_unsupported_dtypes(tmp_path):
    with pytest.raises(TypeError, match="argument 'array' must have dtype uint8"):
        write_idx(tmp_path / "x", np.zeros(3, np.uint64))


@pytest.mark.skipif(
    not MNIST.is_dir(),
    reason="real MNIST not found in ../shared/datasets/mnist (beside the project)",
)
def test_real_mnist():
    d = load_dataset(f"idx:{MNIST}")
    assert tuple(d.x_train.shape) == (60000, 1, 28, 28)
    assert tuple(d.x_test.shape) == (10000, 1, 28, 28)
    assert d.num_classes == 10
    for y in (d.y_train, d.y_test):
        assert torch.equal(torch.unique(y), torch.arange(10))
    assert float(d.x_train.min()) == 0.0 and float(d.x_train.max()) == 1.0
    assert abs(float(d.x_train.mean()) - 0.1307) < 0.001  # the well-known MNIST mean
    assert abs(float(d.x_train.std()) - 0.3081) < 0.001
    assert d.y_train.bincount().tolist()[:2] == [5923, 6742]
