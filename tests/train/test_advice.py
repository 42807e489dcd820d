"""Issue 26.6 and 26.7: a run says when its test accuracy is at chance or it took too few
steps, scales the fallback recipe's epochs to small data, and hints at --threads when the
machine is busy or the throughput collapses."""

import json

import torch

from anyconv.data.base import Splits
from anyconv.train import TrainConfig, Trainer, advice, train
from anyconv.train.recipes import epochs_for_steps


def _data(n_train=40, n_test=30, classes=3, spec="small"):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n_train + n_test, 1, 6, 6, generator=g)
    y = torch.arange(n_train + n_test) % classes
    return Splits(
        x[:n_train],
        y[:n_train],
        x[n_train:],
        y[n_train:],
        num_classes=classes,
        kind="image",
        name=spec,
    )


def _constant_net(classes=3):
    """Always answers class 0: a zero linear layer (argmax of equal logits)."""
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(36, classes))
    torch.nn.init.zeros_(net[1].weight)
    torch.nn.init.zeros_(net[1].bias)
    return net


# -- the rules ---------------------------------------------------------------------------


def test_chance_is_the_majority_class_within_two_standard_errors():
    balanced = torch.tensor([[10, 0, 0], [10, 0, 0], [10, 0, 0]])
    assert "predicts one class for every sample" in advice.chance_warning(balanced, "abc")
    # 40% on 30 balanced samples: majority 33.3% + 2 * 8.6% = 50.5% -> at chance
    assert advice.chance_warning(torch.tensor([[6, 2, 2], [3, 4, 3], [4, 4, 2]]), "abc")
    # 90%: learned
    assert advice.chance_warning(torch.tensor([[9, 1, 0], [0, 9, 1], [1, 0, 9]]), "abc") is None
    # 90% on data that is 90% one class is chance too
    skewed = torch.tensor([[90, 0], [10, 0]])
    said = advice.chance_warning(skewed, ["cat", "dog"])
    assert "('cat') scores 90.00% on these 100 test samples" in said
    assert advice.chance_warning(torch.zeros(2, 2, dtype=torch.long), "ab") is None


def test_steps_note_and_the_scaled_fallback_epochs_agree():
    assert advice.steps_note(advice.MIN_STEPS, 1, 300) is None
    note = advice.steps_note(40, 2, 20)
    wanted = epochs_for_steps(20, 2)
    assert f"--epochs {wanted} would give {2 * wanted}" in note and 2 * wanted >= advice.MIN_STEPS
    assert epochs_for_steps(20, 1000) == 20  # enough steps: unchanged


def test_hints_need_more_than_one_thread_and_a_reason():
    assert advice.busy_machine_hint(threads=4, load=3.9, cpus=4) is None
    assert "--threads 1" in advice.busy_machine_hint(threads=4, load=9.0, cpus=4)
    assert advice.throughput_hint([300.0], threads=2) is None  # nothing to compare
    assert advice.throughput_hint([300.0, 100.0], threads=2) is None  # 3x: not a collapse
    assert "from 300 to 21 samples/s" in advice.throughput_hint([300.0, 250.0, 21.0], threads=2)


# -- in a run ----------------------------------------------------------------------------


def _config(out, **kw):
    settings = dict(model="lenet5", data="npz:small.npz", quiet=True, pictures=False)
    return TrainConfig(**{**settings, "out": str(out), **kw})


def test_the_fallback_recipe_trains_small_data_for_enough_steps(tmp_path):
    """The reported case: 20 epochs of batch 64 on under a hundred samples were 40 steps."""
    config = _config(tmp_path, val_fraction=0.0)
    assert config.epochs == 20 and config.batch_size == 64 and "epochs" in config.from_fallback
    trainer = Trainer(config, _data(n_train=130), _constant_net())
    assert trainer.feed.steps_per_epoch == 3 and trainer.config.epochs == 100
    assert trainer.total_steps >= advice.MIN_STEPS
    assert "the fallback recipe's 20 epochs become 100" in trainer.notes[0]
    assert config.epochs == 20  # the caller's config is left as it was
    # given epochs, or a data set's own recipe, are never changed
    given = Trainer(_config(tmp_path, epochs=20, val_fraction=0.0), _data(130), _constant_net())
    assert given.config.epochs == 20 and not given.notes
    own = Trainer(_config(tmp_path, data="digits"), _data(130), _constant_net())
    assert own.config.epochs == 50 and not own.notes
    plenty = Trainer(_config(tmp_path, val_fraction=0.0), _data(n_train=64 * 300), _constant_net())
    assert plenty.config.epochs == 20 and not plenty.notes


def test_a_run_at_chance_says_so_at_the_end(tmp_path, capsys):
    metrics = train(_config(tmp_path, epochs=2, lr=0.0, batch_size=8), _data(), _constant_net())
    err = " ".join(capsys.readouterr().err.split())
    assert "warning: test accuracy 33.33% is at chance" in err
    assert "predicts one class for every sample" in err
    assert "warning: only 10 optimiser steps (5 per epoch, 2 epochs)" in err
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["notes"] == metrics["notes"]
    assert [line.split(":")[0] for line in metrics["notes"]] == ["warning", "warning", "note"]


def test_a_run_that_learned_says_nothing(tmp_path, tiny, capsys):
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(36, 2))
    config = _config(tmp_path, epochs=40, batch_size=8, lr=1e-2, val_fraction=0, eval_every=40)
    metrics = train(config, tiny, net)
    assert metrics["test_accuracy"] > 0.9
    assert [line.split(":")[0] for line in metrics["notes"]] == ["note"]  # the object only
    assert "warning" not in capsys.readouterr().err


def test_a_busy_machine_gets_a_hint_about_threads_at_the_start(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(advice.os, "getloadavg", lambda: (64.0, 64.0, 64.0))
    train(_config(tmp_path, epochs=1, threads=2, batch_size=8), _data(), _constant_net())
    err = " ".join(capsys.readouterr().err.split())
    assert "hint: the machine is busy (load average 64.0 on" in err and "--threads 1" in err
    monkeypatch.setattr(advice.os, "getloadavg", lambda: (64.0, 64.0, 64.0))
    train(_config(tmp_path / "one", epochs=1, threads=1, batch_size=8), _data(), _constant_net())
    assert "hint:" not in capsys.readouterr().err  # one thread: nothing to gain


def test_a_collapse_of_throughput_gets_one_hint(tmp_path, monkeypatch, capsys):
    """The reported case: 300+ samples/s idle, 21 under load, with the default 2 threads."""
    monkeypatch.setattr(advice.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    original = Trainer.train_epoch

    def slowed(self, epoch, progress=None):
        row = original(self, epoch, progress)
        row["seconds"] *= 1 if epoch < 3 else 50.0  # as if others took the cores
        return row

    monkeypatch.setattr(Trainer, "train_epoch", slowed)
    train(_config(tmp_path, epochs=4, threads=2, batch_size=8), _data(), _constant_net())
    err = " ".join(capsys.readouterr().err.split())
    assert err.count("hint: training slowed from") == 1 and "--threads 1" in err


def test_a_model_that_resamples_its_input_says_so_at_the_start(tmp_path, capsys):
    """Issue 26.10: lenet5 upsampled the 8x8 digits 3x without a word."""
    from anyconv.models import LeNet5

    train(_config(tmp_path / "a", epochs=1, batch_size=8, model="lenet5"), _data())
    err = " ".join(capsys.readouterr().err.split())
    assert "note: the model resamples its 6x6 inputs to 24x24 (features.0: Upsample" in err
    assert LeNet5(input_size=(6, 6)).upsample == 4
    train(
        _config(tmp_path / "b", epochs=1, batch_size=8, model_kwargs={"padding": "same"}), _data()
    )
    assert "note: the model resamples" not in capsys.readouterr().err
