"""The ``anyconv`` command: every subcommand once, through ``main`` and as a process."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from anyconv.cli import main


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
    ):
        assert (run_dir / name).stat().st_size > 0, name


def test_evaluate_and_predict(run_dir, tmp_path, capsys, monkeypatch):
    from sklearn.datasets import load_digits

    monkeypatch.chdir(tmp_path)  # short names: a table cell shows them whole
    digits = load_digits()
    np.save(tmp_path / "one.npy", digits.images[0] / 16)
    np.save(tmp_path / "batch.npy", digits.images[:3] / 16)
    assert main(["evaluate", str(run_dir)]) == 0
    assert "test accuracy" in capsys.readouterr().out
    assert main(["predict", str(run_dir), "one.npy", "batch.npy"]) == 0
    out = capsys.readouterr().out
    assert "one.npy" in out and "batch.npy[2]" in out


@pytest.mark.parametrize(
    ("argv", "expect"),
    [
        (["models"], "lenet5"),
        (["datasets"], "moving-digits"),
        (["summary", "lenet5"], "61,706"),
        (["summary", "tcn"], "total"),
        (["algorithms"], "matrix"),
        (["demo", "--size", "12,12", "--repeat", "1"], "agree"),
    ],
)
def test_listing_commands(argv, expect, capsys):
    assert main(argv) == 0
    assert expect in capsys.readouterr().out


def test_bad_input_is_a_clear_error_not_a_traceback(capsys):
    assert main(["train", "nosuchnet", "--epochs", "1", "--quiet"]) == 2
    assert "nosuchnet" in capsys.readouterr().out
    assert main(["predict", "/nonexistent", "x.png"]) == 2


def test_python_dash_m_anyconv():
    done = subprocess.run(
        [sys.executable, "-m", "anyconv", "algorithms"], capture_output=True, text=True, check=True
    )
    assert "fft" in done.stdout
