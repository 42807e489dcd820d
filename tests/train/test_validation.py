"""The validation split, the kept model, early stopping and the one test at the end."""

import csv
import io
import json

import pytest
import torch
from rich.console import Console
from safetensors.torch import load_file

from anyconv.train import TrainConfig, evaluate, load_checkpoint, train
from anyconv.train.validation import BestEpoch, stratified_split


def _config(out, **kw):
    settings = dict(model="tiny", epochs=3, batch_size=64, lr=3e-3, augment=False, quiet=True)
    return TrainConfig(out=str(out), pictures=False, **{**settings, **kw})


def test_stratified_split_is_seeded_disjoint_and_per_class():
    y = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)
    train_idx, val_idx = stratified_split(y, 0.1, seed=3)
    assert sorted(torch.cat([train_idx, val_idx]).tolist()) == list(range(100))
    assert torch.bincount(y[val_idx]).tolist() == [5, 3, 2]
    again = stratified_split(y, 0.1, seed=3)[1]
    other = stratified_split(y, 0.1, seed=4)[1]
    assert torch.equal(val_idx, again) and not torch.equal(val_idx, other)
    assert len(stratified_split(y, 0.0, seed=0)[1]) == 0
    one = torch.tensor([0, 1, 1, 1])  # a class of one sample stays in training
    assert one[stratified_split(one, 0.5, 0)[1]].tolist() == [1, 1]
    with pytest.raises(ValueError, match="fraction"):
        stratified_split(y, 1.0, 0)


def test_best_epoch_prefers_accuracy_then_loss_and_stops_after_patience():
    k = BestEpoch(patience=2)
    assert k.update(1, 0.8, 0.5) and k.update(2, 0.8, 0.4) and not k.update(3, 0.8, 0.45)
    assert not k.should_stop(3) and k.should_stop(4) and k.epoch == 2


def test_validation_figures_the_best_model_and_one_test_at_the_end(tmp_path, digits, make_model):
    out = tmp_path / "run"
    stream = io.StringIO()
    metrics = train(
        _config(out, quiet=False), digits, make_model(), console=Console(file=stream, width=250)
    )
    assert "val_acc" in stream.getvalue() and "test_acc" not in stream.getvalue()
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert [r["val_accuracy"] != "" for r in rows] == [True] * 3
    state = load_checkpoint(out / "checkpoint.pt")
    kept = load_file(str(out / "model.safetensors"))
    best = state["best_model"]
    assert metrics["kept_epoch"] == state["keeper"]["epoch"] and metrics["keep"] == "best"
    assert kept.keys() == best.keys() and all(torch.equal(kept[k], best[k]) for k in kept)
    model = make_model()
    model.load_state_dict(kept)
    assert evaluate(model, digits)["accuracy"] == metrics["test_accuracy"]
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["kept_epoch"] == metrics["kept_epoch"] and saved["validation_samples"] == 144


def test_keep_last_keeps_the_last_epoch(tmp_path, digits, make_model):
    out = tmp_path / "run"
    metrics = train(_config(out, keep="last", epochs=2), digits, make_model())
    state = load_checkpoint(out / "checkpoint.pt")
    kept = load_file(str(out / "model.safetensors"))
    assert metrics["kept_epoch"] == 2 and all(torch.equal(kept[k], state["model"][k]) for k in kept)


def test_patience_stops_early_and_a_resume_does_not_train_on(tmp_path, digits, make_model):
    out = tmp_path / "run"
    # lr 0: the validation accuracy never improves after epoch 1
    metrics = train(_config(out, lr=0.0, epochs=10, patience=2), digits, make_model())
    assert metrics["stopped_early"] and metrics["epochs"] == 3 and metrics["kept_epoch"] == 1
    again = train(_config(out, lr=0.0, epochs=10, patience=2, resume=True), digits, make_model())
    assert again["epochs"] == 3 and again["test_accuracy"] == metrics["test_accuracy"]


def test_without_a_validation_split_the_test_split_is_tracked(tmp_path, digits, make_model):
    metrics = train(_config(tmp_path / "a", val_fraction=0, epochs=2), digits, make_model())
    assert metrics["keep"] == "last" and metrics["validation_samples"] == 0
    assert all("test_accuracy" in row for row in metrics["history"])
    assert metrics["test_accuracy"] == metrics["history"][-1]["test_accuracy"]
    with pytest.raises(ValueError, match="keep 'best' needs val_fraction > 0"):
        train(_config(tmp_path / "b", val_fraction=0, keep="best"), digits, make_model())
