"""Hostile IDX folders: empty splits, resource bombs, broken headers and gzip streams.

Every case ends in anyconv's own one-line error naming the file; a gzip bomb is refused
after decompressing no more than its header promised (counted, not timed).
"""

from __future__ import annotations

import functools
import gzip
import re

import numpy as np
import pytest

from anyconv.data import load_dataset, read_idx, write_idx
from anyconv.data.idx import FILES
from anyconv.functional.algorithms import memory

TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS = FILES.values()
BOMB_BYTES = 2**28


def _folder(tmp_path, n_train=4, n_test=2, labels=None, gz=False):
    rng = np.random.default_rng(0)
    sfx = ".gz" * gz
    write_idx(tmp_path / (TRAIN_IMAGES + sfx), rng.integers(0, 256, (n_train, 4, 4), np.uint8))
    write_idx(tmp_path / (TRAIN_LABELS + sfx), np.arange(n_train, dtype=np.uint8) % 2)
    write_idx(tmp_path / (TEST_IMAGES + sfx), rng.integers(0, 256, (n_test, 4, 4), np.uint8))
    write_idx(tmp_path / (TEST_LABELS + sfx), np.arange(n_test, dtype=np.uint8) % 2)
    return tmp_path


@pytest.fixture
def decompressed(monkeypatch):
    """Counts the bytes gzip hands out while an IDX file is read."""
    counter = {"bytes": 0}

    class Counting(gzip.GzipFile):
        def read(self, size=-1):  # readinto goes through read too
            out = super().read(size)
            counter["bytes"] += len(out)
            return out

    real_decompress = gzip.decompress

    def decompress(data):
        out = real_decompress(data)
        counter["bytes"] += len(out)
        return out

    monkeypatch.setattr(gzip, "GzipFile", Counting)
    monkeypatch.setattr(gzip, "decompress", decompress)
    return counter


@pytest.mark.parametrize("part", ["train", "test"])
def test_a_split_with_no_samples_is_refused(tmp_path, part):
    # was: loaded, then ZeroDivisionError / IndexError in the trainer
    _folder(tmp_path, **{f"n_{part}": 0})
    images = TRAIN_IMAGES if part == "train" else TEST_IMAGES
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"{tmp_path / images}: the {part} split holds no samples; a dataset needs at "
            "least one training and one test sample"
        ),
    ):
        load_dataset(f"idx:{tmp_path}")


@functools.lru_cache(maxsize=1)
def _zeros_member() -> bytes:
    """256 MiB of zeros as one gzip member (about 1 MB)."""
    return gzip.compress(bytes(BOMB_BYTES), compresslevel=1)


def _bomb(header: bytes) -> bytes:
    """``header`` then 256 MiB of zeros, gzipped as two members: the file a loader that
    decompresses everything first would spend a quarter of a GiB on."""
    return gzip.compress(header) + _zeros_member()


def test_gzip_bomb_with_a_bad_magic_number_is_refused_after_four_bytes(tmp_path, decompressed):
    # was: the whole file decompressed before the magic number was looked at
    path = tmp_path / "x.gz"
    path.write_bytes(_bomb(b""))
    with pytest.raises(ValueError, match=re.escape(f"{path}: bad magic number 0x00000000")):
        read_idx(path, ndim=3)
    assert decompressed["bytes"] <= 4


def test_gzip_bomb_behind_a_valid_header_stops_at_the_declared_size(tmp_path, decompressed):
    images = np.zeros((60, 28, 28), np.uint8)
    header = bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in images.shape)
    path = tmp_path / "x.gz"
    path.write_bytes(_bomb(header + images.tobytes()))
    declared = 16 + images.size
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"{path}: expected {declared:,} bytes (after decompression) for 60 images of "
            f"28x28 (uint8), got more than {declared:,} (trailing bytes)"
        ),
    ):
        read_idx(path, ndim=3, what="images")
    assert decompressed["bytes"] <= declared + 1


def test_header_declaring_more_than_gzip_can_hold_is_refused_before_decompressing(
    tmp_path, decompressed
):
    header = bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (10**6, 100, 100))
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(header + bytes(1000)))
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"{path}: the header declares 1,000,000 images of 100x100 (uint8), "
            "10,000,000,016 bytes, which a gzip file of"
        ),
    ):
        read_idx(path, ndim=3, what="images")
    assert decompressed["bytes"] == 16


def test_large_header_must_agree_with_the_gzip_trailer(tmp_path, decompressed):
    # 100 MiB declared, 256 MiB present: plausible by the compression ratio, but the trailer
    # (the uncompressed size mod 2**32) disagrees, so nothing beyond the header is read.
    n = 100 * 2**20 // (28 * 28)
    header = bytes([0, 0, 8, 3]) + b"".join(v.to_bytes(4, "big") for v in (n, 28, 28))
    path = tmp_path / "x.gz"
    path.write_bytes(_bomb(header))
    with pytest.raises(
        ValueError, match=re.escape(f"{path}: the header declares {n:,} images of 28x28")
    ) as error:
        read_idx(path, ndim=3, what="images")
    assert f"but the gzip trailer records {BOMB_BYTES:,} bytes (mod 2**32)" in str(error.value)
    assert decompressed["bytes"] == 16


def test_header_larger_than_the_memory_available_is_refused(tmp_path, monkeypatch):
    _folder(tmp_path)
    monkeypatch.setattr(memory, "available_memory", lambda: 50)
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"{tmp_path / TRAIN_IMAGES}: 4 images of 4x4 (uint8) would need about 64 B, but "
            "only 50 B of memory is available now"
        ),
    ):
        load_dataset(f"idx:{tmp_path}")


@pytest.mark.parametrize(
    "data,message",
    [
        (b"\x00\x00\x08", "3 bytes, too short for an IDX file"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x04\x00", "truncated header: 3 dimensions need 16 bytes"),
        (b"\xde\xad\xbe\xef" * 8, "bad magic number 0xDEADBEEF"),
        (bytes([0, 0, 8, 3, 0, 0, 0, 9, 0, 0, 0, 4, 0, 0, 0, 4]) + bytes(10), "(truncated)"),
    ],
)
@pytest.mark.parametrize("gz", [False, True])
def test_broken_headers(tmp_path, data, message, gz):
    path = tmp_path / "x"
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(ValueError, match=re.escape(f"{path}: ") + ".*" + re.escape(message)):
        read_idx(path, ndim=3)


@pytest.mark.parametrize(
    "mangle,message",
    [
        (lambda b: b[: len(b) // 2], "truncated gzip file"),
        (lambda b: b[:10] + bytes(len(b) - 10), "corrupt gzip file"),
        (lambda b: b[:12] + bytes(b ^ 0xFF for b in b[12:20]) + b[20:], "corrupt gzip file"),
    ],
)
def test_truncated_and_garbage_gzip(tmp_path, mangle, message):
    _folder(tmp_path, gz=True)
    path = tmp_path / (TRAIN_IMAGES + ".gz")
    path.write_bytes(mangle(path.read_bytes()))
    with pytest.raises(ValueError, match=re.escape(f"{path}: {message}")):
        load_dataset(f"idx:{tmp_path}")


def test_labels_path_that_is_a_folder(tmp_path):
    # was: "no such file" although it exists
    _folder(tmp_path)
    (tmp_path / TEST_LABELS).unlink()
    (tmp_path / TEST_LABELS).mkdir()
    with pytest.raises(IsADirectoryError) as error:
        load_dataset(f"idx:{tmp_path}")
    assert isinstance(error.value, ValueError)
    assert str(error.value) == (
        f"{tmp_path / TEST_LABELS}: is a folder, expected an IDX file (raw or .gz)"
    )


def test_a_label_far_beyond_the_distinct_labels_is_refused(tmp_path):
    # was: one label of 10**8 built 100,000,001 class names (7.3 GB)
    _folder(tmp_path)
    write_idx(tmp_path / TRAIN_LABELS, np.array([0, 1, 10**8, 1], np.int32))
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"{tmp_path / TRAIN_LABELS}: label 100,000,000 would make 100,000,001 classes, "
            "but there are only 3 distinct labels; labels must be class indices 0..K-1"
        ),
    ):
        load_dataset(f"idx:{tmp_path}")


def test_non_finite_float_images_name_the_file_and_the_first_bad_sample(tmp_path):
    _folder(tmp_path)
    x = np.zeros((2, 4, 4), np.float32)
    x[1, 2, 3] = np.nan
    write_idx(tmp_path / TEST_IMAGES, x)
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"{tmp_path / TEST_IMAGES}: 1 value is NaN or infinite, the first in sample 1 "
            "at (0, 2, 3) (nan); inputs must be finite numbers"
        ),
    ):
        load_dataset(f"idx:{tmp_path}")


# -- issue 26: class names for IDX data sets ---------------------------------------------


FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt"]


def test_classes_txt_names_the_classes(tmp_path):
    _folder(tmp_path)
    (tmp_path / "classes.txt").write_text("\ufeff" + "\n".join(FASHION[:2]) + "\n\n")
    d = load_dataset(f"idx:{tmp_path}")
    assert d.class_names == ["T-shirt/top", "Trouser"] and d.num_classes == 2


def test_without_classes_txt_classes_are_numbers(tmp_path):
    d = load_dataset(f"idx:{_folder(tmp_path)}")
    assert d.class_names == ["0", "1"]


def test_more_names_than_labels_keep_the_unseen_classes(tmp_path):
    # a subset of Fashion-MNIST holding labels 0 and 1 still has its seven classes
    _folder(tmp_path)
    (tmp_path / "classes.txt").write_text("\n".join(FASHION))
    d = load_dataset(f"idx:{tmp_path}")
    assert d.num_classes == 7 and d.class_names == FASHION


@pytest.mark.parametrize(
    "text,message",
    [
        ("only\n", "names 1 classes, but the labels run to 1 (2 classes)"),
        ("a\n\nb\n", "line 2 is empty; every line names one class"),
        ("a\nb\na\n", "line 3 repeats the class name 'a' of line 1"),
    ],
)
def test_a_bad_classes_txt_is_named(tmp_path, text, message):
    _folder(tmp_path)
    (tmp_path / "classes.txt").write_text(text)
    with pytest.raises(ValueError, match=re.escape(f"{tmp_path / 'classes.txt'}: {message}")):
        load_dataset(f"idx:{tmp_path}")


def test_classes_txt_that_is_a_folder_is_named(tmp_path):
    _folder(tmp_path)
    (tmp_path / "classes.txt").mkdir()
    with pytest.raises(ValueError, match="is a folder, expected a file"):
        load_dataset(f"idx:{tmp_path}")


def test_class_names_reach_a_run_and_predict(tmp_path, capsys):
    from anyconv.cli import main

    rng = np.random.default_rng(0)
    folder = tmp_path / "idx"
    folder.mkdir()
    for part, n in (("train", 40), ("t10k", 10)):
        labels = np.arange(n, dtype=np.uint8) % 2
        images = (rng.integers(0, 60, (n, 8, 8)) + 150 * labels[:, None, None]).astype(np.uint8)
        write_idx(folder / f"{part}-images-idx3-ubyte", images)
        write_idx(folder / f"{part}-labels-idx1-ubyte", labels)
    (folder / "classes.txt").write_text("dark\nbright\n")
    np.save(tmp_path / "x.npy", np.full((8, 8), 220, np.uint8))
    run = tmp_path / "run"
    argv = ["train", "mlp", "--data", f"idx:{folder}", "--epochs", "1", "--threads", "1"]
    assert main([*argv, "--quiet", "--no-pictures", "--out", str(run)]) == 0
    assert main(["predict", str(run), str(tmp_path / "x.npy")]) == 0
    printed = capsys.readouterr().out
    assert "bright" in printed or "dark" in printed
