"""Tampered checkpoints, changed data, other process counts and a second writer: each
refused with one message naming the file, the previous checkpoint intact."""

import os
import pickle
import stat

import pytest
import torch

from anyconv.cli import main
from anyconv.data.base import Splits
from anyconv.train import TrainConfig, load_checkpoint, train
from anyconv.train.checkpoint import atomic_write, save_checkpoint
from anyconv.train.run import RunFolder


def _data(shift=0.0, classes=2):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(96, 1, 6, 6, generator=g) + shift
    y = (x.mean((1, 2, 3)) > shift).long() % classes
    return Splits(x[:64], y[:64], x[64:], y[64:], num_classes=classes, kind="image", name="t")


def _net(classes=2):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(36, classes))


def _config(out, **kw):
    return TrainConfig(
        out=str(out), epochs=kw.pop("epochs", 2), batch_size=16, quiet=True, pictures=False, **kw
    )


@pytest.fixture
def run(tmp_path):
    """A run stopped after epoch 1 of 2, ready for --resume."""
    out = tmp_path / "run"
    train(_config(out, epochs=1), _data(), _net())
    return out


def _resume(out, data=None, **kw):
    return train(_config(out, resume=True, **kw), data or _data(), _net())


def _edit(out, change):
    state = load_checkpoint(out / "checkpoint.pt")
    change(state)
    save_checkpoint(out / "checkpoint.pt", state)
    return (out / "checkpoint.pt").read_bytes()


def _set(key, value):
    return lambda state: state.__setitem__(key, value)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (_set("epoch", -5), "epoch -5"),
        (_set("step", 10**12), "step 1000000000000 after epoch 1 does not match 4 steps"),
        (lambda s: s.pop("rng"), "'rng' is missing"),
        (_set("model", [1, 2]), "'model' is a list, expected a dict"),
        (_set("history", []), "0 history rows for epoch 1"),
        (lambda s: s["model"].__setitem__("1.weight", torch.zeros(5, 5)), "does not fit"),
        (lambda s: s["model"]["1.weight"].fill_(float("inf")), "'1.weight' is not finite"),
        (lambda s: s["rng"].__setitem__("generator", torch.zeros(3)), "does not fit this run"),
        (_set("format", 99), "not an anyconv checkpoint"),
    ],
)
def test_a_tampered_checkpoint_is_refused_and_kept(run, change, words):
    tampered = _edit(run, change)
    with pytest.raises(ValueError, match=words) as caught:
        _resume(run)
    assert str(run / "checkpoint.pt") in str(caught.value)
    assert (run / "checkpoint.pt").read_bytes() == tampered


class _Payload:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


@pytest.mark.parametrize("kind", ["pickle with code", "truncated", "random bytes", "empty"])
def test_unreadable_checkpoints_never_run_code_nor_advise_weights_only(
    run, kind, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    path = run / "checkpoint.pt"
    if kind == "pickle with code":
        torch.save({"format": 1, "x": _Payload()}, path)
    elif kind == "truncated":
        path.write_bytes(path.read_bytes()[:200])
    elif kind == "random bytes":
        path.write_bytes(os.urandom(4096))
    else:
        path.write_bytes(b"")
    with pytest.raises(ValueError, match=str(path)) as caught:
        _resume(run)
    assert "weights_only" not in str(caught.value)
    assert not (tmp_path / "PWNED").exists()
    if kind == "pickle with code":
        assert "never unpickled" in str(caught.value)
        with open(path, "wb") as f:  # a plain pickle (no torch zip) is refused as well
            pickle.dump({"format": 1, "x": _Payload()}, f)
        with pytest.raises(ValueError, match="checkpoint"):
            _resume(run)
        assert not (tmp_path / "PWNED").exists()


def test_resume_refuses_changed_data_unless_forced(run):
    before = (run / "checkpoint.pt").read_bytes()
    with pytest.raises(ValueError, match=r"changed since the checkpoint .*contents differ"):
        _resume(run, _data(shift=0.5))
    with pytest.raises(ValueError, match=r"num_classes 2, now 3"):
        train(_config(run, resume=True), _data(classes=3), _net(3))
    assert (run / "checkpoint.pt").read_bytes() == before
    metrics = _resume(run, _data(shift=0.5), force=True)
    assert metrics["epochs"] == 2


def test_resume_refuses_another_process_count_unless_forced(run):
    _edit(run, _set("world_size", 2))
    with pytest.raises(ValueError, match="written by 2 processes, now 1"):
        _resume(run)
    assert _resume(run, force=True)["epochs"] == 2


def test_a_second_writer_is_refused(run, capsys):
    before = (run / "checkpoint.pt").read_bytes()
    with RunFolder(run).lock():
        with pytest.raises(FileExistsError, match=f"another anyconv train \\(pid {os.getpid()}\\)"):
            _resume(run)
        assert main(["train", "--out", str(run), "--resume", "--epochs", "1"]) == 2
        assert "is writing into this run folder" in capsys.readouterr().err
    assert (run / "checkpoint.pt").read_bytes() == before
    assert _resume(run)["epochs"] == 2  # released


@pytest.mark.parametrize("where", ["file", "under a file"])
def test_out_that_is_a_file_is_refused(tmp_path, where, capsys):
    blocker = tmp_path / "blocker"
    blocker.write_text("keep me")
    out = blocker if where == "file" else blocker / "run"
    assert main(["train", "--out", str(out), "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "a run folder must be a folder" in err and str(blocker) in err
    assert blocker.read_text() == "keep me"


def test_a_failed_new_run_leaves_no_empty_folder(tmp_path):
    class Boom(torch.nn.Linear):
        def forward(self, x):
            raise RuntimeError("boom")

    out = tmp_path / "new"
    with pytest.raises(RuntimeError, match="boom"):
        train(_config(out), _data(), Boom(1, 1))
    assert not out.exists()
    with pytest.raises(ValueError, match="a model with trainable parameters"):
        train(_config(out), _data(), torch.nn.Flatten())


def test_atomic_write_syncs_the_folder_after_the_rename(tmp_path, monkeypatch):
    calls = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        calls.append("folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    def replace(a, b):
        calls.append("rename")
        real_replace(a, b)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    atomic_write(tmp_path / "f", lambda f: f.write(b"x"))
    assert calls == ["file", "rename", "folder"]
    assert (tmp_path / "f").read_bytes() == b"x" and os.listdir(tmp_path) == ["f"]


def test_resume_removes_the_temporary_files_of_a_killed_writer(run):
    """A writer killed inside atomic_write leaves ``.anyconv-NAME.PID.tmp``; the next writer
    that holds the folder removes such files of the run's own names, and only those."""
    torn = run / ".anyconv-checkpoint.pt.4242.tmp"
    torn.write_bytes(b"half a checkpoint")
    mine = run / ".notes.tmp"  # not atomic_write's pattern: kept
    mine.write_text("keep me")
    assert _resume(run)["epochs"] == 2
    assert not torn.exists() and mine.read_text() == "keep me"


USERS_FILES = (
    ".draft.2024.tmp",  # the reported case (L1): .NAME.DIGITS.tmp, the old stray pattern
    ".checkpoint.pt.4242.tmp",
    ".anyconv-notes.txt.12.tmp",  # anyconv's prefix, but no file of a run
    ".anyconv-checkpoint.pt.x12.tmp",
)


@pytest.mark.parametrize("holds_a_run", [True, False])
def test_the_users_hidden_files_are_never_removed(run, tmp_path, holds_a_run):
    """Issue 26 L1: training into any --out deleted the user's hidden .NAME.DIGITS.tmp
    files; and a folder that holds no run is never cleaned at all."""
    folder = run if holds_a_run else tmp_path / "notes"
    folder.mkdir(exist_ok=True)
    for name in USERS_FILES:
        (folder / name).write_text("the user's")
    ours = folder / ".anyconv-metrics.json.77.tmp"
    ours.write_text("torn")
    if holds_a_run:
        _resume(run)
    else:
        train(_config(folder, epochs=1), _data(), _net())
    for name in USERS_FILES:
        assert (folder / name).read_text() == "the user's"
    assert ours.exists() is not holds_a_run  # only in a folder that holds a run


def test_the_lock_is_removed_when_the_writer_ends(run, tmp_path):
    """Issue 26 (17): a stale .lock holding a pid stayed in every finished run folder."""
    assert not (run / ".lock").exists()
    with RunFolder(run).lock():
        assert (run / ".lock").read_text() == f"pid {os.getpid()}"
    assert not (run / ".lock").exists()
    with pytest.raises(RuntimeError, match="boom"), RunFolder(run).lock():
        raise RuntimeError("boom")
    assert not (run / ".lock").exists()
    _resume(run)
    assert ".lock" not in {p.name for p in run.iterdir()}


def test_a_writer_that_opened_a_lock_being_removed_takes_the_new_one(tmp_path, monkeypatch):
    """Removing the lock on release must not let two writers hold two files: one that
    opened the old file just before it was removed checks, once it holds it, that it is
    still the file at .lock."""
    folder = RunFolder(tmp_path / "run")
    real_open, opened = open, []

    def racing_open(path, *args, **kwargs):
        handle = real_open(path, *args, **kwargs)
        if str(path).endswith(".lock") and not opened:
            opened.append(path)
            os.unlink(path)  # the releasing writer removes it between open and flock
        return handle

    monkeypatch.setattr("builtins.open", racing_open)
    with folder.lock():
        monkeypatch.setattr("builtins.open", real_open)
        held = (folder.path / ".lock").stat().st_ino
        assert (folder.path / ".lock").read_text() == f"pid {os.getpid()}"
        # the file at .lock is the one held
        with pytest.raises(FileExistsError), RunFolder(folder.path).lock():
            pass
        assert (folder.path / ".lock").stat().st_ino == held
    assert len(opened) == 1


def test_resuming_past_the_end_of_the_schedule_says_the_rate_restarts(run, capsys):
    """Issue 26 (17): --resume with more epochs than a finished cosine run restarted the
    learning rate without a word. It still stretches the schedule over the epochs asked
    for (a warm restart, as SGDR does), and says so with both rates."""
    capsys.readouterr()
    metrics = _resume(run, epochs=2)
    err = " ".join(capsys.readouterr().err.split())
    assert (
        "note: --epochs 2 stretches the cosine schedule of the checkpoint (1 epoch, "
        "finished): the learning rate restarts from 0 to 0.0025 (50% of --lr), a warm restart"
    ) in err
    assert metrics["history"][1]["lr"] == pytest.approx(2.5e-3)  # what the note said


def test_a_stretched_unfinished_schedule_is_noted_and_an_unchanged_one_is_not(run, capsys):
    _edit(run, lambda s: s["scheduler"].update(total_steps=3 * s["step"]))  # 1 of 3 epochs
    capsys.readouterr()
    _resume(run, epochs=2)
    err = " ".join(capsys.readouterr().err.split())
    assert "stretches the cosine schedule of the checkpoint (3 epochs): the learning rate " in err
    assert "jumps from 0.00375 to 0.0025 (50% of --lr); --epochs 3 keeps the schedule" in err
    assert "stretches" not in err.split("jumps")[1]  # once


def test_resuming_with_the_same_epochs_says_nothing_of_the_schedule(run, capsys):
    capsys.readouterr()
    assert _resume(run, epochs=1)["epochs"] == 1
    assert "stretches" not in capsys.readouterr().err
