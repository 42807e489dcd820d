"""The library's part of the hostile-input report of 2026-12-06
(``../shared/reports/hostile-inputs-2026-12-06.md``): each case, named by its label there,
with the answer it must now give, checked against an independent reference where there is
a number to check (PyTorch's native kernels, a float64 result, hand counts).

The layouts users bring (unbatched tensors, channels_last) and forward-mode AD have their
own tests beside the code (tests/nn/test_layouts.py, tests/functional/test_forward_ad.py).
"""

from __future__ import annotations

import gc
import math
import weakref

import numpy as np
import pytest
import torch

import anyconv
import anyconv.nn as ann
from anyconv.analysis import receptive_field, shift_consistency, shift_equivariance, summary
from anyconv.analysis import trace as trace_module
from anyconv.functional.algorithms import memory
from anyconv.viz import animate_conv, plot_conv_matrix

ALGORITHMS = anyconv.list_algorithms()


class FunctionalConv(torch.nn.Module):
    """A module that calls the functional ``anyconv.conv`` in its own forward (W1)."""

    def __init__(self, algorithm):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(2, 1, 3, 3))
        self.algorithm = algorithm

    def forward(self, x):
        y = anyconv.conv(x, self.w, padding="same", algorithm=self.algorithm)
        return anyconv.conv(y, self.w[:, :1].transpose(0, 1).contiguous(), stride=2)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_w1_summary_and_receptive_field_of_functional_conv_for_every_algorithm(algorithm):
    """direct, fft and matrix gave 0 MACs (or 468) and a 1x1 field."""
    model = FunctionalConv(algorithm)
    rows = summary(model, (1, 8, 8))
    # by hand: 2x8x8 outputs of 1x3x3, then 1x3x3 outputs of 2x3x3 (stride 2)
    assert rows[-1]["macs"] == 2 * 64 * 9 + 9 * 18
    field = receptive_field(model, (1, 16, 16))[""]
    assert field.size == (5, 5) and field.jump == (2, 2)
    # the same count as the module equivalent of the same layers, which the tracer knows
    layers = torch.nn.Sequential(
        ann.Conv2d(1, 2, 3, padding="same", bias=False), ann.Conv2d(2, 1, 3, stride=2, bias=False)
    )
    assert summary(layers, (1, 8, 8))[-1]["macs"] == rows[-1]["macs"]
    assert receptive_field(layers, (1, 16, 16))[""] == field


@pytest.mark.parametrize("algorithm", ["direct", "im2col", "fft", "matrix"])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_w2_half_precision_is_summed_in_float32(algorithm, dtype):
    """direct was off by 11% (float16) and 69% (bfloat16) on a 63x63 kernel."""
    torch.manual_seed(0)
    n, k = (40, 15) if algorithm == "matrix" else (96, 63)  # the matrix: 4x fewer entries
    x = torch.rand(1, 1, n, n) * 200
    w = torch.rand(1, 1, k, k) / 500
    want = anyconv.conv(x.double(), w.double(), algorithm="native")  # float64 reference
    got = anyconv.conv(x.to(dtype), w.to(dtype), algorithm=algorithm)
    error = float((got.double() - want).abs().max() / want.abs().max())
    native = anyconv.conv(x.to(dtype), w.to(dtype), algorithm="native")
    native_error = float((native.double() - want).abs().max() / want.abs().max())
    # as close as PyTorch's own kernel (the inputs' rounding to half precision dominates)
    assert error <= 1.5 * native_error + 1e-4, (error, native_error)


def test_w10_a_flattened_map_is_refused_not_compared():
    x = torch.randn(2, 1, 8, 8)
    with pytest.raises(ValueError, match=r"^shift_equivariance\(\): argument 'f' .*positions"):
        shift_equivariance(lambda t: t.flatten(1), x, [1])
    # pooled away, it is an invariance measurement, as before
    rows = shift_equivariance(lambda t: t.mean((2, 3)), x, [1])
    assert rows[0]["output_shift"] == (0, 0) and rows[0]["error"] < 1e-6


def test_c5_integers_beyond_int64_get_anyconvs_error():
    x = torch.randn(1, 1, 8, 8)
    with pytest.raises(ValueError, match=r"^shift_equivariance\(\): argument 'shifts' .*2\*\*48"):
        shift_equivariance(torch.nn.Conv2d(1, 1, 3), x, [2**70])
    with pytest.raises(ValueError, match=r"^receptive_field\(\): one sample of shape"):
        receptive_field(torch.nn.Conv2d(1, 1, 3), (1, 2**70, 5))


def test_c6_absurd_sizes_are_estimated_and_refused_before_allocation(monkeypatch):
    monkeypatch.setattr(memory, "MEMORY_LIMIT", 10**9)
    for call in (receptive_field, summary):
        with pytest.raises(ValueError) as info:
            call(torch.nn.Conv2d(1, 1, 3), (1, 10**6, 10**6))
        message = str(info.value)
        assert message.startswith(f"{call.__name__}(): one sample of shape (1, 1000000, 1000000)")
        assert "through the model" in message and " TB, above the limit of 1.0 GB" in message
    with pytest.raises(ValueError, match=r"^plot_conv_matrix\(\): argument 'weight'"):
        plot_conv_matrix(torch.zeros(0, 1, 3, 3), (1, 5, 5), "unused.png")


def test_c6_gradient_method_estimates_every_float64_activation(monkeypatch):
    net = torch.nn.Sequential(*[torch.nn.Conv2d(4, 4, 3, padding=1) for _ in range(8)])
    monkeypatch.setattr(memory, "MEMORY_LIMIT", 4 * 64 * 64 * 4 * 8 * 4)  # the trace fits
    assert receptive_field(net, (4, 64, 64))["7"].size == (17, 17)
    with pytest.raises(ValueError, match=r"method='gradient' \(every activation of a float64"):
        receptive_field(net, (4, 64, 64), method="gradient")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_c7_backward_under_autocast_for_every_algorithm(algorithm, dtype):
    """matrix crashed: 'expected m1 and m2 to have the same dtype'."""
    torch.manual_seed(0)
    layer = ann.Conv2d(3, 4, 3, padding="same", algorithm=algorithm)
    reference = torch.nn.Conv2d(3, 4, 3, padding="same")
    reference.load_state_dict(layer.state_dict())
    x = torch.randn(2, 3, 12, 12)
    with torch.autocast("cpu", dtype=dtype):
        y = layer(x)
        want = reference(x)
    assert y.dtype == want.dtype == dtype
    y.float().square().sum().backward()
    want.float().square().sum().backward()
    assert layer.weight.grad.dtype == torch.float32
    scale = reference.weight.grad.abs().max()
    assert (layer.weight.grad - reference.weight.grad).abs().max() <= 0.05 * scale


def test_c9_library_arguments():
    x = torch.randn(2, 1, 8, 8)
    with pytest.raises(TypeError, match=r"^shift_equivariance\(\): argument 'f' .*one tensor"):
        shift_equivariance(lambda t: (t, t), x, [1])
    for bad in (-1, float("nan"), 0.0, 10**6):
        with pytest.raises(ValueError, match=r"^animate_conv\(\): argument 'seconds_per_frame'"):
            animate_conv((5, 5), 3, seconds_per_frame=bad, out="unused.gif")
    with pytest.raises(ValueError, match=r"^animate_conv\(\): argument 'dpi' .*got 1000000$"):
        animate_conv((5, 5), 3, dpi=10**6, out="unused.gif")
    with pytest.raises(ValueError, match=r"^plot_conv_matrix\(\): argument 'weight' .*meta"):
        plot_conv_matrix(torch.zeros(1, 1, 3, 3, device="meta"), (1, 5, 5), "unused.png")


def test_w4_an_empty_batch_is_refused_not_nan():
    empty = torch.randn(0, 1, 8, 8)
    net = torch.nn.Sequential(ann.Conv2d(1, 2, 3), ann.GlobalAvgPool())
    for measure in (shift_equivariance, shift_consistency):
        with pytest.raises(
            ValueError, match=rf"^{measure.__name__}\(\): argument 'x' .*one sample"
        ):
            measure(net, empty, [1])


def test_s5_the_tracer_keeps_no_activation_alive():
    """The trace held every intermediate tensor until it ended: summary of a TCN on 10^6
    samples passed an estimate of 0.24 GiB and needed about 14 GB."""
    alive, seen = [], []

    class Keep(torch.nn.Module):
        def forward(self, x):
            y = torch.relu(x) * 2  # an intermediate that only a tracer would hold on to
            alive.append(weakref.ref(y))
            return y + 1

    class Look(torch.nn.Module):
        def forward(self, x):
            gc.collect()
            seen.extend(ref() is None for ref in alive)
            return x

    net = torch.nn.Sequential(ann.Conv2d(1, 4, 3), Keep(), Keep(), Look(), ann.Conv2d(4, 4, 3))
    trace_module.trace(net, (1, 16, 16))
    assert seen == [True, True]  # freed during the pass, as without the tracer


def test_s5_the_estimate_is_the_widest_activation_sixteen_times():
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 64, 3), torch.nn.Conv2d(64, 8, 3))
    need, widest = trace_module.trace_memory(net, (1, 1000, 1000))
    assert widest == 64
    assert need == 4 * (10**6 + trace_module.TRACE_FACTOR * 64 * 10**6)


def test_api_unclear_messages_show_the_value_given():
    x, w = torch.randn(1, 1, 8, 8), torch.randn(1, 1, 3, 3)
    with pytest.raises(TypeError, match=r"argument 'stride' .*; got '2'$"):
        anyconv.conv(x, w, stride="2")
    for bad, shown in ((3.0, "3.0"), (True, "True")):
        with pytest.raises(TypeError, match=rf"argument 'kernel_size' .*; got {shown}$"):
            animate_conv((5, 5), bad)


def test_api_unclear_numpy_integers_are_ints():
    x, w = torch.randn(1, 2, 9, 9), torch.randn(4, 2, 3, 3)
    n = np.int64
    y = anyconv.conv(x, w, stride=n(2), padding=n(1), dilation=(n(1), 1), groups=n(1))
    torch.testing.assert_close(y, torch.nn.functional.conv2d(x, w, stride=2, padding=1))
    assert anyconv.max_pool(x, n(3), n(2), padding=(n(1), (0, n(1)))).shape == (1, 2, 5, 4)
    layer = ann.Conv2d(n(2), n(4), n(3), stride=n(2))
    assert layer.kernel_size == (3, 3) and type(layer.stride[0]) is int
    assert receptive_field(layer, (n(2), n(9), 9))[""].size == (3, 3)
    rows = shift_equivariance(
        ann.Conv2d(2, 2, 3, padding_mode="circular", padding="same"), x, [n(1), (n(2), 0)]
    )
    assert [r["shift"] for r in rows] == [(1, 1), (2, 0)] and type(rows[0]["shift"][0]) is int
    assert animate_conv((n(5), 5), n(3)).output_size == (3, 3)
    assert math.prod(anyconv.output_shape((n(9),), n(3), stride=n(2))) == 4
