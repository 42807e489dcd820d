"""Small data and models for the trainer tests, in-process and in subprocess scripts."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch
import toys

from anyconv.data.base import Splits
from anyconv.models.registry import MODELS, register_model

# What a subprocess script starts with: the helpers of ``tests/toys.py`` in scope.
PRELUDE = f"""\
import sys
sys.path.insert(0, {str(Path(toys.__file__).parent)!r})
import torch
from toys import make_data, make_model
"""


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: bitwise-reproducible sums, and no oversubscription of the
    shared CI cores (two threads fighting other processes run many times slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def digits() -> Splits:
    return toys.make_data()


@pytest.fixture(scope="session")
def make_model():
    """``make_model(seed)``: a 2-conv network for 8x8 digits, initialised from ``seed``."""
    return toys.make_model


@pytest.fixture
def tiny_cnn():
    """The name of :func:`toys.make_model` registered as a model for one test, removed after."""
    name = "tiny_cnn"
    assert name not in MODELS, f"{name!r} is already registered"
    register_model(name, "test model", input_shape=(1, 8, 8))(toys.make_model)
    yield name
    del MODELS[name]


@pytest.fixture
def tiny() -> Splits:
    """A 2-class problem learnable in one epoch: the sign of the image mean."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(96, 1, 6, 6, generator=g)
    y = (x.mean((1, 2, 3)) > 0).long()
    return Splits(x[:64], y[:64], x[64:], y[64:], num_classes=2, kind="image", name="tiny")


@pytest.fixture
def script(tmp_path):
    """``script(body)``: write the prelude + ``body`` to a file in ``tmp_path``, return it."""

    def write(body: str) -> str:
        path = tmp_path / "job.py"
        path.write_text(PRELUDE + textwrap.dedent(body))
        return str(path)

    return write
