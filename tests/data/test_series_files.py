"""UCR/UEA files: ``.ts`` and ``.arff`` parsed by hand, checked against sktime's and
SciPy's readers and the datasets sktime ships; ``ucr:PREFIX`` finds the format."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from anyconv.data import load_dataset
from anyconv.data.series_files import read_arff, read_table, read_ts

try:
    import sktime.datasets as sktime_datasets
except ImportError:  # optional: the comparisons below are skipped
    sktime_datasets = None

BUNDLED = Path(sktime_datasets.__file__).parent / "data" if sktime_datasets else None
needs_sktime = pytest.mark.skipif(sktime_datasets is None, reason="needs sktime (test extra)")


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


UNIVARIATE_TS = """# a comment
@problemName Toy
@timeStamps false
@univariate true
@classLabel true up down
@data
1,2,3,4:up
4,3,?,1:down
"""

MULTIVARIATE_TS = """@problemName Toy
@univariate false
@dimensions 2
@equalLength false
@classLabel true 1 2 10
@data
1,2,3:10,20,30:10
4,5:40,50:2
"""


def test_ts_univariate_with_a_missing_value(tmp_path):
    s = read_ts(_write(tmp_path / "a.ts", UNIVARIATE_TS))
    assert s.x.shape == (2, 1, 4) and s.labels == ["up", "down"] and s.classes == ["up", "down"]
    np.testing.assert_array_equal(s.x[1, 0], [4, 3, np.nan, 1])


def test_ts_multivariate_unequal_lengths_are_padded(tmp_path):
    s = read_ts(_write(tmp_path / "a.ts", MULTIVARIATE_TS))
    assert s.x.shape == (2, 2, 3)
    np.testing.assert_array_equal(s.x[1], [[4, 5, np.nan], [40, 50, np.nan]])


@pytest.mark.parametrize(
    "text,message",
    [
        (UNIVARIATE_TS.replace("1,2,3,4", "1,2,x,4"), "line 7, dimension 1, value 3: 'x' is not"),
        (UNIVARIATE_TS.replace("1,2,3,4", "1,2,1e999,4"), "line 7, dimension 1, value 3: '1e999'"),
        (UNIVARIATE_TS.replace("4,3,?,1:down", "4,3,?,1:left"), "case 2 has label 'left'"),
        (UNIVARIATE_TS.replace("4,3,?,1:down", "4,3:1,1:down"), "line 8: 2 dimensions, but the"),
        (UNIVARIATE_TS.replace("@data\n", ""), "expected a @ header line or @data"),
        (UNIVARIATE_TS.replace("false", "true"), "@timeStamps true is not supported"),
        ("@classLabel true a\n@data\n", "no series after @data"),
    ],
)
def test_ts_errors_name_file_line_and_position(tmp_path, text, message):
    path = _write(tmp_path / "a.ts", text)
    with pytest.raises(ValueError, match=re.escape(f"{path}: ") + ".*" + re.escape(message)):
        read_ts(path)


UNIVARIATE_ARFF = """% comment
@relation Toy
@attribute t0 numeric
@attribute t1 numeric
@attribute t2 numeric
@attribute target {a,b}
@data
1,2,3,b
4,?,6,a
"""

RELATIONAL_ARFF = """@relation Toy
@attribute series relational
  @attribute t0 numeric
  @attribute t1 numeric
  @attribute t2 numeric
@end series
@attribute class {x,y,z}
@data
'1,2,3\\n4,5,6',z
'7,8,9\\n10,11,?',x
"""


def test_arff_univariate_agrees_with_scipy(tmp_path):
    scipy_arff = pytest.importorskip("scipy.io.arff")
    path = _write(tmp_path / "a.arff", UNIVARIATE_ARFF)
    s = read_arff(path)
    data, _ = scipy_arff.loadarff(path)
    expected = np.array([[row[f"t{i}"] for i in range(3)] for row in data])
    np.testing.assert_array_equal(s.x[:, 0], expected)
    assert s.labels == [row["target"].decode() for row in data] and s.classes == ["a", "b"]


@needs_sktime
def test_arff_relational_agrees_with_sktime(tmp_path):
    path = _write(tmp_path / "a.arff", RELATIONAL_ARFF)
    s = read_arff(path)
    frame, labels = sktime_datasets.load_from_arff_to_dataframe(str(path))
    assert s.x.shape == (2, 2, 3) and list(labels) == s.labels == ["z", "x"]
    for n in range(2):
        for c in range(2):
            np.testing.assert_array_equal(s.x[n, c], frame.iloc[n, c].to_numpy(float))


@pytest.mark.parametrize(
    "text,message",
    [
        (
            UNIVARIATE_ARFF.replace("4,?,6,a", "4,6,a"),
            "line 9: 2 values, but the header declares 3",
        ),
        (UNIVARIATE_ARFF.replace("4,?,6,a", "4,inf,6,a"), "line 9, value 2: 'inf' is infinite"),
        (UNIVARIATE_ARFF.replace("4,?,6,a", "4,?,6,c"), "case 2 has label 'c'"),
        (UNIVARIATE_ARFF.replace("t1 numeric", "t1 string"), "attribute 't1' is 'string'"),
        (UNIVARIATE_ARFF.replace("{a,b}", "numeric"), "must be the nominal class"),
        (UNIVARIATE_ARFF.replace("4,?,6,a", "{0 4, 3 a}"), "sparse ARFF rows are not supported"),
    ],
)
def test_arff_errors(tmp_path, text, message):
    path = _write(tmp_path / "a.arff", text)
    with pytest.raises(ValueError, match=re.escape(f"{path}: ") + ".*" + re.escape(message)):
        read_arff(path)


@needs_sktime
@pytest.mark.parametrize(
    "name,shape",
    [
        ("ArrowHead", (36, 1, 251)),
        ("ItalyPowerDemand", (67, 1, 24)),
        ("BasicMotions", (40, 6, 100)),  # multivariate
        ("JapaneseVowels", (270, 12, 26)),  # multivariate, unequal lengths
    ],
)
def test_bundled_ts_files_agree_with_sktime(name, shape):
    path = BUNDLED / name / f"{name}_TRAIN.ts"
    s = read_ts(path)
    frame, labels = sktime_datasets.load_from_tsfile_to_dataframe(str(path))
    assert s.x.shape == shape
    # sktime lower-cases labels; anyconv keeps them as written
    assert [v.lower() for v in s.labels] == [str(v) for v in labels]
    for n in range(len(frame)):
        for c in range(frame.shape[1]):
            v = frame.iloc[n, c].to_numpy(float)
            np.testing.assert_array_equal(s.x[n, c, : len(v)], v)
            assert np.isnan(s.x[n, c, len(v) :]).all()


@needs_sktime
def test_ucr_prefix_finds_the_ts_pair_and_normalises_each_channel():
    d = load_dataset(f"ucr:{BUNDLED / 'BasicMotions'}")
    assert d.input_shape == (6, 100) and d.num_classes == 4 and d.kind == "sequence"
    assert d.class_names == ["Badminton", "Running", "Standing", "Walking"]
    np.testing.assert_allclose(d.x_train.mean(-1), 0, atol=1e-5)
    np.testing.assert_allclose(d.x_train.std(-1, unbiased=False), 1, atol=1e-4)


def test_ucr_prefers_ts_and_needs_both_files_of_a_format(tmp_path):
    _write(tmp_path / "X_TRAIN.ts", UNIVARIATE_TS)
    _write(tmp_path / "X_TEST.ts", UNIVARIATE_TS)
    _write(tmp_path / "X_TRAIN.tsv", "1\t0\t1\n2\t1\t0\n")  # no X_TEST.tsv: ignored
    d = load_dataset(f"ucr:{tmp_path / 'X'}")
    assert d.class_names == ["down", "up"] and d.input_shape == (1, 4)
    (tmp_path / "X_TEST.ts").unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(f"{tmp_path / 'X_TEST.ts'}: no such")):
        load_dataset(f"ucr:{tmp_path / 'X'}")
    (tmp_path / "X_TRAIN.ts").unlink()
    (tmp_path / "X_TRAIN.tsv").unlink()
    with pytest.raises(FileNotFoundError, match=re.escape("as .ts, .arff, .tsv or .txt")):
        load_dataset(f"ucr:{tmp_path / 'X'}")


def test_ucr_arff_multivariate_and_unequal_train_test_lengths(tmp_path):
    _write(tmp_path / "M_TRAIN.arff", RELATIONAL_ARFF)
    _write(tmp_path / "M_TEST.arff", RELATIONAL_ARFF.replace("'1,2,3\\n4,5,6',z", "'1,2\\n3,4',y"))
    d = load_dataset(f"ucr:{tmp_path / 'M'}")
    assert d.input_shape == (2, 3) and d.class_names == ["x", "y", "z"]
    assert d.y_train.tolist() == [2, 0] and d.y_test.tolist() == [1, 0]
    assert float(d.x_test[0, 0, 2]) == 0.0  # padding becomes the (zero) mean


def test_table_labels_are_one_class_however_written(tmp_path):
    s = read_table(_write(tmp_path / "a.tsv", "1\t0\t1\n1.0\t1\t0\n1e0\t2\t2\n"))
    assert s.labels == ["1", "1", "1"]


@needs_sktime
@pytest.mark.parametrize("rule", ["pad", "truncate"])
def test_unequal_lengths_follow_the_stated_rule(rule):
    """JapaneseVowels (UEA: 12 channels, 7 to 29 values): padded to the longest or cut to
    the shortest, each series z-normalised over what is kept, against sktime's reader."""
    from anyconv.data.ucr import znormalise

    d = load_dataset(f"ucr:{BUNDLED / 'JapaneseVowels'}", lengths=rule)
    frame, _ = sktime_datasets.load_from_tsfile_to_dataframe(
        str(BUNDLED / "JapaneseVowels" / "JapaneseVowels_TRAIN.ts")
    )
    cases = [np.stack([frame.iloc[i, c].to_numpy() for c in range(12)]) for i in range(len(frame))]
    sizes = [c.shape[1] for c in cases]
    length = d.input_shape[1]
    assert d.input_shape[0] == 12 and length == (29 if rule == "pad" else 7)
    assert (max(sizes), min(sizes)) == (26, 7)  # the test split's longest is 29
    for i in (0, int(np.argmin(sizes)), int(np.argmax(sizes))):
        kept = cases[i][:, :length]
        expected = np.zeros((12, length))
        expected[:, : kept.shape[1]] = znormalise(kept)
        np.testing.assert_allclose(d.x_train[i].numpy(), expected, atol=1e-5)


def test_the_length_rule_is_checked_and_recorded_in_the_run(tmp_path):
    from anyconv.train import TrainConfig, train

    for part in ("TRAIN", "TEST"):
        rows = [",".join(str(v) for v in range(3 + i % 4)) + f":{'ab'[i % 2]}" for i in range(8)]
        (tmp_path / f"R_{part}.ts").write_text("@classLabel true a b\n@data\n" + "\n".join(rows))
    with pytest.raises(ValueError, match="argument 'lengths' must be one of 'pad', 'truncate'"):
        load_dataset(f"ucr:{tmp_path / 'R'}", lengths="resample")
    assert load_dataset(f"ucr:{tmp_path / 'R'}", lengths="truncate").input_shape == (1, 3)
    config = TrainConfig(
        model="fcn",
        data=f"ucr:{tmp_path / 'R'}",
        lengths="truncate",
        epochs=1,
        quiet=True,
        pictures=False,
        out=str(tmp_path / "run"),
    )
    train(config)
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())
    assert recorded["data_options"]["lengths"] == "truncate" and recorded["input_shape"] == [1, 3]
