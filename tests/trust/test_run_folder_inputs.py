"""Issue 26, run folders (C8, S3 and the UNCLEAR list): a config.json whose normalisation,
data options or input sizes were tampered with is refused by predict, evaluate and summary
in one line naming config.json and the key, before any work or allocation."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from anyconv.cli import main


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits") / "run"
    argv = ["train", "--out", str(out), "--epochs", "1", "--quiet", "--no-plots"]
    assert main([*argv, "--threads", "1"]) == 0
    return out


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    """allcnn on RGB 32x32 PNGs resized to 8x8: a global-pooling model, whose weights do
    not depend on the input size (the report's RF)."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for label in ("cat", "dog"):
        (root / label).mkdir()
        for i in range(6):
            pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / label / f"{i}.png")
    out = root.parent / "folder-run"
    argv = ["train", "allcnn", "--data", f"folder:{root}", "--image-size", "8", "-o", "width=4"]
    more = ["--epochs", "1", "--out", str(out), "--quiet", "--no-plots", "--threads", "1"]
    assert main([*argv, *more]) == 0
    return out


def _tampered(run, tmp_path, change):
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    config = json.loads((copy / "config.json").read_text())
    change(config)
    (copy / "config.json").write_text(json.dumps(config))
    return copy


def _refused(argv, capsys):
    assert main(argv) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert err.startswith("error: ") and "Traceback" not in err
    return err


def _norm(**values):
    return lambda c: c["input"]["normalization"].update(values)


DIGITS_CASES = {
    # the report's C8 cases, on a 1-channel run that records {"divide": 16}
    "mean of 2 on 1 channel": (
        _norm(mean=[0.1, 0.2], std=[1, 1]),
        "'input.normalization.mean' must be a list of 1 finite numbers; got [0.1, 0.2]",
    ),
    "mean []": (_norm(mean=[], std=[]), "'input.normalization.mean' must be a list of 1"),
    "mean abc": (_norm(mean="abc", std=[1]), "'input.normalization.mean' must be a list of 1"),
    "std zeros": (_norm(mean=[0], std=[0]), "'input.normalization.std' must be a list of 1 pos"),
    "mean without std": (_norm(mean=[0]), "must hold 'mean' and 'std' together"),
    "divide x": (_norm(divide="x"), "'input.normalization.divide' must be a positive number"),
    "divide 0": (_norm(divide=0), "'input.normalization.divide' must be a positive number"),
    "per_sample other": (_norm(per_sample="rank"), "'input.normalization.per_sample' must be"),
    "min a": (lambda c: c["input"].update(min="a"), "'input.min' must be a finite number"),
    "normalization a list": (
        lambda c: c["input"].update(normalization=[1]),
        "'input.normalization' must be a JSON object",
    ),
    # UNCLEAR: data_options.workers reached the loader twice ("multiple values")
    "data_options workers": (
        lambda c: c.update(data_options={"workers": 2}),
        "'data_options' holds 'workers', which no run records",
    ),
}


@pytest.mark.parametrize("command", ["predict", "evaluate"])
@pytest.mark.parametrize("case", list(DIGITS_CASES))
def test_tampered_normalisation_is_refused_naming_the_key(
    digits_run, tmp_path, capsys, command, case
):
    change, words = DIGITS_CASES[case]
    run = _tampered(digits_run, tmp_path, change)
    np.save(tmp_path / "x.npy", np.zeros((8, 8)))
    inputs = [str(tmp_path / "x.npy")] if command == "predict" else []
    err = _refused([command, str(run), *inputs], capsys)
    assert f"{run / 'config.json'}: malformed run config, " in err and words in err


def _sizes(size):
    def change(config):
        config["input_shape"][1:] = [size, size]
        config["model_kwargs"]["input_size"] = [size, size]
        config["data_options"]["image_size"] = [size, size]

    return change


FOLDER_CASES = {
    # S3: all three records agree on 40000x40000: 19 GB of input, refused by the estimate
    "input of 40000 squared": (_sizes(40000), "one input of 3x40000x40000 through its model"),
    # only one of them changed: the records disagree
    "input_shape alone": (
        lambda c: c.update(input_shape=[3, 40000, 40000]),
        "'model_kwargs.input_size' is [8, 8] but 'input_shape' [3, 40000, 40000]",
    ),
    "image_size alone": (
        lambda c: c["data_options"].update(image_size=[40000, 40000]),
        "'data_options.image_size' is [40000, 40000] but 'input_shape' [3, 8, 8]",
    ),
    "mean of 2 on 3 channels": (
        lambda c: c["data_options"].update(mean=[0.1, 0.2]),
        "'data_options.mean' must be a list of 3 finite numbers or null; got [0.1, 0.2]",
    ),
    "std zeros": (
        lambda c: c["input"]["normalization"].update(std=[0, 0, 0]),
        "'input.normalization.std' must be a list of 3 positive numbers; got [0, 0, 0]",
    ),
    "image_size text": (
        lambda c: c["data_options"].update(image_size="big"),
        "'data_options.image_size' must be a list [H, W] of positive ints",
    ),
}


@pytest.mark.parametrize("command", ["predict", "evaluate", "summary"])
@pytest.mark.parametrize("case", list(FOLDER_CASES))
def test_a_tampered_folder_run_is_refused_before_work(folder_run, tmp_path, capsys, command, case):
    change, words = FOLDER_CASES[case]
    run = _tampered(folder_run, tmp_path, change)
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / "x.png")
    inputs = [str(tmp_path / "x.png")] if command == "predict" else []
    err = _refused([command, str(run), *inputs], capsys)
    assert str(run / "config.json") in err and words in err


def test_the_sound_folder_run_works(folder_run, tmp_path, capsys):
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / "x.png")
    for argv in (["evaluate"], ["summary"], ["predict", "--top", "1"]):
        extra = [str(tmp_path / "x.png")] if argv[0] == "predict" else []
        assert main([*argv, str(folder_run), *extra]) == 0, capsys.readouterr().err


def test_the_data_options_a_run_may_hold_are_those_it_records():
    from anyconv.train.config import DATA_VIEW_OPTIONS
    from anyconv.train.run import RECORDED_DATA_OPTIONS

    assert set(RECORDED_DATA_OPTIONS) == {*DATA_VIEW_OPTIONS, "mean", "std"}
