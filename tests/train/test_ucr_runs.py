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


def test_minirocket_is_fitted_in_one_pass_through_the_same_run_folder(tmp_path):
    spec = _ts(tmp_path)
    out = tmp_path / "mr"
    assert main(["train", "minirocket", "--data", spec, "--out", str(out), "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 1 and metrics["history"][0]["lr"] is None
    assert metrics["fit"]["classifier"] == "ridge" and metrics["fit"]["features"] == 9996
    assert metrics["test_accuracy"] >= 0.9
    # no history curve for one pass; the network's own pictures are drawn
    names = {p.name for p in out.iterdir()}
    assert {"confusion.png", "filters.png", "feature_maps.png", "samples.png"} <= names
    assert "history.png" not in names
    # evaluate rebuilds the fitted model from the run folder: the same accuracy
    from anyconv.train import evaluate, load_run
    from anyconv.train.run import load_run_data

    model, config = load_run(out)
    assert evaluate(model, load_run_data(config))["accuracy"] == metrics["test_accuracy"]
    # a finished run resumes to the same result without fitting again
    again = train(TrainConfig(model="minirocket", data=spec, out=str(out), resume=True, quiet=True))
    assert again["test_accuracy"] == metrics["test_accuracy"] and again["epochs"] == 1


def test_minirocket_refuses_epochs(tmp_path):
    import pytest

    spec = _ts(tmp_path)
    with pytest.raises(ValueError, match="argument 'epochs' must be 1 for minirocket"):
        train(TrainConfig(model="minirocket", data=spec, epochs=3, out=str(tmp_path / "r")))


def test_an_ensemble_averages_its_members_probabilities(tmp_path):
    from anyconv.models import Ensemble
    from anyconv.train import load_run, predict
    from anyconv.train.run import load_run_data

    spec = _ts(tmp_path)
    out = tmp_path / "ens"
    common = dict(model="fcn", data=spec, epochs=2, quiet=True, pictures=False, out=str(out))
    metrics = train(TrainConfig(**common, ensemble=3, seed=4))
    assert [m["seed"] for m in metrics["members"]] == [4, 5, 6]
    members = [load_run(out / f"member-{i}")[0] for i in (1, 2, 3)]
    model, config = load_run(out)
    assert isinstance(model, Ensemble) and config["members"] == ["member-1", "member-2", "member-3"]
    data = load_run_data(config)
    x, y = data.tensors("test")
    # the average of the members' probabilities, computed here from each member alone
    mean = sum(predict(m, x) for m in members) / 3
    torch.testing.assert_close(predict(model, x), mean, rtol=1e-5, atol=1e-6)
    assert metrics["test_accuracy"] == (mean.argmax(1) == y).float().mean().item()
    # each member is the run a single training with its seed gives
    single = train(TrainConfig(**{**common, "out": str(tmp_path / "s")}, seed=5))
    assert single["test_accuracy"] == metrics["members"][1]["test_accuracy"]
    # resuming keeps the finished members and tests the ensemble again
    again = train(TrainConfig(**common, ensemble=3, seed=4, resume=True))
    assert again["test_accuracy"] == metrics["test_accuracy"]
