"""Algorithms are plug-ins: callers find them, their checks and their costs in the registry."""

from __future__ import annotations

import importlib

import pytest
import torch

import anyconv
from anyconv.functional.algorithms import auto, registry
from anyconv.functional.algorithms.im2col import conv_im2col
from anyconv.functional.algorithms.registry import Algorithm


@pytest.fixture
def plugin():
    """Registers an algorithm for one test and removes it (and auto's memory) afterwards."""
    added = []

    def add(algorithm: Algorithm) -> Algorithm:
        added.append(registry.register(algorithm))
        auto.clear_decisions()
        return algorithm

    yield add
    for algorithm in added:
        del registry.ALGORITHMS[algorithm.name]
    auto.clear_decisions()


def _counting(calls):
    def run(x, weight, bias, spec):
        calls.append(spec)
        return conv_im2col(x, weight, bias, spec)

    return run


def test_a_new_algorithm_is_one_entry_everywhere(plugin):
    calls = []
    plugin(Algorithm("columns", _counting(calls), "im2col under another name"))
    x, w = torch.randn(2, 3, 9, 8), torch.randn(4, 3, 3, 2)
    assert "columns" in anyconv.list_algorithms()
    y = anyconv.conv(x, w, padding="same", algorithm="columns")
    assert len(calls) == 1
    torch.testing.assert_close(y, anyconv.conv(x, w, padding="same", algorithm="native"))
    assert '``"columns"``: im2col under another name' in registry.describe()
    # the layers accept it, and the tiled layer runs its phases or blocks through it
    layer = anyconv.nn.Conv2d(3, 4, (3, 2), algorithm="columns")
    assert layer(x).shape == (2, 4, 7, 7)
    tiled = anyconv.tiled_conv(x, torch.randn(4, 3, 3, 2, 2, 2), tiles=2, algorithm="columns")
    assert tiled.shape == (2, 4, 7, 7) and len(calls) >= 3


def test_auto_chooses_among_algorithms_with_a_cost(plugin):
    calls = []
    plugin(Algorithm("free", _counting(calls), "costs nothing", cost=lambda problem: 0.0))
    assert "free" in [a.name for a in registry.candidates()]
    x, w = torch.randn(1, 2, 16), torch.randn(3, 2, 5)
    anyconv.conv(x, w)
    assert len(calls) == 1


def test_a_refusing_algorithm_is_passed_over_by_auto_and_refused_when_named(plugin):
    calls = []
    plugin(
        Algorithm(
            "picky",
            _counting(calls),
            "refuses odd kernels",
            check=lambda p: "refuses odd kernels" if p.weight_shape[-1] % 2 else None,
            cost=lambda problem: 0.0,
        )
    )
    x, w = torch.randn(1, 2, 16), torch.randn(3, 2, 5)
    anyconv.conv(x, w)  # auto: picky refuses, so a built-in candidate runs
    assert calls == []
    with pytest.raises(ValueError, match=r"'algorithm'='picky' refuses odd kernels; use a smaller"):
        anyconv.conv(x, w, algorithm="picky")
    anyconv.conv(x, w[..., :4], algorithm="picky")
    anyconv.conv(x, w[..., :4])  # auto: accepted, and the cheapest
    assert len(calls) == 2


def test_registry_refuses_a_second_entry_under_one_name():
    with pytest.raises(ValueError, match="already registered"):
        registry.register(Algorithm("fft", conv_im2col, "a second fft"))


def test_the_fft_modules_have_one_import_path():
    from anyconv.functional.algorithms import fft

    for old in ("fft_plan", "kernel_transforms", "spectrum_cache"):
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(f"anyconv.functional.algorithms.{old}")
    for name in ("conv_fft", "overlap_save", "cache_kernel_spectra", "transform_sizes"):
        assert callable(getattr(fft, name))
    from anyconv.functional.algorithms.im2col import sliding_windows
    from anyconv.functional.windows import sliding_windows as neutral

    assert sliding_windows is neutral
