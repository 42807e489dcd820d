"""anyconv/data/base.py: the written Dataset interface; the in-memory Splits and a streamed
implementation written here from the interface alone train, evaluate and draw alike."""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import torch
from toys import make_data

import anyconv
from anyconv.data import Dataset, Splits, load_dataset
from anyconv.data.base import check_split
from anyconv.train import TrainConfig, evaluate, train


class Streamed(Dataset):
    """A data set read in batches only: the interface, nothing else."""

    def __init__(self, data: Splits) -> None:
        self._data = data
        self.name, self.kind = "streamed-toy", data.kind
        self.num_classes, self.class_names = data.num_classes, data.class_names
        self.normalization = {}
        self.reads = 0

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self._data.input_shape

    def labels(self, split: str) -> torch.Tensor:
        return self._data.labels(split)

    def tensors(self, split: str) -> None:
        check_split(split, "Streamed.tensors")
        return None

    def batches(
        self,
        split: str,
        indices: Sequence[int] | torch.Tensor,
        batch_size: int,
        *,
        epoch: int = 0,
        seed: int | None = None,
        pin_memory: bool = False,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for batch in self._data.batches(split, indices, batch_size):
            self.reads += 1
            yield batch

    def fingerprint(self) -> dict[str, Any]:
        digest = hashlib.blake2b(self.labels("train").numpy().tobytes()).hexdigest()
        return {"train": len(self.labels("train")), "digest": digest}


def test_the_interface_is_abstract():
    with pytest.raises(TypeError, match="abstract"):
        Dataset()


def test_splits_answers_every_question():
    data = make_data()
    assert isinstance(data, Dataset) and data.tensors("train")[0] is data.x_train
    assert data.labels("test") is data.y_test and data.spec.name == "digits"
    x, y = data.first_samples("test", 3)
    torch.testing.assert_close(x, data.x_test[:3])
    assert y.tolist() == data.y_test[:3].tolist()
    assert data.options() == {} and not data.augments
    with pytest.raises(ValueError, match=r"argument 'split' must be one of 'train', 'test'"):
        data.labels("val")


@pytest.mark.parametrize("spec", ["digits", "moving-digits"])
def test_every_bundled_loader_returns_a_dataset(spec):
    data = load_dataset(spec)
    assert isinstance(data, Dataset)
    assert str(data.spec) == spec and len(data.labels("train")) == len(data.tensors("train")[0])


def test_a_streamed_implementation_trains_evaluates_and_draws(tmp_path):
    """The trainer, evaluation and the run's pictures ask the interface only: a data set
    that holds no tensors trains to the same weights as its in-memory twin."""
    memory, streamed = make_data(), Streamed(make_data())
    x, y = streamed.first_samples("test", 5)
    torch.testing.assert_close(x, memory.x_test[:5])
    assert y.tolist() == memory.y_test[:5].tolist()
    metrics = {}
    for name, data in (("memory", memory), ("streamed", streamed)):
        config = TrainConfig(
            model="toy", epochs=1, batch_size=128, out=str(tmp_path / name), quiet=True
        )
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
        metrics[name] = train(config, data, net)
    assert streamed.reads > 0
    assert metrics["streamed"]["test_accuracy"] == metrics["memory"]["test_accuracy"]
    assert metrics["streamed"]["history"][0]["loss"] == pytest.approx(
        metrics["memory"]["history"][0]["loss"], rel=1e-6
    )
    assert (
        metrics["streamed"]["pictures"]
        == metrics["memory"]["pictures"]
        == ["history.png", "confusion.png", "samples.png"]
    )
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    assert evaluate(net, streamed)["samples"] == len(memory.y_test)


def test_nothing_outside_anyconv_data_probes_a_data_set():
    """No ``hasattr``/``getattr`` on a data set outside ``anyconv/data``: consumers ask
    the interface."""
    root = Path(anyconv.__file__).parent
    for path in root.rglob("*.py"):
        if path.is_relative_to(root / "data"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("hasattr", "getattr")
                and node.args
            ):
                target = ast.unparse(node.args[0])
                assert "data" not in target.split("."), f"{path}: {ast.unparse(node)}"
