"""Small data and models for the trainer tests, in-process and in subprocess scripts."""

from __future__ import annotations

import textwrap

import pytest
import torch

from anyconv.data.base import Splits

# Source shared by in-process tests (exec'd) and subprocess scripts (written to tmp_path).
SOURCE = textwrap.dedent('''
    import torch
    from anyconv.data.base import Splits

    def make_data(repeat=1):
        """sklearn's 8x8 digits, 1437 train / 360 test, the train split tiled ``repeat``
        times to make epochs longer."""
        from sklearn.datasets import load_digits
        d = load_digits()
        x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16
        y = torch.tensor(d.target)
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
        train, test = order[:1437], order[1437:]
        return Splits(x[train].repeat(repeat, 1, 1, 1), y[train].repeat(repeat), x[test],
                      y[test], num_classes=10, kind="image", name="digits")

    def make_model(seed=0, **_):
        torch.manual_seed(seed)
        return torch.nn.Sequential(
            torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
            torch.nn.Linear(16 * 16, 10))
''')

_namespace: dict = {}
exec(SOURCE, _namespace)


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
    return _namespace["make_data"]()


@pytest.fixture(scope="session")
def make_model():
    """``make_model(seed)``: a 2-conv network for 8x8 digits, initialised from ``seed``."""
    return _namespace["make_model"]


@pytest.fixture
def tiny() -> Splits:
    """A 2-class problem learnable in one epoch: the sign of the image mean."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(96, 1, 6, 6, generator=g)
    y = (x.mean((1, 2, 3)) > 0).long()
    return Splits(x[:64], y[:64], x[64:], y[64:], num_classes=2, kind="image", name="tiny")


@pytest.fixture
def script(tmp_path):
    """``script(body)``: write ``SOURCE`` + ``body`` to a file in ``tmp_path``, return it."""

    def write(body: str) -> str:
        path = tmp_path / "job.py"
        path.write_text(SOURCE + textwrap.dedent(body))
        return str(path)

    return write
