"""Issue 26 C3: a full disk during a checkpoint ends in one line, "no space left on DIR",
the last checkpoint stays whole, no temporary file is left, and --resume after freeing
space finishes the run. ENOSPC is injected into the file anyconv writes (as torch.save
meets it, wrapped in its own RuntimeError), and on a real 4 MiB tmpfs where one can be
mounted (root on Linux)."""

import errno
import io
import os
import shutil
import subprocess

import pytest
import torch

from anyconv.cli import main
from anyconv.data.base import Splits
from anyconv.train import TrainConfig, load_checkpoint, train
from anyconv.train import checkpoint as C
from anyconv.train.checkpoint import NoSpaceLeft, atomic_write


def _data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(96, 1, 6, 6, generator=g)
    y = (x.mean((1, 2, 3)) > 0).long()
    return Splits(x[:64], y[:64], x[64:], y[64:], num_classes=2, kind="image", name="t")


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(36, 2))


def _config(out, **kw):
    settings = dict(epochs=3, batch_size=16, quiet=True, pictures=False, out=str(out))
    return TrainConfig(**{**settings, **kw})


class _Full(io.FileIO):
    """A file on a disk with ``room`` bytes left: a write beyond raises ENOSPC."""

    room = 0

    def write(self, data):
        if self.tell() + len(data) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(data)


def _disk_fills_at(monkeypatch, write, room=500):
    """From the ``write``-th checkpoint on, its file has ``room`` bytes."""
    counter = {"checkpoints": 0}

    def fake_open(path, mode="r", *args, **kwargs):
        if "checkpoint.pt" in str(path) and "w" in mode:
            counter["checkpoints"] += 1
            if counter["checkpoints"] >= write:
                handle = _Full(path, "wb")
                handle.room = room
                return handle
        return open(path, mode, *args, **kwargs)

    monkeypatch.setattr(C, "open", fake_open, raising=False)


def test_torch_save_onto_a_full_disk_says_no_space_left(tmp_path, monkeypatch):
    target = tmp_path / "checkpoint.pt"
    atomic_write(target, lambda f: torch.save({"w": torch.zeros(10)}, f))
    before = target.read_bytes()
    _disk_fills_at(monkeypatch, write=1)
    with pytest.raises(NoSpaceLeft) as caught:
        C.save_checkpoint(target, {"w": torch.zeros(100_000)})
    assert str(caught.value) == (
        f"no space left on {tmp_path}: checkpoint.pt could not be written (the earlier "
        "checkpoint.pt is kept); free some space, then --resume continues"
    )
    assert caught.value.errno == errno.ENOSPC and isinstance(caught.value, OSError)
    assert target.read_bytes() == before and os.listdir(tmp_path) == ["checkpoint.pt"]


def test_other_write_errors_stay_what_they_are(tmp_path):
    def broken(f):
        raise RuntimeError("a bug in the writer")

    with pytest.raises(RuntimeError, match="a bug in the writer"):
        atomic_write(tmp_path / "x", broken)
    assert os.listdir(tmp_path) == []


def test_a_run_whose_disk_fills_keeps_its_last_checkpoint_and_resumes(tmp_path, monkeypatch):
    out = tmp_path / "run"
    _disk_fills_at(monkeypatch, write=2)  # epoch 1's checkpoint is written, epoch 2's not
    with pytest.raises(NoSpaceLeft, match=f"no space left on {out}: checkpoint.pt"):
        train(_config(out), _data(), _net())
    assert load_checkpoint(out / "checkpoint.pt")["epoch"] == 1
    assert not [p for p in os.listdir(out) if p.endswith(".tmp") or p == ".lock"]
    monkeypatch.undo()  # space freed
    assert train(_config(out, resume=True), _data(), _net())["epochs"] == 3


def test_the_command_line_says_it_in_one_line(tmp_path, monkeypatch, capsys):
    _disk_fills_at(monkeypatch, write=2)
    out = tmp_path / "run"
    argv = ["train", "--out", str(out), "--epochs", "2", "--quiet", "--no-plots"]
    assert main([*argv, "--threads", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: no space left on {out}: checkpoint.pt could not be written")
    assert "inline_container" not in err and "Traceback" not in err and "Errno" not in err


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs, unmounted after the test; skips where none can be mounted."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if not shutil.which("mount") or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip("no tmpfs could be mounted here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_real_full_disk(small_disk, capsys):
    out = small_disk / "run"
    argv = ["train", "--out", str(out), "--quiet", "--no-plots", "--threads", "1"]
    assert main([*argv, "--epochs", "1"]) == 0
    before = (out / "checkpoint.pt").read_bytes()
    free = shutil.disk_usage(small_disk).free
    (small_disk / "filler").write_bytes(b"\0" * (free - 8192))  # 8 KiB left
    capsys.readouterr()
    assert main([*argv, "--epochs", "2", "--resume"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: no space left on {out}: checkpoint.pt could not be written")
    assert (out / "checkpoint.pt").read_bytes() == before
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]
    (small_disk / "filler").unlink()
    assert main([*argv, "--epochs", "2", "--resume"]) == 0
    assert load_checkpoint(out / "checkpoint.pt")["epoch"] == 2
