"""Two processes under torchrun (gloo on CPU) train to the accuracy of one process."""

import json

import pytest
import torch.distributed as dist
from toys import torchrun_results

from anyconv.train import TrainConfig, train

BODY = """
import json, sys
import torch.distributed as dist
from anyconv.train import TrainConfig, train
torch.set_num_threads(1)
config = TrainConfig(model="tiny", epochs=4, batch_size=32, lr=3e-3, seed=0, out=sys.argv[1],
                     augment=False, quiet=True, pictures=False)
metrics = train(config, make_data(), make_model(0))
assert not dist.is_initialized(), "the process group was left behind"
print("RESULT", json.dumps({"rank": int(__import__("os").environ["RANK"]),
                            "test_accuracy": metrics["test_accuracy"],
                            "world_size": metrics["world_size"]}))
"""


@pytest.mark.slow  # torchrun: two training processes and a launcher (docs/testing.md)
@pytest.mark.skipif(
    not dist.is_available() or not dist.is_gloo_available(),
    reason="needs torch.distributed with gloo",
)
def test_two_process_torchrun_matches_one_process(tmp_path, script, digits, make_model):
    results = torchrun_results(script(BODY), str(tmp_path / "ddp"), timeout=180)
    assert sorted(r["rank"] for r in results) == [0, 1]
    assert all(r["world_size"] == 2 for r in results)
    assert results[0]["test_accuracy"] == results[1]["test_accuracy"]  # all-reduced
    saved = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert saved["world_size"] == 2 and saved["status"] == "finished"

    single = train(
        TrainConfig(
            model="tiny",
            epochs=4,
            batch_size=32,
            lr=3e-3,
            augment=False,
            seed=0,
            out=str(tmp_path / "one"),
            quiet=True,
            pictures=False,
        ),
        digits,
        make_model(0),
    )
    assert single["test_accuracy"] > 0.85
    assert abs(saved["test_accuracy"] - single["test_accuracy"]) <= 0.05
