"""Equivariance and invariance, measured: the ground truths of the theory."""

from __future__ import annotations

import math

import pytest
import torch

import anyconv.nn as ann
from anyconv.analysis import (
    layer_equivariance,
    shift_consistency,
    shift_equivariance,
    translate,
)

SHIFTS = range(-4, 5)


@pytest.fixture
def x():
    return torch.randn(3, 2, 12, 12, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("kernel", [3, 4])
def test_circular_convolution_is_exactly_equivariant_for_every_shift(x, kernel):
    conv = ann.Conv2d(2, 4, kernel, padding="same", padding_mode="circular")
    for row in shift_equivariance(conv, x, SHIFTS):
        assert row["aligned"] and row["output_shift"] == row["shift"]
        assert row["error"] <= 1e-6
    # one axis at a time, and per-axis shifts
    rows = shift_equivariance(conv, x, [(1, -3), (0, 5)], axes=(0, 1))
    assert all(r["error"] <= 1e-6 for r in rows)


def test_zero_padding_breaks_equivariance_only_at_the_border(x):
    conv = ann.Conv2d(2, 4, 3, padding="same")  # zeros
    circular = shift_equivariance(conv, x, [1, 2])
    crop = shift_equivariance(conv, x, [1, 2], mode="crop")
    assert all(r["error"] > 1e-2 for r in circular)
    assert all(r["error"] <= 1e-6 for r in crop)
    # the compared interior: 10x10 positions see no padding, minus the shifted-in rows
    assert [r["compared"] for r in crop] == [9 * 9, 8 * 8]


def test_stride_2_max_pooling_is_equivariant_for_even_shifts_only(x):
    rows = shift_equivariance(ann.MaxPool2d(2), x, SHIFTS)
    for row in rows:
        even = row["shift"][0] % 2 == 0
        assert row["aligned"] == even
        if even:
            assert row["output_shift"][0] == row["shift"][0] // 2
            assert row["error"] <= 1e-6
        else:
            assert row["error"] > 0.1


def test_global_average_of_a_circular_convolution_is_exactly_invariant(x):
    net = torch.nn.Sequential(
        ann.Conv2d(2, 4, 3, padding="same", padding_mode="circular"),
        torch.nn.ReLU(),
        ann.GlobalAvgPool(),
    )
    for row in shift_equivariance(net, x, SHIFTS):
        assert row["output_shift"] == (0, 0) and row["error"] <= 1e-6


def test_blur_pooling_reduces_the_error_of_odd_shifts(x):
    def odd_error(pool):
        rows = shift_equivariance(pool, x, [-3, -1, 1, 3])
        return sum(r["error"] for r in rows) / len(rows)

    assert odd_error(ann.MaxBlurPool2d(2, padding_mode="circular")) < 0.6 * odd_error(
        ann.MaxPool2d(2)
    )
    even = shift_equivariance(ann.BlurPool2d(padding_mode="circular"), x, [-2, 2, 4])
    assert all(r["error"] <= 1e-6 for r in even)


def test_layer_equivariance_follows_the_total_stride():
    net = torch.nn.Sequential(
        ann.Conv1d(1, 2, 3, padding="same"),
        ann.MaxPool1d(2),
        ann.Conv1d(2, 2, 3, padding="same"),
        ann.MaxPool1d(2),
    )
    x = torch.randn(4, 1, 64, generator=torch.Generator().manual_seed(1))
    errors = layer_equivariance(net, x, [1, 2, 4], mode="crop")
    assert list(errors) == ["0", "1", "2", "3"]
    assert [r["aligned"] for r in errors["3"]] == [False, False, True]
    assert [r["output_shift"] for r in errors["3"]] == [(0,), (0,), (1,)]  # 0.25, 0.5 -> 0
    assert all(r["error"] <= 1e-6 for r in errors["0"])
    assert errors["1"][1]["error"] <= 1e-6 and errors["1"][0]["error"] > 0.1
    assert errors["3"][2]["error"] <= 1e-6


def test_crop_mode_without_any_usable_position_is_nan():
    net = torch.nn.Sequential(ann.Conv1d(1, 1, 5), ann.Conv1d(1, 1, 5))  # fields of 9
    rows = shift_equivariance(net, torch.randn(1, 1, 12), [4], mode="crop")
    assert math.isnan(rows[0]["error"]) and rows[0]["compared"] == 0


def test_shift_consistency():
    torch.manual_seed(0)
    invariant = torch.nn.Sequential(
        ann.Conv2d(1, 3, 3, padding="same", padding_mode="circular"), ann.GlobalAvgPool()
    )
    x = torch.randn(16, 1, 8, 8)
    result = shift_consistency(invariant, x, [-2, -1, 0, 1, 2])
    assert result["consistency"] == 1.0 and result["softmax_change"] < 1e-6
    assert [r["shift"] for r in result["per_shift"]] == [(s, s) for s in (-2, -1, 0, 1, 2)]
    # a dense layer on the raw pixels has no reason to keep its answer
    dense = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 5))
    result = shift_consistency(dense, x, [1, 2, 3], mode="zeros")
    assert result["consistency"] < 0.9 and result["softmax_change"] > 0.05
    zero = shift_consistency(dense, x, [0])["per_shift"][0]
    assert zero["consistency"] == 1.0 and zero["softmax_change"] == 0.0


def test_translate():
    x = torch.arange(12.0).view(1, 1, 3, 4)
    assert torch.equal(translate(x, (1,), (1,)), torch.roll(x, 1, 3))
    moved = translate(x, (-1, 2), (0, 1), "zeros")
    assert torch.equal(moved[0, 0], torch.tensor([[0.0, 0, 4, 5], [0, 0, 8, 9], [0, 0, 0, 0]]))


def test_bad_arguments(x):
    conv = ann.Conv2d(2, 2, 3, padding="same")
    with pytest.raises(ValueError, match="mode"):
        shift_equivariance(conv, x, [1], mode="wrap")
    with pytest.raises(TypeError, match="shifts"):
        shift_equivariance(conv, x, 3)
    with pytest.raises(ValueError, match="axes"):
        shift_equivariance(conv, x, [1], axes=2)
    with pytest.raises(TypeError, match="'f'"):  # a roll: no receptive field to crop by
        shift_equivariance(lambda t: torch.roll(t, 1, -1), x, [1], mode="crop")
    # a plain function the tracer follows has its field: crop works
    assert shift_equivariance(lambda t: t, x, [1], mode="crop")[0]["error"] == 0
    with pytest.raises(ValueError, match="classifier"):
        shift_consistency(conv, x, [1])
