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


def test_evaluate_refuses_data_with_other_classes(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--epochs", "1", "--quiet", "--no-plots"]) == 0
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "three.npz",
        x_train=rng.random((6, 1, 8, 8)),
        y_train=np.arange(6) % 3,
        x_test=rng.random((3, 1, 8, 8)),
        y_test=np.arange(3),
    )
    assert main(["evaluate", str(out), "--data", f"npz:{tmp_path / 'three.npz'}"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "10 classes)" in err and "gives image (1, 8, 8), 3 classes" in err
