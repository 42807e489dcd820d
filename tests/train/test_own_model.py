"""Issue 26.5: a model of your own is recorded as what it is (its import path or class, its
constructor arguments when known, its weights), and the run folder's commands rebuild it
or say in one line why they cannot."""

import json
import shutil
import sys

import numpy as np
import pytest
from own_nets import SmallNet

from anyconv.cli import main
from anyconv.train import TrainConfig, evaluate, load_run, train

SETTINGS = dict(epochs=1, batch_size=64, lr=3e-3, quiet=True, pictures=False)


def _config(out, **kw):
    return TrainConfig(**{**SETTINGS, "out": str(out), **kw})


def _recorded(run):
    return json.loads((run / "config.json").read_text())


@pytest.fixture(scope="module")
def imported_run(tmp_path_factory, digits_data):
    out = tmp_path_factory.mktemp("own") / "run"
    train(_config(out, model="own_nets:SmallNet", model_kwargs={"width": 4}), digits_data)
    return out


@pytest.fixture(scope="module")
def digits_data():
    import toys

    return toys.make_data()


def test_an_import_path_is_recorded_with_every_argument(imported_run):
    config = _recorded(imported_run)
    assert config["model"] == "own_nets:SmallNet" and config["model_source"] == "import"
    assert config["model_class"] == "own_nets:SmallNet"
    assert config["model_kwargs"] == {"width": 4, "in_channels": 1, "num_classes": 10}
    metrics = json.loads((imported_run / "metrics.json").read_text())
    assert metrics["model"] == config["train"]["model"] == "own_nets:SmallNet"


def test_load_run_rebuilds_an_imported_model(imported_run, digits_data):
    model, _ = load_run(imported_run)
    assert type(model) is SmallNet and model.conv.out_channels == 4 and not model.training
    metrics = json.loads((imported_run / "metrics.json").read_text())
    assert evaluate(model, digits_data)["accuracy"] == pytest.approx(metrics["test_accuracy"])


@pytest.mark.parametrize("command", ["evaluate", "predict", "summary"])
def test_the_commands_work_from_the_folder(imported_run, tmp_path, capsys, command):
    np.save(tmp_path / "x.npy", np.zeros((1, 8, 8)))
    argv = [command, str(imported_run)] + (
        [str(tmp_path / "x.npy")] if command == "predict" else []
    )
    assert main(argv) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert {"evaluate": "test accuracy", "predict": "predictions of", "summary": "conv"}[
        command
    ] in out


def test_explore_works_from_the_folder(imported_run, tmp_path, capsys):
    page = tmp_path / "page.html"
    argv = ["explore", str(imported_run), "--out", str(page), "--samples", "2"]
    assert main(argv) == 0, capsys.readouterr().err
    assert page.stat().st_size > 1000


def test_a_function_annotated_to_build_a_module_is_recorded(tmp_path, digits_data):
    train(_config(tmp_path, model="own_nets:small_net", model_kwargs={"width": 3}), digits_data)
    config = _recorded(tmp_path)
    assert config["model_source"] == "import" and config["model_class"] == "own_nets:SmallNet"
    assert config["model_kwargs"]["width"] == 3 and config["model_kwargs"]["input_size"] == [8, 8]
    model, _ = load_run(tmp_path)
    assert model.conv.out_channels == 3


def test_an_object_is_recorded_by_its_class_and_never_as_lenet5(tmp_path, digits_data, capsys):
    """The reported case: train(TrainConfig(...), data, my_net) was labelled 'lenet5'."""
    train(_config(tmp_path), digits_data, SmallNet(width=5))
    config = _recorded(tmp_path)
    assert config["model"] == "own_nets:SmallNet" != "lenet5"
    assert config["model_source"] == "object" and config["model_kwargs"] == {}
    err = " ".join(capsys.readouterr().err.split())  # said at the end of the run
    assert "note: the model given to train() is recorded by its class own_nets:SmallNet" in err
    assert "TrainConfig(model='own_nets:SmallNet', model_kwargs={...})" in err
    for command in ("evaluate", "summary", "explore"):
        assert main([command, str(tmp_path)]) == 2
        err = " ".join(capsys.readouterr().err.split())
        assert err.startswith("error: ") and "given to train() as an object" in err
        assert "load_run(RUN, model=SmallNet(...))" in err and err.count("\n") <= 1
    model, _ = load_run(tmp_path, model=SmallNet(width=5))  # the weights into your model
    assert model.conv.out_channels == 5 and not model.training
    with pytest.raises(ValueError, match="has shape"):
        load_run(tmp_path, model=SmallNet(width=6))


def test_an_object_that_config_model_builds_is_recorded_under_that_name(tmp_path, digits_data):
    config = _config(tmp_path, model="own_nets:SmallNet", model_kwargs={"width": 5})
    train(config, digits_data, SmallNet(width=5))
    recorded = _recorded(tmp_path)
    assert recorded["model_source"] == "import" and recorded["model_kwargs"]["width"] == 5
    other = tmp_path / "other"  # built with other arguments than the config says
    train(
        _config(other, model="own_nets:SmallNet", model_kwargs={"width": 5}),
        digits_data,
        SmallNet(width=6),
    )
    assert _recorded(other)["model_source"] == "object"


def test_a_registered_model_given_as_an_object_keeps_its_name(tmp_path, digits_data):
    from anyconv.models import create_model

    net = create_model("lenet5", in_channels=1, num_classes=10, input_size=(8, 8))
    train(_config(tmp_path, model="lenet5"), digits_data, net)
    config = _recorded(tmp_path)
    assert config["model"] == "lenet5" and config["model_source"] == "registry"
    assert load_run(tmp_path)[0].upsample == net.upsample


@pytest.mark.parametrize(
    "name, words",
    [
        ("no_such_module_x:Net", "cannot be imported"),
        ("own_nets:NoSuchNet", "has no 'NoSuchNet'"),
        ("own_nets:untyped_builder", "without a return annotation"),
        ("own_nets:Path", "is a class but not a torch.nn.Module"),
    ],
)
def test_train_refuses_what_it_cannot_build_before_loading_data(tmp_path, name, words):
    with pytest.raises(ValueError, match=words):
        train(_config(tmp_path, model=name, data="folder:/no/such/folder"))
    assert not (tmp_path / "config.json").exists()


def test_an_option_the_model_does_not_take_is_named(tmp_path, digits_data):
    with pytest.raises(ValueError, match="takes no argument 'depth'; it takes"):
        train(_config(tmp_path, model="own_nets:SmallNet", model_kwargs={"depth": 2}), digits_data)


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("own_nets:touch", {"path": "MARKER"}),
        ("subprocess:run", {"args": "touch MARKER", "shell": True}),
        ("os:system", {"command": "touch MARKER"}),
    ],
)
def test_a_tampered_folder_never_calls_a_function_that_is_no_model_builder(
    imported_run, tmp_path, capsys, monkeypatch, name, kwargs
):
    run = tmp_path / "run"
    shutil.copytree(imported_run, run)
    marker = tmp_path / "marker"
    config = _recorded(run)
    config["model"] = name
    config["model_kwargs"] = {
        k: v.replace("MARKER", str(marker)) if isinstance(v, str) else v for k, v in kwargs.items()
    }
    (run / "config.json").write_text(json.dumps(config))
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", str(run)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert err.startswith("error: ") and str(run) in err and "Traceback" not in err
    assert "return annotation" in err or "not a torch.nn.Module" in err
    assert not marker.exists()


def test_a_tampered_model_source_is_refused(imported_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(imported_run, run)
    config = _recorded(run)
    config["model_source"] = "pickle"
    (run / "config.json").write_text(json.dumps(config))
    assert main(["evaluate", str(run)]) == 2
    assert "'model_source' must be one of 'registry', 'import', 'object'" in capsys.readouterr().err


def test_the_current_folder_is_searched_as_python_m_would(tmp_path, monkeypatch):
    (tmp_path / "here_nets.py").write_text(
        "import torch\n\nclass Net(torch.nn.Linear):\n    pass\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    from anyconv.models.imported import import_builder

    assert import_builder("here_nets:Net").__name__ == "Net"
    assert str(tmp_path) not in sys.path  # only while importing
    sys.modules.pop("here_nets", None)
