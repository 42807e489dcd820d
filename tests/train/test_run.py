"""The run folder: naming, layout and reading back, with no trainer involved."""

import ast
import io
import json
from pathlib import Path

import pytest
import torch
from rich.console import Console

import anyconv.train.run as run_module
from anyconv.data import DataSpec
from anyconv.models import create_model
from anyconv.train import TrainConfig, Trainer, load_checkpoint, train
from anyconv.train.run import CONFIG, WEIGHTS, RunFolder, load_run, run_config


def test_the_run_module_imports_no_trainer():
    """The folder format takes plain values: no import (not even for typing) of the trainer."""
    tree = ast.parse(Path(run_module.__file__).read_text())
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module is not None
    }
    assert "anyconv.train.trainer" not in imported
    assert "anyconv.train.config" not in imported


def test_default_path_and_latest(tmp_path, monkeypatch):
    path = RunFolder.default_path("lenet5", "idx:../shared/datasets/mnist/", root=tmp_path)
    assert path.parent == tmp_path and path.name.startswith("lenet5-idx-mnist-")
    assert TrainConfig(model="lenet5", data="digits").run_dir().name.startswith("lenet5-digits-")
    assert DataSpec.parse("folder:/a b/c[1]").slug == "folder-c-1"
    assert RunFolder.latest("lenet5", "digits", root=tmp_path) is None
    for stamp in ("20240101-000000", "20250101-000000"):
        (tmp_path / f"lenet5-digits-{stamp}").mkdir()
        (tmp_path / f"lenet5-digits-{stamp}" / "checkpoint.pt").write_bytes(b"x")
    (tmp_path / "lenet5-digits-20260101-000000").mkdir()  # no checkpoint: not resumable
    assert RunFolder.latest("lenet5", "digits", root=tmp_path).path.name.endswith("20250101-000000")


def test_write_and_read_back_a_model(tmp_path, digits):
    kwargs = {"in_channels": 1, "num_classes": 10, "input_size": (8, 8)}
    net = create_model("lenet5", **kwargs)
    folder = RunFolder(tmp_path / "run")
    assert not folder.holds_run()
    config = run_config(
        model="lenet5",
        model_kwargs=kwargs,
        data_spec="digits",
        data=digits,
        train=TrainConfig().to_dict(),
    )
    folder.write_model(config, net)
    folder.write_metrics({"status": "running", "history": [{"epoch": 1, "loss": 1.0}]})
    assert folder.holds_run() and not folder.has_checkpoint()
    assert json.loads(folder.file(CONFIG).read_text())["input_shape"] == [1, 8, 8]
    assert folder.file("metrics.csv").read_text().splitlines()[1].startswith("1,1.0")
    model, again = load_run(folder.path)
    assert again == json.loads(json.dumps(config)) and not model.training
    x = torch.randn(2, 1, 8, 8)
    assert torch.equal(model(x), net.eval()(x))


def test_read_config_names_the_file(tmp_path):
    folder = RunFolder(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"config\.json is missing"):
        folder.read_config()
    folder.file(CONFIG).write_text("{not json")
    with pytest.raises(ValueError, match=r"config\.json: not valid JSON"):
        folder.read_config()
    folder.file(CONFIG).write_text('{"model": "lenet5", "model_kwargs": {}}')
    with pytest.raises(ValueError, match="'data' is missing"):
        folder.load_model()
    good = {"model": "lenet5", "model_kwargs": {}, "data": "digits", "num_classes": 10}
    folder.file(CONFIG).write_text(json.dumps({**good, "input_shape": [1, -8, 8]}))
    with pytest.raises(ValueError, match="'input_shape' must be a list of positive ints"):
        folder.load_model()
    folder.file(CONFIG).write_text(json.dumps({**good, "input_shape": [1, 8, 8]}))
    with pytest.raises(FileNotFoundError, match=WEIGHTS):
        folder.load_model()


def test_a_failing_picture_is_skipped_with_a_warning(tmp_path):
    def broken(path):
        raise RuntimeError("no")

    with pytest.warns(RuntimeWarning, match="bad.png not written: no"):
        written = RunFolder(tmp_path).write_pictures(
            {"bad.png": broken, "good.txt": lambda p: p.write_text("ok")}
        )
    assert written == ["good.txt"]


def test_constructing_a_trainer_touches_no_file(tmp_path, tiny):
    out = tmp_path / "never"
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(36, 2))
    trainer = Trainer(TrainConfig(out=str(out), resume=True, quiet=True), tiny, net)
    assert trainer.run_dir == out and not out.exists()
    trainer.train_epoch(1)  # what the overhead benchmark does: still no file
    assert not out.exists()


def _net():
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(36, 2))


class _Crash(Exception):
    pass


class _CrashingNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = _net()

    def forward(self, x):
        if self.training:
            raise _Crash
        return self.inner(x)


def test_an_existing_run_is_kept_unless_overwrite(tmp_path, tiny):
    out = tmp_path / "run"
    config = dict(out=str(out), epochs=1, quiet=True, pictures=False)
    train(TrainConfig(**config), tiny, _net())
    (out / "history.png").write_bytes(b"an old picture")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(FileExistsError, match="already holds a run; --resume continues it"):
        train(TrainConfig(**config), tiny, _net())
    with pytest.raises(_Crash):  # replacing, but dies before its first checkpoint
        train(TrainConfig(**config, overwrite=True), tiny, _CrashingNet())
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    train(TrainConfig(**config, overwrite=True, seed=1), tiny, _net())
    assert not (out / "history.png").exists()  # the old run's picture went with it
    assert load_checkpoint(out / "checkpoint.pt")["config"]["seed"] == 1


def test_resume_with_nothing_to_resume_says_so(tmp_path, tiny):
    stream = io.StringIO()
    console = Console(file=stream, width=300)
    out = tmp_path / "fresh"
    train(
        TrainConfig(out=str(out), epochs=1, resume=True, pictures=False),
        tiny,
        _net(),
        console=console,
    )
    assert f"nothing to resume in {out}: starting a new run" in stream.getvalue()
    assert (out / "checkpoint.pt").is_file()
