"""``ucr:PREFIX``: the UCR archive's TSV layout, label first, NaN-padded series."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from anyconv.data import load_dataset, read_ucr


def _write(tmp_path, train, test, name="Toy", sep="\t"):
    for part, rows in (("TRAIN", train), ("TEST", test)):
        lines = [sep.join(str(v) for v in row) for row in rows]
        (tmp_path / f"{name}_{part}.tsv").write_text("\n".join(lines) + "\n")
    return f"ucr:{tmp_path / name}"


def _zscore(row):
    row = np.asarray(row, float)
    return (row - row.mean()) / row.std()


def test_round_trip_labels_and_z_normalisation(tmp_path):
    rng = np.random.default_rng(0)
    train = [[label, *rng.normal(3, 2, 12).round(4)] for label in (1, -1, 1, 1)]
    test = [[label, *rng.normal(3, 2, 12).round(4)] for label in (-1, 1)]
    d = load_dataset(_write(tmp_path, train, test))
    assert d.kind == "sequence" and d.class_names == ["-1", "1"] and d.num_classes == 2
    assert d.y_train.tolist() == [1, 0, 1, 1] and d.y_test.tolist() == [0, 1]
    assert tuple(d.x_train.shape) == (4, 1, 12) and d.x_train.dtype == torch.float32
    assert d.y_train.dtype == torch.int64
    for x, rows in ((d.x_train, train), (d.x_test, test)):
        for got, row in zip(x[:, 0].numpy(), rows):
            np.testing.assert_allclose(got, _zscore(row[1:]), rtol=1e-5, atol=1e-6)


def test_labels_one_to_k_and_float_spelling_across_files(tmp_path):
    d = load_dataset(_write(tmp_path, [[3, 1, 2], [1.0, 2, 1]], [[2, 0, 1], ["1e0", 5, 3]]))
    assert d.class_names == ["1", "2", "3"]
    assert d.y_train.tolist() == [2, 0] and d.y_test.tolist() == [1, 0]


def test_commas_also_separate(tmp_path):
    d = load_dataset(_write(tmp_path, [[0, 1, 2, 3]], [[1, 3, 2, 1]], sep=","))
    assert d.input_shape == (1, 3) and d.num_classes == 2


def test_nan_padding_is_zero_after_normalising_the_rest(tmp_path):
    train = [[1, 1.0, 2.0, 3.0, "NaN", "NaN"], [2, 5.0, 5.0, 5.0, 5.0, 5.0]]
    d = load_dataset(_write(tmp_path, train, [[1, 4, 2]]))
    np.testing.assert_allclose(d.x_train[0, 0].numpy(), [*_zscore([1, 2, 3]), 0, 0], atol=1e-6)
    assert torch.equal(d.x_train[1], torch.zeros(1, 5))  # a constant series: all zeros
    # the shorter test file is padded to the train length the same way
    np.testing.assert_allclose(d.x_test[0, 0].numpy(), [1, -1, 0, 0, 0], atol=1e-6)


def test_non_numeric_value_gives_line_and_column(tmp_path):
    spec = _write(tmp_path, [[1, 0.5, 1.5], [2, 0.1, "abc"]], [[1, 0, 1]])
    with pytest.raises(
        ValueError,
        match=re.escape(f"{tmp_path / 'Toy_TRAIN.tsv'}: line 2, column 3: 'abc' is not a number"),
    ):
        load_dataset(spec)


def test_ragged_row_gives_line(tmp_path):
    spec = _write(tmp_path, [[1, 0.5, 1.5]], [[1, 0, 1], [2, 1, 2, 3]])
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"{tmp_path / 'Toy_TEST.tsv'}: line 2 has 3 values, but the first line has 2"
        ),
    ):
        load_dataset(spec)


def test_label_only_and_empty_files(tmp_path):
    spec = _write(tmp_path, [[1]], [[1, 0]])
    with pytest.raises(ValueError, match="line 1: a label and no values"):
        load_dataset(spec)
    (tmp_path / "Toy_TRAIN.tsv").write_text("\n\n")
    with pytest.raises(
        ValueError, match=re.escape(f"{tmp_path / 'Toy_TRAIN.tsv'}: no series (the file is empty)")
    ):
        load_dataset(spec)


def test_nan_label(tmp_path):
    with pytest.raises(ValueError, match="line 1, column 1: label 'nan' is not a finite"):
        load_dataset(_write(tmp_path, [["nan", 1, 2]], [[1, 0, 1]]))


def test_missing_test_file(tmp_path):
    spec = _write(tmp_path, [[1, 0, 1]], [[1, 0, 1]])
    (tmp_path / "Toy_TEST.tsv").unlink()
    with pytest.raises(
        FileNotFoundError, match=re.escape(f"{tmp_path / 'Toy_TEST.tsv'}: no such file")
    ):
        load_dataset(spec)


def test_read_ucr_keeps_raw_values(tmp_path):
    (tmp_path / "a.tsv").write_text("2\t10\t20\n")
    x, y = read_ucr(tmp_path / "a.tsv")
    assert x.tolist() == [[10.0, 20.0]] and y.tolist() == [2.0]


def test_prefix_may_be_the_dataset_folder(tmp_path):
    (tmp_path / "Toy").mkdir()
    _write(tmp_path / "Toy", [[1, 0, 1]], [[2, 1, 0]])
    d = load_dataset(f"ucr:{tmp_path / 'Toy'}")
    assert d.num_classes == 2 and d.name == f"ucr:{tmp_path / 'Toy'}"
