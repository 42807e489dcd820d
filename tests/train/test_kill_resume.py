"""A training process killed with SIGKILL mid-epoch, then resumed, ends with the same
weights, bit for bit, as a run that was never interrupted."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from anyconv.train import load_checkpoint

BODY = """
import sys
from anyconv.train import TrainConfig, train
torch.set_num_threads(1)
out, resume = sys.argv[1], sys.argv[2] == "resume"
config = TrainConfig(model="tiny", epochs=6, batch_size=32, lr=3e-3, augment=True, seed=5,
                     out=out, resume=resume, quiet=True, pictures=False)
train(config, make_data(repeat=3), make_model(0))
"""


def _run(job, out, mode):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, job, str(out), mode],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow  # three training processes, one killed (docs/testing.md)
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_mid_epoch_then_resume_is_bitwise_identical(tmp_path, script):
    job = script(BODY)
    full, killed = tmp_path / "full", tmp_path / "killed"
    reference = _run(job, full, "fresh")
    victim = _run(job, killed, "fresh")
    checkpoint = killed / "checkpoint.pt"
    deadline = time.monotonic() + 60
    while not checkpoint.exists():
        assert victim.poll() is None, victim.communicate()[1].decode()
        assert time.monotonic() < deadline, "no checkpoint within 60 s"
        time.sleep(0.02)
    time.sleep(0.3)  # an epoch takes about 0.4 s here: land inside epoch 2 or 3
    assert victim.poll() is None, "the run finished before it could be killed"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    epoch = load_checkpoint(checkpoint)["epoch"]
    assert 1 <= epoch < 6
    resumed = _run(job, killed, "resume")
    for process in (reference, resumed):
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err.decode()
    a, b = load_file(str(full / "model.safetensors")), load_file(str(killed / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert load_checkpoint(checkpoint)["epoch"] == 6
