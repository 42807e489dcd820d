"""Training on ucr: data: the fcn/resnet1d recipe, evaluation every N epochs, the class
activation map in the run folder."""

from __future__ import annotations

import json

import numpy as np
import torch

from anyconv.cli import main
from anyconv.train import TrainConfig, load_checkpoint, train


def _ts(root, n=24, length=30, seed=0):
    """Two classes: a bump early or late in the series."""
    rng = np.random.default_rng(seed)
    for part in ("TRAIN", "TEST"):
        lines = ["@problemName Bumps", "@univariate true", "@classLabel true early late", "@data"]
        for i in range(n):
            label = ("early", "late")[i % 2]
            x = rng.normal(0, 0.3, length)
            centre = 8 if label == "early" else 22
            x[centre - 3 : centre + 3] += 3
            lines.append(",".join(f"{v:.4f}" for v in x) + f":{label}")
        (root / f"Bumps_{part}.ts").write_text("\n".join(lines) + "\n")
    return f"ucr:{root / 'Bumps'}"


def test_fcn_on_ucr_takes_its_recipe_and_draws_the_cam(tmp_path):
    spec = _ts(tmp_path)
    out = tmp_path / "run"
    assert (
        main(["train", "fcn", "--data", spec, "--epochs", "3", "--out", str(out), "--quiet"]) == 0
    )
    config = json.loads((out / "config.json").read_text())["train"]
    assert config["optimizer"] == "adamw" and config["weight_decay"] == 0.0
    assert config["val_fraction"] == 0.0  # the papers' protocol: all of the training split
    assert config["lr"] == 1e-3 and config["batch_size"] == 16 and config["epochs"] == 3
    assert (out / "cam.png").stat().st_size > 10_000
    # an explicit setting wins over the recipe
    out2 = tmp_path / "run2"
    argv = ["train", "fcn", "--data", spec, "--epochs", "1", "--lr", "0.01", "--out", str(out2)]
    assert main([*argv, "--quiet"]) == 0
    assert json.loads((out2 / "config.json").read_text())["train"]["lr"] == 0.01


def test_evaluation_and_checkpoints_every_n_epochs(tmp_path):
    spec = _ts(tmp_path)
    common = dict(model="fcn", data=spec, batch_size=8, quiet=True, pictures=False)
    metrics = train(TrainConfig(**common, epochs=5, eval_every=2, out=str(tmp_path / "a")))
    tested = [r["test_accuracy"] is not None for r in metrics["history"]]
    assert tested == [False, True, False, True, True]
    assert metrics["test_accuracy"] == metrics["history"][-1]["test_accuracy"]
    assert load_checkpoint(tmp_path / "a" / "checkpoint.pt")["epoch"] == 5
    # evaluating less often changes nothing else: the same weights as evaluating every epoch
    train(TrainConfig(**common, epochs=5, eval_every=1, out=str(tmp_path / "b")))
    a, b = (load_checkpoint(tmp_path / n / "checkpoint.pt")["model"] for n in "ab")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_eval_every_applies_to_the_validation_split(tmp_path):
    spec = _ts(tmp_path)
    config = TrainConfig(
        model="fcn",
        data=spec,
        batch_size=8,
        epochs=5,
        eval_every=2,
        val_fraction=0.25,
        quiet=True,
        pictures=False,
        out=str(tmp_path / "run"),
    )
    metrics = train(config)
    history = metrics["history"]
    assert [r["val_accuracy"] is not None for r in history] == [False, True, False, True, True]
    assert all("test_accuracy" not in r for r in history)  # tested once, at the end
    assert metrics["validation_samples"] == 6 and metrics["kept_epoch"] in (2, 4, 5)
    assert metrics["test_accuracy"] is not None
