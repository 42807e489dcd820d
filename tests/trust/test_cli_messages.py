"""Flags that must not be lost, and the small messages of issue 17.7."""

import json

import numpy as np
import pytest
import torch

from anyconv.cli import main
from anyconv.train import TrainConfig


def test_every_flag_reaches_config_json(tmp_path, capsys):
    """Each value differs from its default (zeros and False included): none is lost to an
    ``x or None``."""
    out = tmp_path / "run"
    argv = ["train", "lenet5", "--out", str(out), "--epochs", "1", "--batch-size", "512"]
    argv += ["--lr", "0.01", "--optimizer", "sgd", "--momentum", "0", "--weight-decay", "0"]
    argv += ["--schedule", "none", "--no-augment", "--shift", "0", "--seed", "7"]
    argv += ["--data-seed", "3", "--device", "cpu", "--amp", "--quiet", "--no-plots"]
    argv += ["--eval-batch-size", "100", "-o", "pool=avg", "-o", "activation=tanh"]
    argv += ["--val-fraction", "0", "--keep", "last", "--patience", "3", "--threads", "1"]
    argv += ["--resume", "--overwrite", "--force"]
    threads = torch.get_num_threads()
    try:
        assert main(argv) == 0
    finally:
        torch.set_num_threads(threads)  # --threads sets it for the whole process
    printed = capsys.readouterr().out
    assert "epoch 1/1" not in printed and "test accuracy" in printed  # --quiet
    saved = json.loads((out / "config.json").read_text())
    assert saved["train"] == {
        **TrainConfig().to_dict(),
        "model": "lenet5",
        "model_kwargs": {"pool": "avg", "activation": "tanh"},
        "out": str(out),
        "epochs": 1,
        "batch_size": 512,
        "lr": 0.01,
        "optimizer": "sgd",
        "momentum": 0.0,
        "weight_decay": 0.0,
        "schedule": "none",
        "augment": False,
        "shift": 0,
        "seed": 7,
        "data_seed": 3,
        "device": "cpu",
        "amp": True,
        "quiet": True,
        "pictures": False,
        "eval_batch_size": 100,
        "val_fraction": 0.0,
        "keep": "last",
        "patience": 3,
        "threads": 1,
        "resume": True,
        "overwrite": True,
        "force": True,
    }
    assert saved["model_kwargs"]["pool"] == "avg"
    assert not list(out.glob("*.png"))


# Every TrainConfig flag with the values most easily lost: both directions of each bool
# (against a recipe that says the opposite where one decides it), zeros, and the smallest
# allowed values.
FLAG_VALUES = {
    "data": [("mnist1d", "mnist1d"), ("npz:x.npz", "npz:x.npz")],
    "data_seed": [("0", 0), ("5", 5)],
    "epochs": [("1", 1)],
    "batch_size": [("1", 1)],
    "lr": [("0", 0.0), ("0.5", 0.5)],
    "optimizer": [("sgd", "sgd")],
    "momentum": [("0", 0.0)],
    "weight_decay": [("0", 0.0)],
    "schedule": [("none", "none")],
    "augment": [(True, True), (False, False)],
    "shift": [("0", 0)],
    "seed": [("0", 0), ("9", 9)],
    "device": [("cpu", "cpu")],
    "amp": [(True, True), (False, False)],
    "out": [("somewhere", "somewhere")],
    "resume": [(True, True), (False, False)],
    "overwrite": [(True, True), (False, False)],
    "force": [(True, True), (False, False)],
    "quiet": [(True, True), (False, False)],
    "pictures": [(True, True), (False, False)],
    "eval_batch_size": [("1", 1)],
    "val_fraction": [("0", 0.0)],
    "keep": [("best", "best"), ("last", "last")],
    "patience": [("0", 0), ("2", 2)],
    "threads": [("1", 1)],
    "eval_every": [("1", 1), ("3", 3)],
    "image_size": [("32", [32, 32]), ("24,32", [24, 32])],
    "flip": [(True, True), (False, False)],
    "crop_scale": [("1", 1.0), ("0.5", 0.5)],
    "test_fraction": [("0.5", 0.5)],
    "stream": [(True, True), (False, False)],
    "workers": [("0", 0), ("2", 2)],
    "lengths": [("truncate", "truncate"), ("pad", "pad")],
    "ensemble": [("1", 1), ("2", 2)],
}


def test_the_flag_table_covers_every_config_field():
    from anyconv.train.config import setting_facts

    fields = {name for name, facts in setting_facts().items() if facts.flag}
    assert set(FLAG_VALUES) == fields


@pytest.mark.parametrize("data", ["digits", "mnist1d"])  # recipes: augment on, augment off
@pytest.mark.parametrize(
    ("field", "given", "want"),
    [(f, g, w) for f, pairs in FLAG_VALUES.items() for g, w in pairs],
)
def test_each_flag_value_reaches_the_config(field, given, want, data):
    """From the command line to the dict config.json holds, without training (the test
    above checks that the dict is what config.json gets)."""
    from anyconv.cli import build_parser
    from anyconv.cli.train import config_settings

    flag = "--" + field.replace("_", "-")
    switch = flag if given is True else "--no-" + flag[2:]
    argv = [switch] if isinstance(given, bool) else [flag, given]
    if field != "data":
        argv += ["--data", data]
    args = build_parser().parse_args(["train", "cnn1d" if data == "mnist1d" else "lenet5", *argv])
    saved = TrainConfig(**config_settings(args)).to_dict()
    assert saved[field] == want and type(saved[field]) is type(want)


@pytest.mark.parametrize("flag", ["--seed", "--data-seed"])
def test_seed_overflow_is_a_clear_error(flag, tmp_path, capsys):
    assert main(["train", flag, "99999999999999999999", "--out", str(tmp_path / "r")]) == 2
    assert "must be an int in 0..9223372036854775807 (2**63 - 1)" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_a_diverged_run_says_so_once(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--out", str(out), "--lr", "1e30", "--epochs", "2", "--quiet", "--no-plots"]
    assert main(argv) == 3
    err = capsys.readouterr().err
    assert err.count("training diverged") == 1 and "Try a lower --lr" in err
    assert json.loads((out / "metrics.json").read_text())["status"] == "diverged"


def test_evaluate_refuses_data_of_other_classes_shape_or_kind(tmp_path, capsys):
    """Before, other shapes and kinds ended in PyTorch's "mat1 and mat2 shapes cannot be
    multiplied" or "Got 3D input, but bilinear mode needs 4D input"."""
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--epochs", "1", "--quiet", "--no-plots"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    rng = np.random.default_rng(0)
    for name, classes, size in (("three", 3, 8), ("wide", 10, 12)):
        np.savez(
            tmp_path / f"{name}.npz",
            x_train=rng.random((20, 1, size, size)),
            y_train=np.arange(20) % classes,
            x_test=rng.random((10, 1, size, size)),
            y_test=np.arange(10) % classes,
        )
    cases = {
        f"npz:{tmp_path / 'three.npz'}": "gives image (1, 8, 8), 3 classes",
        f"npz:{tmp_path / 'wide.npz'}": "gives image (1, 12, 12), 10 classes",
        "mnist1d": "mnist1d gives sequence",
    }
    for spec, words in cases.items():
        assert main(["evaluate", str(out), "--data", spec]) == 2
        err = " ".join(capsys.readouterr().err.split())
        assert err.startswith("error: ") and "(image (1, 8, 8), 10 classes)" in err
        assert words in err and "Traceback" not in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


BEYOND_INT64 = str(1 << 70)


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["demo", "--seed", BEYOND_INT64], "'--seed' must be an int in 0..9223372036854775807"),
        (["demo", "--repeat", "0"], "--repeat must be positive"),
        (["demo", "--repeat", BEYOND_INT64], "--repeat must be at most 1000"),
        (["demo", "--stride", BEYOND_INT64], "beyond the 281,474,976,710,656 (2**48)"),
        (["demo", "--dilation", BEYOND_INT64], "beyond the 281,474,976,710,656 (2**48)"),
        (["demo", "--groups", "0"], "--groups must be positive"),
        (["demo", "--channels", "0"], "--channels must be positive"),
        (["summary", "lenet5", "--input-shape", f"{BEYOND_INT64},8,8"], "above the limit of"),
        (["summary", "lenet5", "--num-classes", BEYOND_INT64], "above the limit of"),
        (["summary", "lenet5", "--num-classes", str(10**12)], "would need about 340.0 TB"),
        (["equivariance", "lenet5", "--input-shape", f"{BEYOND_INT64},8,8"], "above the limit of"),
    ],
)
def test_absurd_command_line_values_are_refused_in_one_line(argv, words, capsys):
    """Values beyond int64 used to leak PyTorch's "Overflow when unpacking long long" (demo
    --seed, summary's meta build) or to hang (demo --repeat)."""
    assert main(argv) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert err.startswith("error: ") and words in err
    assert "Overflow" not in err and "frame #" not in err


@pytest.mark.parametrize("command", [["matrix"], ["animate"], ["equivariance", "lenet5"]])
@pytest.mark.parametrize("where", ["a folder", "under a file"])
def test_picture_out_that_is_a_folder_or_under_a_file_is_refused(command, where, tmp_path, capsys):
    """Before, a folder given to ``matrix`` was written next to (``DIR.png``) while the
    folder was reported, ``animate`` failed on an "unknown file extension", and a path
    under a file gave a bare "File exists"."""
    blocker = tmp_path / "blocker"
    blocker.write_text("keep me")
    out = tmp_path if where == "a folder" else blocker / "picture.png"
    assert main([*command, "--out", str(out)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    words = "is a folder; give a file name" if where == "a folder" else "is a file, not a folder"
    assert err.startswith("error: ") and words in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]
    assert not tmp_path.with_suffix(".png").exists() and blocker.read_text() == "keep me"


def test_a_picture_name_without_suffix_is_reported_as_written(tmp_path, capsys):
    assert main(["matrix", "--out", str(tmp_path / "m")]) == 0
    assert str(tmp_path / "m.png") in " ".join(capsys.readouterr().out.split())
    assert (tmp_path / "m.png").is_file()


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--threads", BEYOND_INT64], "'threads' must be an int in 1..1024"),
        (["--shift", BEYOND_INT64], "'shift' must be smaller than the images' height and width"),
        (["--shift", "8"], "height and width (8, 8)"),  # would pad each batch by 8 per side
    ],
)
def test_training_settings_beyond_reason_are_refused_before_the_folder(
    argv, words, tmp_path, capsys
):
    """``--threads`` and ``--shift`` beyond int64 leaked "Overflow when unpacking long
    long"; a shift of a million pixels padded each batch into terabytes."""
    out = tmp_path / "run"
    assert main(["train", *argv, "--out", str(out), "--epochs", "1", "--quiet"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert err.startswith("error: ") and words in err and "Overflow" not in err
    assert not out.exists()
