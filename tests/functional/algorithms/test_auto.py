"""algorithm="auto": the cost model's choices and the measured mode (cuDNN-style benchmark).
Its results are checked with every other algorithm's in tests/functional/test_conv.py."""

from __future__ import annotations

import torch

import anyconv
from anyconv.functional.algorithms import auto
from anyconv.padding import conv_spec


def test_auto_cost_model_sends_large_kernels_to_fft():
    def pick(k, ndim=2, size=128):
        x = torch.empty(8, 16, *(size,) * ndim)
        w = torch.empty(16, 16, *(k,) * ndim)
        spec = conv_spec(
            x.shape, w.shape, stride=1, padding="same", dilation=1, groups=1, padding_mode="zeros"
        )
        return auto.choose(x, w, spec)

    assert [pick(k) for k in (1, 3, 5, 7)] == ["native"] * 4
    assert [pick(k) for k in (21, 31)] == ["fft"] * 2


def test_auto_knows_float64_cpu_kernels_are_slow():
    x, w = torch.empty(8, 16, 64, 64), torch.empty(16, 16, 3, 3)
    spec = conv_spec(
        x.shape, w.shape, stride=1, padding="same", dilation=1, groups=1, padding_mode="zeros"
    )
    assert auto.choose(x, w, spec) == "native"
    assert auto.choose(x.double(), w.double(), spec) == "fft"


def test_auto_tells_training_from_inference():
    """Depthwise 7x7: PyTorch's forward is fast, its backward slow (measured crossovers)."""
    x, w = torch.empty(8, 64, 64, 64), torch.empty(64, 1, 7, 7)
    spec = conv_spec(
        x.shape, w.shape, stride=1, padding="same", dilation=1, groups=64, padding_mode="zeros"
    )
    assert auto.choose(x, w, spec) == "native"
    assert auto.choose(x, w.requires_grad_(), spec) == "fft"
    with torch.no_grad():
        assert auto.choose(x, w, spec) == "native"


def test_measured_mode_times_once_and_caches(monkeypatch):
    auto.clear_decisions()
    calls = []
    original = auto._measure_once
    monkeypatch.setattr(auto, "_measure_once", lambda *a: calls.append(1) or original(*a))
    x, w = torch.randn(2, 3, 20), torch.randn(4, 3, 5)
    with anyconv.measure():
        a = anyconv.conv(x, w, padding="same")
        b = anyconv.conv(x, w, padding="same")
    assert len(calls) == 1 and torch.allclose(a, b)
    assert torch.allclose(a, anyconv.conv(x, w, padding="same", algorithm="native"), atol=1e-5)
    auto.clear_decisions()
