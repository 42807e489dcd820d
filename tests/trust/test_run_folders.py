"""Tampered run folders: predict and evaluate refuse them with one line naming the file,
exit code 2, and leave the folder as it was."""

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from anyconv.cli import main


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("trained") / "run"
    assert main(["train", "--out", str(out), "--epochs", "1", "--quiet", "--no-plots"]) == 0
    return out


def _weights(run):
    return load_file(str(run / "model.safetensors"))


def _config(run):
    return json.loads((run / "config.json").read_text())


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _tamper_weights(change):
    def tamper(run):
        tensors = _weights(run)
        change(tensors)
        save_file(tensors, str(run / "model.safetensors"))

    return tamper


def _tamper_config(change):
    def tamper(run):
        config = _config(run)
        change(config)
        (run / "config.json").write_text(json.dumps(config))

    return tamper


def _first(tensors):
    return next(iter(tensors))


CASES = {
    "wrong shape": (
        _tamper_weights(lambda t: t.update({_first(t): torch.zeros(3, 3)})),
        "has shape (3, 3), but LeNet5 needs",
    ),
    "missing tensor": (_tamper_weights(lambda t: t.pop(_first(t))), "does not fit LeNet5"),
    "0-byte weights": (
        lambda run: (run / "model.safetensors").write_bytes(b""),
        "not a readable safetensors file (empty",
    ),
    "truncated weights": (
        lambda run: (run / "model.safetensors").write_bytes(
            (run / "model.safetensors").read_bytes()[:300]
        ),
        "not a readable safetensors file (truncated or corrupt",
    ),
    "NaN weights": (
        _tamper_weights(lambda t: t[_first(t)].view(-1).__setitem__(0, float("nan"))),
        "NaN or infinite values",
    ),
    "integer weights": (
        _tamper_weights(lambda t: t.update({k: v.to(torch.int32) for k, v in t.items()})),
        "holds torch.int32 values, but the model needs torch.float32",
    ),
    "config without input_shape": (
        _tamper_config(lambda c: c.pop("input_shape")),
        "'input_shape' is missing",
    ),
    "config not JSON": (
        lambda run: (run / "config.json").write_text("{"),
        "config.json: not valid JSON",
    ),
    "absurd in_channels": (
        _tamper_config(lambda c: c["model_kwargs"].update(in_channels=10**10)),
        "MiB of weights, but",
    ),
    "fractional num_classes": (
        _tamper_config(lambda c: c.update(num_classes=1e12)),
        "'num_classes' must be a positive int",
    ),
}


@pytest.mark.parametrize("command", ["predict", "evaluate"])
@pytest.mark.parametrize("case", list(CASES))
def test_a_tampered_run_folder_is_refused(case, command, trained, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    tamper, words = CASES[case]
    tamper(run)
    before = _snapshot(run)
    np.save(tmp_path / "x.npy", np.zeros((8, 8)))
    argv = [command, str(run)] + ([str(tmp_path / "x.npy")] if command == "predict" else [])
    assert main(argv) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert err.startswith("error: ") and words in err and "Traceback" not in err
    assert str(run) in err  # names the file
    assert _snapshot(run) == before  # nothing written


def test_a_sound_copy_still_works(trained, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    assert main(["evaluate", str(run)]) == 0
    assert "test accuracy" in capsys.readouterr().out


def test_the_top_level_shows_a_traceback_only_with_debug(trained, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    (run / "config.json").write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        main(["--debug", "evaluate", str(run)])
    with pytest.raises(ValueError, match="not valid JSON"):
        main(["evaluate", str(run), "--debug"])
