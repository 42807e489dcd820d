"""Hostile UCR files: ragged and non-numeric rows, infinite cells, one class."""

from __future__ import annotations

import re

import pytest

from anyconv.data import check_trainable, load_dataset


def _write(tmp_path, train: str, test: str = "1\t0\t1\t2\n2\t2\t1\t0\n"):
    (tmp_path / "X_TRAIN.tsv").write_text(train)
    (tmp_path / "X_TEST.tsv").write_text(test)
    return tmp_path / "X_TRAIN.tsv"


@pytest.mark.parametrize("cell", ["inf", "-inf", "1e999", "-Infinity"])
def test_infinite_cells_are_refused_naming_file_row_and_column(tmp_path, cell):
    # was: the whole series silently became zeros
    path = _write(tmp_path, f"1\t0\t1\t2\n2\t0\t{cell}\t1\n")
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"{path}: line 2, column 3: {cell!r} is infinite; values must be finite numbers "
            "(NaN marks a missing value)"
        ),
    ):
        load_dataset(f"ucr:{tmp_path / 'X'}")


def test_ragged_rows_are_refused(tmp_path):
    path = _write(tmp_path, "1\t0\t1\t2\n2\t0\t1\n")
    with pytest.raises(
        ValueError,
        match=re.escape(f"{path}: line 2 has 2 values, but the first line has 3"),
    ):
        load_dataset(f"ucr:{tmp_path / 'X'}")


@pytest.mark.parametrize("cell", ["abc", "1,5", "0x10", ""])
def test_non_numeric_cells_are_refused(tmp_path, cell):
    path = _write(tmp_path, f"1\t0\t1\t2\n2\t0\t{cell}\t1\n")
    with pytest.raises(ValueError, match=re.escape(f"{path}: line 2, column 3: {cell!r}")):
        load_dataset(f"ucr:{tmp_path / 'X'}")


def test_missing_values_stay_allowed(tmp_path):
    _write(tmp_path, "1\t0\t1\t2\n2\t0\tNaN\t1\n")
    d = load_dataset(f"ucr:{tmp_path / 'X'}")
    assert d.x_train.isfinite().all()


def test_one_class_is_refused_for_training(tmp_path):
    _write(tmp_path, "3\t0\t1\t2\n3\t2\t1\t0\n", "3\t0\t1\t2\n")
    message = "the training split holds one class only ('3')"
    with pytest.raises(ValueError, match=re.escape(message)):
        check_trainable(load_dataset(f"ucr:{tmp_path / 'X'}"))
