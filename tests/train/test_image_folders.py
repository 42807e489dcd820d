"""Training on image folders of any size: streamed and in-memory runs are identical, the
transform is stored in the run folder and repeated by evaluate and predict, DDP shards
streamed data."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.distributed as dist
from safetensors.torch import load_file
from toys import torchrun_results

from anyconv.cli import main
from anyconv.train import TrainConfig, Trainer, load_run, predict, train
from anyconv.train.inputs import read_inputs

Image = pytest.importorskip("PIL.Image")


def _tree(root, sizes=((12, 9), (20, 16), (9, 14)), seed=0):
    """Two classes told apart by brightness, images of several sizes and modes."""
    rng = np.random.default_rng(seed)
    for part, n in (("train", 8), ("test", 4)):
        for label, c in enumerate(("dark", "light")):
            (root / part / c).mkdir(parents=True)
            for i in range(n):
                w, h = sizes[i % len(sizes)]
                level = 60 + 120 * label
                pixels = rng.integers(level - 40, level + 40, (h, w, 3)).astype(np.uint8)
                img = Image.fromarray(pixels)
                (img.convert("L") if i % 2 else img).save(root / part / c / f"{i}.png")
    return root


def _config(tmp_path, name, **kw):
    return TrainConfig(
        **{
            "model": "allcnn",
            "model_kwargs": {"width": 4, "dropout": 0.0},
            "data": f"folder:{tmp_path / 'data'}",
            "epochs": 2,
            "batch_size": 4,
            "lr": 1e-2,
            "quiet": True,
            "pictures": False,
            "workers": 0,
            "out": str(tmp_path / name),
            **kw,
        }
    )


def _weights(run):
    return load_file(str(run / "model.safetensors"))


def _same_run(a, b):
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    ma, mb = (json.loads((r / "metrics.json").read_text()) for r in (a, b))
    assert ma["test_loss"] == mb["test_loss"] and ma["train_loss"] == mb["train_loss"]


@pytest.mark.parametrize(
    "options",
    [
        {},  # same-size images, the trainer's shifts: tensors in memory vs streamed
        {"image_size": [8, 8], "flip": True},  # random-resized crops and flips
    ],
    ids=["same-size", "image-size"],
)
def test_streamed_and_in_memory_runs_are_identical(tmp_path, options):
    _tree(tmp_path / "data", sizes=((10, 8),) if not options else ((12, 9), (20, 16), (9, 14)))
    train(_config(tmp_path, "memory", stream=False, **options))
    train(_config(tmp_path, "disk", stream=True, **options))
    _same_run(tmp_path / "memory", tmp_path / "disk")


def test_worker_processes_do_not_change_the_run(tmp_path):
    _tree(tmp_path / "data")
    train(_config(tmp_path, "none", image_size=[8, 8], stream=True, epochs=1))
    train(_config(tmp_path, "two", image_size=[8, 8], stream=True, epochs=1, workers=2))
    _same_run(tmp_path / "none", tmp_path / "two")


def test_transform_is_stored_and_repeated_by_evaluate_and_predict(tmp_path, capsys):
    _tree(tmp_path / "data")
    metrics = train(_config(tmp_path, "run", image_size=[8, 8], flip=True, epochs=4))
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    options = config["data_options"]
    assert options["image_size"] == [8, 8] and options["flip"] is True
    assert len(options["mean"]) == 3 and len(options["std"]) == 3
    assert config["input_shape"] == [3, 8, 8]

    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run"), "--workers", "0"]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert f"test accuracy: {metrics['test_accuracy']:.2%}" in printed

    # an image of a size and mode the model never saw goes through the same test
    # transform: a uniform grey 250 becomes (250/255 - mean) / std in each channel
    odd = tmp_path / "odd.png"
    Image.fromarray(np.full((31, 17), 250, np.uint8)).save(odd)
    x, warning = read_inputs(odd, config)
    assert warning is not None  # a uniform image spans far less than the training inputs
    expected = (250 / 255 - np.array(options["mean"])) / np.array(options["std"])
    assert x.shape == (1, 3, 8, 8)
    np.testing.assert_allclose(x[0].mean((1, 2)), expected, rtol=1e-5)
    np.testing.assert_allclose(x[0].std((1, 2)), 0, atol=1e-6)
    model, _ = load_run(tmp_path / "run")
    p = predict(model, x)[0]
    best = int(p.argmax())
    assert main(["predict", str(tmp_path / "run"), str(odd)]) == 0
    row = " ".join(capsys.readouterr().out.replace("│", " ").split())  # framed or plain
    assert f"{config['class_names'][best]} {p[best]:.3f}" in row


def test_no_augment_trains_on_the_test_transform(tmp_path):
    _tree(tmp_path / "data")
    train(_config(tmp_path, "a", image_size=[8, 8], flip=True, augment=False, seed=1))
    train(_config(tmp_path, "b", image_size=[8, 8], flip=True, augment=False, seed=1))
    train(_config(tmp_path, "c", image_size=[8, 8], flip=True, augment=True, seed=1))
    _same_run(tmp_path / "a", tmp_path / "b")
    wa, wc = _weights(tmp_path / "a"), _weights(tmp_path / "c")
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)


def test_resume_refuses_another_image_size(tmp_path):
    _tree(tmp_path / "data")
    train(_config(tmp_path, "run", image_size=[8, 8], epochs=1))
    with pytest.raises(ValueError, match=r"image_size \(\[8, 8\], now \[10, 10\]\)"):
        train(_config(tmp_path, "run", image_size=[10, 10], epochs=2, resume=True))


DDP = """
import json, os, sys
import torch
from anyconv.train import TrainConfig, train
torch.set_num_threads(1)
config = TrainConfig(model="allcnn", model_kwargs={"width": 4, "dropout": 0.0},
                     data="folder:" + sys.argv[1], image_size=[8, 8], stream=True, workers=1,
                     epochs=2, batch_size=4, lr=1e-2, quiet=True, pictures=False,
                     out=sys.argv[2])
metrics = train(config)
print("RESULT", json.dumps({"rank": int(os.environ["RANK"]), "world_size":
      metrics["world_size"], "test_accuracy": metrics["test_accuracy"]}))
"""


@pytest.mark.slow
@pytest.mark.skipif(
    not dist.is_available() or not dist.is_gloo_available(),
    reason="needs torch.distributed with gloo",
)
def test_two_processes_shard_streamed_data(tmp_path):
    _tree(tmp_path / "data")
    job = tmp_path / "job.py"
    job.write_text(DDP)
    results = torchrun_results(str(job), str(tmp_path / "data"), str(tmp_path / "ddp"))
    assert sorted(r["rank"] for r in results) == [0, 1]
    assert all(r["world_size"] == 2 for r in results)
    assert results[0]["test_accuracy"] == results[1]["test_accuracy"]  # all-reduced shards
    saved = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert saved["status"] == "finished" and saved["world_size"] == 2


def test_every_data_flag_reaches_the_run_config(tmp_path):
    _tree(tmp_path / "data")
    for part in ("test",):  # the ImageFolder layout: no test folder, a held-out part
        for f in sorted((tmp_path / "data" / part).rglob("*.png")):
            f.unlink()
        for d in sorted((tmp_path / "data" / part).iterdir()):
            d.rmdir()
        (tmp_path / "data" / part).rmdir()
    argv = ["train", "allcnn", "--data", f"folder:{tmp_path / 'data'}", "--epochs", "1"]
    argv += ["--image-size", "8,6", "--flip", "--crop-scale", "0.5", "--test-fraction", "0.25"]
    argv += ["--stream", "--workers", "0", "--out", str(tmp_path / "run"), "--quiet"]
    assert main(argv) == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    train_config = config["train"]
    assert train_config["image_size"] == [8, 6] and train_config["flip"] is True
    assert train_config["crop_scale"] == 0.5 and train_config["test_fraction"] == 0.25
    assert train_config["stream"] is True and train_config["workers"] == 0
    assert config["input_shape"] == [3, 8, 6]
    assert config["data_options"]["test_fraction"] == 0.25
    assert "stream" not in config["data_options"]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert sum(map(sum, metrics["confusion"])) == 4  # 25% of 8 per class held out
    argv[argv.index("--flip")] = "--no-flip"
    argv[argv.index("--stream")] = "--in-memory"
    argv[argv.index(str(tmp_path / "run"))] = str(tmp_path / "run2")
    assert main(argv) == 0
    train_config = json.loads((tmp_path / "run2" / "config.json").read_text())["train"]
    assert train_config["flip"] is False and train_config["stream"] is False


def test_validation_is_held_out_of_streamed_training_data_with_the_test_transform(tmp_path):
    _tree(tmp_path / "data")
    config = _config(
        tmp_path, "run", image_size=[8, 8], flip=True, stream=True, val_fraction=0.25, keep="last"
    )
    trainer = Trainer(config)
    held, kept = set(trainer.feed.val_index.tolist()), set(trainer.feed.train_index.tolist())
    assert len(held) == 4 and not held & kept and held | kept == set(range(16))
    read = []
    batches = trainer.data.batches

    def spy(split, indices, *args, **kwargs):
        read.append((split, torch.as_tensor(indices).tolist(), kwargs.get("seed")))
        return batches(split, indices, *args, **kwargs)

    trainer.data.batches = spy
    metrics = trainer.fit()
    trained = {i for split, ix, seed in read if split == "train" and seed is not None for i in ix}
    plain = [set(ix) for split, ix, seed in read if split == "train" and seed is None]
    assert trained == kept  # random crops and flips, never of a held-out image
    assert [ix for ix in plain if ix & held] == [held, held]  # one validation pass an epoch
    assert all(ix <= kept for ix in plain if not ix & held)  # config.json's input record
    model, _ = load_run(tmp_path / "run")  # the last model (keep last)
    x, y = next(iter(batches("train", trainer.feed.val_index, 16)))  # centre crops
    expected = (predict(model, x).argmax(1) == y).double().mean().item()
    assert metrics["history"][-1]["val_accuracy"] == pytest.approx(expected)
    assert "test_accuracy" not in metrics["history"][-1] and metrics["validation_samples"] == 4
