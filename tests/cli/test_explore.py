"""``anyconv explore``: the Explorer page of a run folder or of a model name, and its errors
(a damaged run folder gets exactly ``anyconv evaluate``'s)."""

from __future__ import annotations

import json

import pytest
import torch
from browser import page_data

from anyconv.cli import main
from anyconv.models import create_model


def _make_run(path):
    """A run folder as ``anyconv train lenet5`` on digits leaves it (model, config, metrics),
    written directly: the command reads nothing else."""
    from anyconv.data import load_dataset
    from anyconv.train.run import RunFolder, run_config

    data = load_dataset("digits")
    kwargs = {"in_channels": 1, "num_classes": 10, "input_size": [8, 8]}
    torch.manual_seed(0)
    model = create_model("lenet5", **{**kwargs, "input_size": (8, 8)})
    folder = RunFolder(path)
    folder.path.mkdir(parents=True)
    folder.write_model(
        run_config(
            model="lenet5",
            model_kwargs=kwargs,
            data_spec="digits",
            data=data,
            train={"data_seed": 0},
        ),
        model,
    )
    history = [{"epoch": 1, "loss": 2.0, "accuracy": 0.3, "val_loss": 1.9, "val_accuracy": 0.4}]
    confusion = [[1 if i == j else 0 for j in range(10)] for i in range(10)]
    folder.write_metrics({"history": history, "confusion": confusion, "test_accuracy": 0.1})
    return folder.path


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return _make_run(tmp_path_factory.mktemp("explore") / "run")


def test_a_run_folders_page(run_dir, capsys):
    assert main(["explore", str(run_dir), "--samples", "12"]) == 0
    page = run_dir / "explore.html"
    assert f"explorer page written: {page}" in capsys.readouterr().out.replace("\n", "")
    data = page_data(page)
    assert len(data["samples"]) == 12
    labels = [s["label"] for s in data["samples"]]
    assert labels == sorted(labels) and len(set(labels)) >= 8  # classes in turn, in order
    assert data["classNames"] == [str(k) for k in range(10)]
    assert data["run"]["history"][0]["val_accuracy"] == 0.4 and data["run"]["confusion"]
    assert data["title"] == "lenet5 trained on digits"


def test_a_model_name_on_synthetic_inputs_or_a_data_set(tmp_path, capsys):
    out = tmp_path / "c3d.html"
    assert main(["explore", "c3d", "--samples", "3", "--out", str(out)]) == 0
    data = page_data(out)
    assert data["input"]["shape"] == [1, 10, 16, 16] and data["title"] == "c3d (untrained)"
    assert [s["label"] for s in data["samples"]] == [None] * 3
    out = tmp_path / "lenet5.html"
    args = ["explore", "lenet5", "--data", "digits", "--samples", "5", "--out", str(out)]
    assert main(args) == 0
    data = page_data(out)
    assert data["input"]["shape"] == [1, 8, 8] and data["title"] == "lenet5 (untrained) on digits"
    assert all(s["label"] is not None for s in data["samples"]) and data["run"] is None


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda run: (run / "model.safetensors").unlink(), "model.safetensors is missing"),
        (lambda run: (run / "config.json").unlink(), "config.json is missing"),
        (lambda run: (run / "config.json").write_text("{oops"), "config.json: not valid JSON"),
        (lambda run: (run / "model.safetensors").write_bytes(b"\0" * 64), "model.safetensors"),
        (
            lambda run: (run / "config.json").write_text(
                json.dumps({**json.loads((run / "config.json").read_text()), "num_classes": -1})
            ),
            "'num_classes' must be a positive int",
        ),
    ],
)
def test_a_damaged_run_folder_gets_evaluates_one_line_error(tmp_path, capsys, damage, message):
    run = _make_run(tmp_path / "run")
    damage(run)
    assert main(["evaluate", str(run)]) == 2
    expected = capsys.readouterr().err
    assert main(["explore", str(run)]) == 2
    got = capsys.readouterr().err
    assert got == expected and message in got
    assert len(got.strip().splitlines()) <= 2  # one line (wrapped at most once by the console)
    assert not (run / "explore.html").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["lenet5", "--samples", "0"], "argument 'samples' must be an int in 1..256; got 0"),
        (["lenet5", "--samples", "100000"], "in 1..256; got 100000"),
        (["lenet5", "--input-shape", "1,2000,2000"], "more than one page holds"),
        (["lenet5", "--input-shape", "1,300,300", "--samples", "64"], "must be at most 33"),
        (["lenet", "--samples", "2"], "lenet: no such run folder, and not a model name"),
        (["./no/such/run"], "no such run folder"),
        (["c3d", "--data", "digits", "--input-shape", "1,4,8,8"], "differs from digits'"),
    ],
)
def test_bad_arguments_are_one_line_errors(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    assert main(["explore", *args]) == 2
    assert message in capsys.readouterr().err.replace("\n", "")
    assert not list(tmp_path.glob("*.html"))


def test_a_runs_own_model_takes_no_input_shape(run_dir, capsys):
    assert main(["explore", str(run_dir), "--input-shape", "1,8,8"]) == 2
    assert "--input-shape is for a model name" in capsys.readouterr().err
