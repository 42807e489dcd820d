import csv
import json

import pytest
import torch
from safetensors.torch import load_file

from anyconv.train import (
    TrainConfig,
    TrainingDiverged,
    evaluate,
    load_checkpoint,
    load_run,
    predict,
    train,
)


def _config(out, **kw):
    kw = {
        "model": "tiny_cnn",
        "epochs": 2,
        "batch_size": 32,
        "lr": 2e-3,
        "augment": False,
        "quiet": True,
        "pictures": False,
        "out": str(out),
        **kw,
    }
    return TrainConfig(**kw)


def _weights(run_dir):
    return load_file(str(run_dir / "model.safetensors"))


def test_same_seed_same_weights_other_seed_other_weights(tmp_path, digits, make_model, device):
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        config = _config(tmp_path / name, seed=seed, augment=True, device=device)
        train(config, digits, make_model(seed))
    a, b, c = (_weights(tmp_path / n) for n in "abc")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_learns_digits_and_writes_the_run_folder(tmp_path, digits, make_model, device):
    out = tmp_path / "run"
    config = _config(out, epochs=4, lr=3e-3, pictures=True, device=device)
    metrics = train(config, digits, make_model())
    assert metrics["device"].startswith(device)
    assert metrics["test_accuracy"] > 0.9
    names = {p.name for p in out.iterdir()}
    assert {
        "metrics.json",
        "metrics.csv",
        "model.safetensors",
        "config.json",
        "checkpoint.pt",
        "history.png",
        "confusion.png",
        "filters.png",
        "feature_maps.png",
    } <= names
    saved = json.loads((out / "metrics.json").read_text())
    for key in (
        "test_accuracy",
        "train_seconds",
        "epochs",
        "parameters",
        "history",
        "confusion",
        "status",
    ):
        assert key in saved
    assert saved["status"] == "finished" and saved["epochs"] == 4
    assert saved["parameters"] == sum(p.numel() for p in make_model().parameters())
    assert set(saved["history"][0]) >= {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    best = max(saved["history"], key=lambda r: (r["val_accuracy"], -r["val_loss"]))
    assert saved["kept_epoch"] == best["epoch"] and saved["keep"] == "best"
    assert float(rows[best["epoch"] - 1]["val_accuracy"]) == saved["best_val_accuracy"]
    assert rows[0]["test_accuracy"] == ""  # the test split is touched once, at the end
    assert sum(map(sum, saved["confusion"])) == len(digits.y_test)
    config = json.loads((out / "config.json").read_text())
    # Issue 26.5: a model given as an object is recorded as what it is, not as the
    # config's model name; its constructor arguments are unknown.
    assert config["model"] == config["model_class"] == "torch.nn.modules.container:Sequential"
    assert config["model_source"] == "object" and config["model_kwargs"] == {}
    assert saved["model"] == config["model"] and config["train"]["model"] == config["model"]
    assert config["class_names"] == digits.class_names


def test_checkpoint_loads_with_weights_only_and_load_run_rebuilds(tmp_path, digits, tiny_cnn):
    out = tmp_path / "run"
    metrics = train(_config(out, epochs=1), digits)  # built through create_model
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 1 and set(state["rng"]) == {"torch", "generator", "cuda"}
    # 1437 digits less a stratified tenth (144) held out for validation: 41 steps of 32
    assert metrics["validation_samples"] == 144
    assert load_checkpoint(out / "checkpoint.pt")["step"] == state["step"] == 41
    model, config = load_run(out)
    assert config["model"] == tiny_cnn and not model.training
    again = evaluate(model, digits, batch_size=100)
    assert again["accuracy"] == pytest.approx(metrics["test_accuracy"])
    assert torch.equal(again["confusion"], torch.tensor(metrics["confusion"]))
    probs = predict(model, digits.x_test[:5])
    assert probs.shape == (5, 10) and torch.allclose(probs.sum(1), torch.ones(5))


def test_load_run_names_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"config\.json is missing"):
        load_run(tmp_path)


class _Crash(Exception):
    pass


class _Faulty(torch.nn.Module):
    """Wraps a model; from training forward call ``at`` on, returns NaN or raises."""

    def __init__(self, inner, at, mode):
        super().__init__()
        self.inner, self.at, self.mode, self.calls = inner, at, mode, 0

    def forward(self, x):
        if self.training:
            self.calls += 1
            if self.calls >= self.at:
                if self.mode == "crash":
                    raise _Crash
                return self.inner(x) * float("nan")
        return self.inner(x)


def test_nan_loss_stops_with_the_step_and_keeps_the_last_checkpoint(
    tmp_path, digits, make_model, device
):
    out = tmp_path / "run"
    # 41 steps per epoch: call 50 is step 9 of epoch 2.
    with pytest.raises(TrainingDiverged, match="epoch 2, step 9") as caught:
        config = _config(out, epochs=3, device=device)
        train(config, digits, _Faulty(make_model(), 50, "nan"))
    assert (caught.value.epoch, caught.value.step, caught.value.global_step) == (2, 9, 50)
    state = load_checkpoint(out / "checkpoint.pt")
    assert state["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in state["model"].values())
    assert all(torch.isfinite(v).all() for v in _weights(out).values())
    assert json.loads((out / "metrics.json").read_text())["status"] == "diverged"


def test_resume_after_a_crash_gives_the_uninterrupted_weights(tmp_path, digits, make_model, device):
    never = 10**9
    train(
        _config(tmp_path / "full", epochs=3, augment=True, device=device),
        digits,
        _Faulty(make_model(), never, "crash"),
    )
    out = tmp_path / "crashed"
    with pytest.raises(_Crash):  # dies in epoch 3 (41 steps each), after two checkpoints
        config = _config(out, epochs=3, augment=True, device=device)
        train(config, digits, _Faulty(make_model(), 100, "crash"))
    assert load_checkpoint(out / "checkpoint.pt")["epoch"] == 2
    # A fresh, differently initialised model: everything must come from the checkpoint.
    metrics = train(
        _config(out, epochs=3, augment=True, resume=True, device=device),
        digits,
        _Faulty(make_model(9), never, "crash"),
    )
    full, resumed = _weights(tmp_path / "full"), _weights(out)
    assert all(torch.equal(full[k], resumed[k]) for k in full)
    assert [r["epoch"] for r in metrics["history"]] == [1, 2, 3]


def test_resume_refuses_a_changed_setting(tmp_path, digits, make_model):
    train(_config(tmp_path, epochs=1), digits, make_model())
    with pytest.raises(ValueError, match=r"different lr"):
        train(_config(tmp_path, epochs=2, lr=0.1, resume=True), digits, make_model())


def test_sgd_onecycle_and_sequences(tmp_path, device):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(80, 2, 16, generator=g)
    y = (x[:, 0].mean(1) > 0).long()
    from anyconv.data.base import Splits

    data = Splits(x[:64], y[:64], x[64:], y[64:], num_classes=2, kind="sequence", name="seq")
    net = torch.nn.Sequential(
        torch.nn.Conv1d(2, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(56, 2)
    )
    metrics = train(
        _config(
            tmp_path,
            optimizer="sgd",
            schedule="onecycle",
            lr=0.05,
            augment=True,
            pictures=True,
            device=device,
        ),
        data,
        net,
    )
    from anyconv.train.run import PICTURES

    assert metrics["epochs"] == 2  # every picture but cam.png (no class activation maps)
    assert metrics["pictures"] == [name for name in PICTURES if name != "cam.png"]
