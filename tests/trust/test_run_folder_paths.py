"""Issue 26, run folders (the UNCLEAR list): --out a symbolic link that loops or leads
nowhere is refused in one line naming the link; a killed run's throw-away folder in the
system's temporary folder is removed by the next one, and nothing else is."""

import os
import signal
import subprocess
import sys
import tempfile

import pytest

from anyconv.cli import main
from anyconv.train.run import SCRATCH_PREFIX, remove_dead_scratch, scratch_folder


@pytest.mark.parametrize(
    "out, words",
    [
        ("loop", "loop: is a symbolic link that loops back on itself; choose another --out"),
        ("loop/run", "loop/run: lies under {tmp}/loop, a symbolic link that loops back"),
        (
            "dangling",
            "dangling: is a symbolic link that leads to 'nowhere', which does not "
            "exist; create it, or choose another --out",
        ),
        ("dangling/run", "lies under {tmp}/dangling, a symbolic link that leads to 'nowhere'"),
    ],
)
def test_out_a_broken_symbolic_link_is_refused(tmp_path, capsys, out, words):
    """The report: "loop: File exists" for both."""
    (tmp_path / "loop").symlink_to("loop")
    (tmp_path / "dangling").symlink_to("nowhere")
    assert main(["train", "--out", str(tmp_path / out), "--epochs", "1", "--quiet"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert err.startswith("error: ") and words.format(tmp=tmp_path) in err
    assert "File exists" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dangling", "loop"]


def _dead_pid():
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


def test_a_killed_runs_scratch_folder_is_removed_by_the_next(tmp_path, monkeypatch):
    """The report: a SIGKILLed experiment left its throw-away run folder (checkpoint,
    weights; up to 18 MB) in the temporary folder."""
    script = (
        "import os, signal\n"
        "from anyconv.train.run import scratch_folder\n"
        "with scratch_folder() as out:\n"
        "    (out / 'checkpoint.pt').write_bytes(b'x' * 1000)\n"
        "    (out / '.anyconv-model.safetensors.12.tmp').write_bytes(b'torn')\n"
        "    print(out, flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": os.pathsep.join(sys.path)}
    killed = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL
    left = tmp_path / killed.stdout.strip().rpartition("/")[2]
    assert left.name.startswith(SCRATCH_PREFIX) and (left / "checkpoint.pt").exists()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with scratch_folder() as out:
        assert not left.exists() and out.parent == tmp_path
    assert list(tmp_path.iterdir()) == []


def test_only_dead_processes_scratch_folders_of_run_files_are_removed(tmp_path):
    dead, alive = _dead_pid(), os.getpid()
    folders = {
        "dead": tmp_path / f"{SCRATCH_PREFIX}{dead}-a1",
        "alive": tmp_path / f"{SCRATCH_PREFIX}{alive}-a2",
        "dead with a file of the user's": tmp_path / f"{SCRATCH_PREFIX}{dead}-a3",
        "not ours by name": tmp_path / f"{SCRATCH_PREFIX}x{dead}-a4",
    }
    for folder in folders.values():
        folder.mkdir()
        (folder / "metrics.json").write_text("{}")
    (folders["dead with a file of the user's"] / "thesis.tex").write_text("keep me")
    link = tmp_path / f"{SCRATCH_PREFIX}{dead}-a5"
    link.symlink_to(folders["alive"])
    assert remove_dead_scratch(tmp_path) == [folders["dead"]]
    assert not folders["dead"].exists()
    assert all(f.exists() for k, f in folders.items() if k != "dead") and link.is_symlink()
