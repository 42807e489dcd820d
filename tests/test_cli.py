"""The ``anyconv`` command: every subcommand once, through ``main`` and as a process."""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from anyconv.cli import COMMANDS, build_parser, main
from anyconv.padding import PADDING_MODES, PADDING_RULES
from anyconv.train import TrainConfig, load_run, predict
from anyconv.train.config import DEVICES, OPTIMIZERS, SCHEDULES


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main(["train", "lenet5", "--epochs", "2", "--out", str(out), "--quiet"]) == 0
    return out


def test_train_writes_the_run_folder(run_dir):
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and 0.5 < metrics["test_accuracy"] <= 1
    for name in (
        "model.safetensors",
        "config.json",
        "checkpoint.pt",
        "metrics.csv",
        "history.png",
        "confusion.png",
        "filters.png",
        "feature_maps.png",
        "samples.png",
    ):
        assert (run_dir / name).stat().st_size > 0, name


def test_evaluate_and_predict(run_dir, tmp_path, capsys, monkeypatch):
    from sklearn.datasets import load_digits

    monkeypatch.chdir(tmp_path)  # short names: a table cell shows them whole
    digits = load_digits()
    np.save(tmp_path / "one.npy", digits.images[0])  # raw grey levels 0..16, as the files
    np.save(tmp_path / "batch.npy", digits.images[:3])
    assert main(["evaluate", str(run_dir)]) == 0
    assert "test accuracy" in capsys.readouterr().out
    assert main(["predict", str(run_dir), "one.npy", "batch.npy", "--top", "2"]) == 0
    captured = capsys.readouterr()
    assert "one.npy" in captured.out and "batch.npy[2]" in captured.out
    assert captured.err == ""  # the run's normalisation (/16) was applied: no warning
    rows = [line for line in captured.out.splitlines() if "batch.npy[" in line]
    model, _ = load_run(run_dir)  # the classes of the same images as the loader scales them
    x = torch.tensor(digits.images[:3] / 16, dtype=torch.float32).unsqueeze(1)
    expected = [str(int(c)) for c in predict(model, x).argmax(1)]
    assert [row.split("│")[2].strip() for row in rows] == expected


def test_predict_warns_about_arrays_scaled_otherwise(run_dir, tmp_path, capsys):
    from sklearn.datasets import load_digits

    scaled = tmp_path / "scaled.npy"
    np.save(scaled, load_digits().images[:2] / 16)
    assert main(["predict", str(run_dir), str(scaled)]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "warning:" in err and "training inputs spanned [0, 1]" in err and "--scaled" in err
    assert main(["predict", str(run_dir), str(scaled), "--scaled"]) == 0
    assert capsys.readouterr().err == ""
    assert main(["predict", str(run_dir), str(tmp_path)]) == 2
    assert "is a folder; give image or .npy files" in capsys.readouterr().err


def test_evaluate_refuses_data_of_another_shape(run_dir, capsys):
    assert main(["evaluate", str(run_dir), "--data", "moving-digits"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "was trained on digits (image (1, 8, 8), 10 classes); moving-digits gives video" in err


def test_only_rank_0_prints(monkeypatch, capsys):
    monkeypatch.setenv("RANK", "1")
    assert main(["models"]) == 0
    assert main(["train", "nosuchnet"]) == 2
    assert capsys.readouterr() == ("", "")


def test_demo_shows_what_auto_picks(capsys):
    assert main(["demo", "--size", "12,12", "--kernel", "3", "--repeat", "1"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "algorithm='auto' picks native" in out and "agree to" in out


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--groups", "0"], "--groups must be positive"),
        (["--channels", "0"], "--channels must be positive"),
        (["--repeat", "0"], "--repeat must be positive"),
        (["--groups", "3"], "--groups must divide --channels (8)"),
        (["--size", "100000,100000", "--channels", "64"], "TB, above the limit of"),
    ],
)
def test_demo_refuses_bad_sizes_before_allocating(argv, words, capsys):
    assert main(["demo", *argv]) == 2
    assert words in capsys.readouterr().err


def test_summary_refuses_absurd_sizes_with_an_estimate(capsys):
    assert main(["summary", "lenet5", "--input-shape", "1,100000,100000"]) == 2
    assert "would need about 15.1 TB, above the limit of" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "expect"),
    [
        (["models"], "lenet5"),
        (["datasets"], "moving-digits"),
        (["summary", "lenet5"], "61,706"),
        (["summary", "tcn"], "total"),
        (["algorithms"], "matrix"),
    ],
)
def test_listing_commands(argv, expect, capsys):
    assert main(argv) == 0
    assert expect in capsys.readouterr().out


def test_bad_input_is_a_clear_error_not_a_traceback(capsys):
    assert main(["train", "nosuchnet", "--epochs", "1", "--quiet"]) == 2
    assert "nosuchnet" in capsys.readouterr().err
    assert main(["predict", "/nonexistent", "x.png"]) == 2


def _subparser(name):
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def test_every_config_field_is_a_flag_with_the_field_s_help():
    actions = {a.dest: a for a in _subparser("train")._actions}
    helps = TrainConfig.field_help()
    for f in dataclasses.fields(TrainConfig):
        assert f.name in actions, f.name
        if f.name not in ("model", "model_kwargs"):
            assert helps[f.name].split(" (")[0].replace("``", "'")[:20] in actions[f.name].help
    assert actions["optimizer"].choices == OPTIMIZERS
    assert actions["schedule"].choices == SCHEDULES
    assert actions["device"].choices == DEVICES
    demo = {a.dest: a for a in _subparser("demo")._actions}
    assert tuple(demo["padding_mode"].choices) == PADDING_MODES
    assert all(rule in demo["padding"].help for rule in PADDING_RULES)
    assert set(COMMANDS) >= {"train", "evaluate", "predict", "models", "datasets", "algorithms"}


def test_help_texts_show_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for words in ("(default: adamw)", "(default: cosine)", "the recipe of the data set", "-o"):
        assert words in text
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "anyconv train" in capsys.readouterr().out


def test_listings_show_spec_forms_descriptions_and_recipes(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "idx:DIR" in out and "npz:FILE" in out and "30 epochs, batch 100" in out
    assert main(["algorithms"]) == 0
    assert "sparse matrix" in capsys.readouterr().out
    assert main(["models"]) == 0
    assert "causal_time=False" in capsys.readouterr().out


def test_model_and_data_are_checked_in_the_user_s_terms(capsys, tmp_path):
    out = str(tmp_path / "never")
    assert main(["train", "cnn1d", "--out", out]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "cnn1d takes sequences (C, L); digits gives images (1, 8, 8); try --data mnist1d" in err
    assert main(["train", "lenet5", "-o", "widht=3", "--out", out]) == 2
    assert "no option 'widht'; its options are pool" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()


def test_python_dash_m_anyconv():
    done = subprocess.run(
        [sys.executable, "-m", "anyconv", "algorithms"], capture_output=True, text=True, check=True
    )
    assert "fft" in done.stdout
