"""The measuring helpers of the experiments against independent references."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from anyconv.analysis import shift_consistency, summary
from anyconv.experiments.fft_crossover import crossover
from anyconv.experiments.gabor import fit_gabor
from anyconv.experiments.learned_invariance import rotate
from anyconv.experiments.report import cells, columns
from anyconv.experiments.separable_rank import relative_error
from anyconv.experiments.sharing import closed_form, first_layer
from anyconv.filters import gabor_kernel
from anyconv.models import MLP, LeNet5, mlp_width
from anyconv.nn import BlurPool2d, MaxBlurPool2d


@pytest.mark.parametrize("kind", ["dense", "local", "tiled", "conv"])
@pytest.mark.parametrize(("c", "o", "k", "size"), [(1, 8, 3, (8, 8)), (3, 4, 5, (7, 9))])
def test_closed_form_parameters_match_the_layers(kind, c, o, k, size):
    layer = first_layer(kind, c, o, k, size)
    params, _ = closed_form(kind, c, o, k, size)
    assert params == sum(p.numel() for p in layer.parameters())
    assert layer(torch.randn(2, c, *size)).shape == (2, o, *size)


def macs(model, shape):
    return summary(model, shape)[-1]["macs"]


def test_macs_count_convolutions_and_linear_layers():
    # LeNet-5 on 32x32: conv1 6x28x28x25 + conv2 16x10x10x150 + 400x120 + 120x84 + 84x10
    expected = 6 * 28 * 28 * 25 + 16 * 10 * 10 * 150 + 400 * 120 + 120 * 84 + 84 * 10
    assert macs(LeNet5(input_size=(32, 32)), (1, 32, 32)) == expected
    assert macs(MLP(input_size=(8, 8), hidden=(5,)), (1, 8, 8)) == 64 * 5 + 5 * 10
    grouped = torch.nn.Conv2d(4, 6, 3, groups=2, padding=1)
    assert macs(grouped, (4, 5, 5)) == 6 * 25 * 2 * 9


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("target", [5_000, 61_706, 617_060])
def test_mlp_width_is_the_closest_width(depth, target):
    def count(w):
        return MLP(input_size=(28, 28), hidden=(w,) * depth).num_parameters

    w = mlp_width(target, 784, 10, depth)
    assert abs(count(w) - target) <= min(
        abs(count(w + 1) - target), abs(count(max(w - 1, 1)) - target)
    )


def test_blurpool_is_a_binomial_filter_then_stride():
    x = torch.randn(2, 3, 9, 8, dtype=torch.float64)
    row = torch.tensor([1.0, 2.0, 1.0], dtype=torch.float64) / 4
    kernel = torch.outer(row, row).expand(3, 1, 3, 3)
    # "same" with stride 2: 9 rows -> 5 (pad 1 and 1), 8 columns -> 4 (pad 0 and 1)
    padded = F.pad(x, (0, 1, 1, 1), mode="reflect")
    expected = F.conv2d(padded, kernel, stride=2, groups=3)
    assert torch.allclose(BlurPool2d()(x), expected, atol=1e-12)
    assert MaxBlurPool2d()(x.float()).shape == (2, 3, 4, 4)  # ceil((n - 1) / 2)


def test_shift_consistency_counts_kept_predictions():
    torch.manual_seed(0)
    x = torch.rand(20, 1, 6, 6)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(36, 4))
    out = shift_consistency(net, x, [(0, 0), (0, 1)])
    base = net(x).argmax(1)
    moved = net(F.pad(x, (1, 0))[..., :6]).argmax(1)
    assert out["per_shift"][0] == {"shift": (0, 0), "consistency": 1.0, "softmax_change": 0.0}
    assert out["consistency"] == pytest.approx((base == moved).double().mean().item())
    assert 0 < out["softmax_change"] < 1
    constant = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(36, 4))
    torch.nn.init.zeros_(constant[1].weight)
    assert shift_consistency(constant, x, [(2, -1)])["consistency"] == 1.0


def test_rotate_matches_exact_quarter_turns():
    x = torch.randn(3, 2, 6, 6)
    assert torch.allclose(rotate(x, 90.0), torch.rot90(x, 1, (2, 3)), atol=1e-5)
    assert torch.allclose(rotate(x, -90.0), torch.rot90(x, -1, (2, 3)), atol=1e-5)
    assert torch.allclose(rotate(x, torch.zeros(3)), x, atol=1e-6)


def test_fit_gabor_recovers_gabors_and_not_noise():
    torch.manual_seed(0)
    params = [(0.3, 1.1, 0.0), (1.9, 0.7, math.pi / 2), (2.6, 1.6, 1.0)]
    kernels = torch.stack([gabor_kernel(7, t, w, p) for t, w, p in params]) * 3
    fitted, residual = fit_gabor(kernels, steps=100)
    assert (residual < 0.02).all()
    assert torch.allclose(fitted, kernels, atol=0.1)
    _, noise = fit_gabor(torch.randn(8, 7, 7), steps=100)
    assert (noise > 0.5).all()


def test_relative_error_of_a_rank_one_kernel_is_zero_at_rank_one():
    w = torch.outer(torch.randn(5), torch.randn(5)).expand(2, 3, 5, 5).contiguous()
    assert relative_error(w, 1) < 1e-6
    assert relative_error(torch.randn(4, 2, 5, 5), 5) < 1e-6


def test_crossover_is_where_fft_stays_faster():
    ks = [1, 3, 5, 7]
    assert crossover(ks, [4, 3, 1, 1], [1, 2, 3, 4]) == 5
    assert crossover(ks, [4, 1, 3, 1], [2, 2, 2, 2]) == 7  # not before it stays faster
    assert crossover(ks, [4, 4, 4, 4], [1, 1, 1, 1]) is None
    assert crossover(ks, [4, 1, 1, 1], [1, 2, None, 2]) == 3  # a missing time is skipped


def test_table_cells_fold_std_columns_and_format():
    table = [{"model": "a", "acc": 0.5, "acc_std": 0.25, "n": 1234, "ok": True, "x": None}]
    assert columns(table) == ["model", "acc", "n", "ok", "x"]
    assert cells(table, {"acc": "{:.0%}"}) == (
        ["model", "acc", "n", "ok", "x"],
        [["a", "50% ± 25%", "1,234", "yes", "-"]],
    )
