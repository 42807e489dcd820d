"""Hostile UCR files: ragged and non-numeric rows, infinite cells, one class."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

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


# -- issue 26: what users bring --------------------------------------------------------


def _ts(tmp_path, name, train, test, header="@classLabel true"):
    for part, rows in (("TRAIN", train), ("TEST", test)):
        (tmp_path / f"{name}_{part}.ts").write_text(f"{header}\n@data\n" + "\n".join(rows) + "\n")
    return f"ucr:{tmp_path / name}"


def test_numeric_labels_are_one_class_however_written(tmp_path):
    # was: ['1', '1.0', '2.0', '2'], train [0, 3], test [1, 2]: accuracy 0 by construction
    spec = _ts(tmp_path, "L", ["1,2,3,4:1", "4,3,2,1:2"], ["1,2,3,4:1.0", "4,3,2,1:2.0"])
    d = load_dataset(spec)
    assert d.class_names == ["1", "2"]
    assert d.y_train.tolist() == [0, 1] and d.y_test.tolist() == [0, 1]


def test_declared_numeric_classes_match_their_other_spellings(tmp_path):
    spec = _ts(tmp_path, "D", ["1,2:1.0", "2,1:02"], ["1,2:1e0", "2,1:2"], "@classLabel true 1 2")
    d = load_dataset(spec)
    assert d.class_names == ["1", "2"] and d.y_test.tolist() == [0, 1]


def test_class_order_is_the_same_whatever_order_labels_come_in():
    from anyconv.data.series_files import SeriesFile
    from anyconv.data.ucr import _classes

    labels = ["b", "10", "2", "a", "-1", "0.5", "B"]
    orders = {
        tuple(_classes([SeriesFile([np.zeros((1, 1))] * len(p), list(p))]))
        for p in (labels, labels[::-1], sorted(labels), labels[3:] + labels[:3])
    }
    assert orders == {("-1", "0.5", "2", "10", "B", "a", "b")}


@pytest.mark.parametrize("scale", [1e200, 1e300, 1e-300, 1e-320])
def test_huge_and_tiny_series_are_z_normalised_like_any_other(tmp_path, scale):
    # was: the first series became [0, -0, 0], with numpy's raw "overflow encountered in
    # square"
    import warnings

    values = np.array([1.0, -1.0, 2.0, 0.5])
    rows = ["1\t" + "\t".join(repr(float(v * scale)) for v in values), "2\t3\t2\t1\t0"]
    for part in ("TRAIN", "TEST"):
        (tmp_path / f"Z_{part}.tsv").write_text("\n".join(rows) + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = load_dataset(f"ucr:{tmp_path / 'Z'}")
    # z-normalisation does not see the scale: the same as the series at scale 1 (but for
    # subnormal values, of which only a few significant bits survive in the file)
    expected = (values - values.mean()) / values.std()
    got = d.x_train[0, 0].double().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=2e-2 if scale < 1e-300 else 1e-6)
    assert np.isclose(got.mean(), 0, atol=1e-6) and np.isclose(got.std(), 1, atol=1e-5)


def test_z_normalisation_is_the_textbook_formula_on_ordinary_values():
    from anyconv.data.ucr import znormalise

    rng = np.random.default_rng(0)
    x = rng.normal(5, 3, (4, 2, 30))
    x[0, 1, 20:] = np.nan
    reference = (x - np.nanmean(x, -1, keepdims=True)) / np.nanstd(x, -1, keepdims=True)
    np.testing.assert_allclose(znormalise(x), np.nan_to_num(reference), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("suffix", [".ts", ".tsv", ".arff"])
def test_a_byte_order_mark_is_not_part_of_the_header(tmp_path, suffix):
    # was: "line 1: expected a @ header line ... got '\ufeff@problemName'" and
    # "'\ufeff1' is not a number"
    texts = {
        ".ts": "@problemName X\n@classLabel true a b\n@data\n1,2,3:a\n3,2,1:b\n",
        ".tsv": "1\t1\t2\t3\n2\t3\t2\t1\n",
        ".arff": "@relation r\n@attribute t1 numeric\n@attribute t2 numeric\n"
        "@attribute c {a,b}\n@data\n1,2,a\n2,1,b\n",
    }
    for part in ("TRAIN", "TEST"):
        (tmp_path / f"B_{part}{suffix}").write_bytes(b"\xef\xbb\xbf" + texts[suffix].encode())
    d = load_dataset(f"ucr:{tmp_path / 'B'}")
    assert d.num_classes == 2 and len(d.y_train) == 2


@pytest.mark.parametrize(
    "header,rows,message",
    [
        (
            "@equalLength true\n@classLabel true a b",
            ["1,2,3,4:a", "1,2,3:b"],
            "line 5, dimension 1: 3 values, but the header declares @equalLength true and "
            "the first case has 4",
        ),
        (
            "@seriesLength 4\n@classLabel true a b",
            ["1,2,3,4:a", "1,2,3,4,5:b"],
            "line 5, dimension 1: 5 values, but the header declares @seriesLength 4",
        ),
        (
            "@equalLength true\n@seriesLength 4\n@classLabel true a b",
            ["1,2,3,4:1,2,3:a"],
            "line 5, dimension 2: 3 values, but the header declares @seriesLength 4",
        ),
    ],
)
def test_declared_lengths_are_checked(tmp_path, header, rows, message):
    # was: ragged rows accepted under @equalLength true / @seriesLength 4
    spec = _ts(tmp_path, "E", rows, rows, header)
    with pytest.raises(ValueError, match=re.escape(f"{tmp_path / 'E_TRAIN.ts'}: {message}")):
        load_dataset(spec)


def test_unequal_lengths_declared_as_such_are_read(tmp_path):
    header = "@equalLength false\n@classLabel true a b"
    d = load_dataset(_ts(tmp_path, "U", ["1,2,3,4:a", "1,2:b"], ["1,2:a", "3,1,2:b"], header))
    assert d.input_shape == (1, 4)


def test_quoted_arff_classes_may_hold_commas(tmp_path):
    # was: "\"'a\" is not a number"
    text = (
        "@relation r\n@attribute t1 numeric\n@attribute t2 numeric\n"
        "@attribute target {'a,b',c,\"d e\"}\n@data\n1,2,'a,b'\n3,4,c\n5,6,\"d e\"\n2,1,'a,b'\n"
    )
    for part in ("TRAIN", "TEST"):
        (tmp_path / f"Q_{part}.arff").write_text(text)
    d = load_dataset(f"ucr:{tmp_path / 'Q'}")
    assert d.class_names == ["a,b", "c", "d e"]
    assert d.y_train.tolist() == [0, 1, 2, 0]
    np.testing.assert_allclose(d.x_train[1, 0].numpy(), [-1, 1])


def test_an_unterminated_quoted_arff_label_is_named(tmp_path):
    text = "@relation r\n@attribute t1 numeric\n@attribute c {a,b}\n@data\n1,b'\n"
    for part in ("TRAIN", "TEST"):
        (tmp_path / f"Q_{part}.arff").write_text(text)
    with pytest.raises(ValueError, match="line 5: unterminated quote in the class label"):
        load_dataset(f"ucr:{tmp_path / 'Q'}")


def _ragged(tmp_path, long=20_000, short=300):
    train = "@classLabel true a b\n@data\n" + ",".join(["1.5"] * long) + ":a\n" + "2,3:b\n" * short
    (tmp_path / "S_TRAIN.ts").write_text(train)
    (tmp_path / "S_TEST.ts").write_text("@classLabel true a b\n@data\n1,2:a\n2,1:b\n")
    return f"ucr:{tmp_path / 'S'}"


def test_padding_unequal_lengths_takes_the_padded_array_and_no_more(tmp_path):
    # was: a 404 KB file (one series of 200,000 values, 1,000 short ones) took 9.0 GB: a
    # float64 padded copy, then several more in z-normalising
    import tracemalloc

    spec = _ragged(tmp_path)
    tracemalloc.start()
    try:
        d = load_dataset(spec)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    padded = d.x_train.numel() * 4
    assert d.x_train.shape == (301, 1, 20_000)
    assert peak < 1.5 * padded, (peak, padded)
    assert torch.equal(d.x_train[1], torch.tensor([[-1.0, 1.0] + [0.0] * 19_998]))


def test_padding_beyond_the_memory_available_is_refused_naming_the_file(tmp_path, monkeypatch):
    from anyconv.functional.algorithms import memory

    spec = _ragged(tmp_path)
    monkeypatch.setattr(memory, "available_memory", lambda: 40_000_000)
    message = (
        f"{tmp_path / 'S_TRAIN.ts'}: its series have unequal lengths (2 to 20,000 values) "
        "and are padded at the end to the longest, 20,000 values: 301 x 1 x 20,000 float32 "
        "values would take 24.1 MB, more than 25% of the 40.0 MB of memory available"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        load_dataset(spec)


def test_the_padding_estimate_is_one_line_from_the_command(tmp_path, monkeypatch, capsys):
    from anyconv.cli import main
    from anyconv.functional.algorithms import memory

    spec = _ragged(tmp_path)
    monkeypatch.setattr(memory, "available_memory", lambda: 40_000_000)
    assert main(["train", "fcn", "--data", spec, "--out", str(tmp_path / "run")]) == 2
    out = capsys.readouterr().err
    assert "S_TRAIN.ts: its series have unequal lengths" in out and "Traceback" not in out


def test_available_memory_honours_an_address_space_limit(monkeypatch):
    # under `ulimit -v 3000000` the CLI said "Unable to allocate 1.49 GiB", naming no file:
    # /proc/meminfo does not know the process's own limit
    import resource

    from anyconv.functional.algorithms import memory

    with open("/proc/self/status") as f:
        used = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    limit = used + 100 * 2**20
    monkeypatch.setattr(resource, "getrlimit", lambda kind: (limit, resource.RLIM_INFINITY))
    assert 0 < memory.available_memory() <= 100 * 2**20
    monkeypatch.setattr(resource, "getrlimit", lambda kind: (resource.RLIM_INFINITY,) * 2)
    assert memory.available_memory() > 100 * 2**20
