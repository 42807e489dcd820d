"""SIGKILL inside the checkpoint write (issue 14, crash safety): with half the bytes of the
new checkpoint written, with all of them written but not yet renamed, and right after the
rename (before the folder is synced). Each time the folder keeps a whole checkpoint, and
``--resume`` ends with bitwise the weights of a run that was never interrupted.
(``tests/train/test_kill_resume.py`` kills at a random moment of an epoch instead.)"""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from anyconv.train import load_checkpoint

TESTS = Path(__file__).resolve().parents[1]
POINTS = ("half-written", "before-rename", "after-rename")

# Trains 3 epochs of the toy digits; with a point named, dies by SIGKILL at the second
# checkpoint write (after epoch 2) at that point of atomic_write.
SCRIPT = f"""
import io, os, signal, sys
sys.path.insert(0, {str(TESTS)!r})
import torch
torch.set_num_threads(1)
from toys import make_data, make_model
from anyconv.train import TrainConfig, train

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def run(out, resume):
    config = TrainConfig(epochs=3, batch_size=32, lr=3e-3, augment=True, seed=5, out=out,
                         resume=resume, quiet=True, pictures=False)
    train(config, make_data(), make_model(0))

mode, outs = sys.argv[1], sys.argv[2:]
if mode == "resume":  # the uninterrupted reference first, then each killed run resumed
    run(outs[0], False)
    for out in outs[1:]:
        run(out, True)
    sys.exit(0)

writes = 0
real_save, real_replace = torch.save, os.replace

def save(obj, f, *args, **kwargs):
    global writes
    if "checkpoint.pt" in getattr(f, "name", ""):
        writes += 1
        if writes == 2 and mode == "half-written":
            buffer = io.BytesIO()
            real_save(obj, buffer)
            f.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
            f.flush()
            os.fsync(f.fileno())
            die()
    return real_save(obj, f, *args, **kwargs)

def replace(src, dst):
    if str(dst).endswith("checkpoint.pt") and writes == 2:
        if mode == "before-rename":
            die()
        real_replace(src, dst)
        die()  # after-rename: the folder's entry not yet synced
    return real_replace(src, dst)

torch.save, os.replace = save, replace
run(outs[0], False)
"""


def _start(job, *args):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen(
        [sys.executable, str(job), *map(str, args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow  # four training processes, three killed (docs/testing.md)
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_inside_the_checkpoint_write_then_resume_is_bitwise_identical(tmp_path):
    job = tmp_path / "job.py"
    job.write_text(SCRIPT)
    outs = {point: tmp_path / point for point in POINTS}
    victims = {point: _start(job, point, out) for point, out in outs.items()}
    for point, victim in victims.items():
        _, err = victim.communicate(timeout=300)
        assert victim.returncode == -signal.SIGKILL, (point, err.decode()[-2000:])
        # The folder holds a whole checkpoint: epoch 1's, or epoch 2's once renamed.
        state = load_checkpoint(outs[point] / "checkpoint.pt")
        assert state["epoch"] == (2 if point == "after-rename" else 1), point
    strays = sorted(p.name for p in outs["half-written"].iterdir() if p.suffix == ".tmp")
    assert len(strays) == 1 and strays[0].startswith(".anyconv-checkpoint.pt.")  # the torn one
    reference = tmp_path / "reference"
    resumed = _start(job, "resume", reference, *outs.values())
    _, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err.decode()[-2000:]
    want = load_file(str(reference / "model.safetensors"))
    for point, out in outs.items():
        got = load_file(str(out / "model.safetensors"))
        assert got.keys() == want.keys(), point
        assert all(torch.equal(got[k], want[k]) for k in want), point
        assert load_checkpoint(out / "checkpoint.pt")["epoch"] == 3
        assert not list(out.glob(".*.tmp")), point  # the torn file was removed on resume
