"""The native phases of tiled convolution (anyconv.functional.tiled_phases): the per-axis
plan, the re-mixed transposed tiles, layouts and double backward. Values and gradients
against independent references are in test_tiled.py."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from anyconv.functional.tiled import tiled_conv
from anyconv.functional.tiled_phases import axis_plan, phase_conv, transposed_tiles
from anyconv.padding import conv_spec


@settings(max_examples=300, deadline=None)
@given(
    size=st.integers(1, 40),
    start=st.integers(-12, 6),
    step=st.integers(1, 3),
    dilation=st.integers(1, 3),
    kernel=st.integers(1, 6),
    tiles=st.integers(1, 5),
    per_phase=st.integers(1, 12),
)
def test_axis_plan_reads_exactly_the_phase_outputs(
    size, start, step, dilation, kernel, tiles, per_phase
):
    plan = axis_plan(size, start, step, dilation, kernel, tiles, per_phase)
    period = tiles * step
    span = (kernel - 1) * dilation + 1
    assert plan.lo >= 0 and plan.hi >= 0
    for t in range(tiles):
        pad, skip, count = plan.pads[t], plan.skips[t], plan.counts[t]
        assert skip >= 0 and pad >= 0
        assert count == (size + plan.lo + plan.hi + 2 * pad - span) // period + 1
        assert count >= skip + per_phase
        for m in range(per_phase):
            # conv output skip+m starts at source position -pad + P(skip+m), which is input
            # position start + (t + T·m)·step once the source's lo zeros are taken off
            first = -pad + period * (skip + m) - plan.lo
            assert first == start + (t + tiles * m) * step


def test_axis_plan_keeps_paddings_small_for_same():
    """'same' with k=3, T=2: the source gets one trailing zero and the paddings are 1 and 0
    (PyTorch's CPU weight-gradient kernel ran about 1.5x slower at padding 2)."""
    plan = axis_plan(32, -1, 1, 1, 3, 2, 16)
    assert (plan.lo, plan.hi, plan.pads, plan.skips) == (0, 1, (1, 0), (0, 0))


def test_transposed_tiles_swaps_channels_per_group():
    w = torch.randn(6, 2, 3, 2)  # groups=3: 2 outputs and 2 inputs per group
    t = transposed_tiles(w, (1,), 3)
    assert t.shape == (6, 2, 3, 2)
    # group 1, input channel 1 -> output channel 2+1 of the transposed weight
    for q in range(3):
        for r in range(2):
            assert torch.equal(t[3, :, q, r], w[2:4, 1, 2 - q, (r - (2 - q)) % 2])


def _spec(x, w, **kwargs):
    ndim = x.dim() - 2
    options = dict(stride=1, padding="same", dilation=1, groups=1, padding_mode="zeros")
    return conv_spec(tuple(x.shape), tuple(w.shape[: 2 + ndim]), **{**options, **kwargs})


def test_output_is_contiguous_and_channels_last_input_agrees():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 8, 10, generator=g)
    w = torch.randn(4, 3, 3, 3, 2, 2, generator=g)
    y = phase_conv(x, w, None, _spec(x, w))
    assert y.is_contiguous()
    y_last = phase_conv(x.contiguous(memory_format=torch.channels_last), w, None, _spec(x, w))
    torch.testing.assert_close(y_last, y)


def test_tiles_past_the_output_get_zero_gradient():
    x = torch.randn(1, 2, 3, dtype=torch.float64)
    w = torch.randn(2, 2, 1, 5, dtype=torch.float64, requires_grad=True)
    phase_conv(x, w, None, _spec(x, w)).sum().backward()
    assert torch.equal(w.grad[..., 3:], torch.zeros_like(w.grad[..., 3:]))
    assert w.grad[..., :3].abs().sum() > 0


@pytest.mark.parametrize(
    "options",
    [
        dict(stride=1, padding="same", dilation=(2, 1), groups=2, padding_mode="zeros"),
        dict(stride=1, padding="full", dilation=1, groups=1, padding_mode="circular"),
        dict(stride=(2, 1), padding=1, dilation=1, groups=2, padding_mode="zeros"),
    ],
)
@pytest.mark.parametrize(
    "large",
    [
        # one sample, 4x5 (every phase non-empty), two channels in the ungrouped case so
        # that the transposed tiles swap channels (groups are covered by the test above)
        pytest.param(False, id="small"),
        pytest.param(True, id="large", marks=pytest.mark.slow),
    ],
)
def test_double_backward(options, large):
    g = torch.Generator().manual_seed(3)
    groups = options["groups"]
    batch, spatial = (2, (6, 5)) if large else (1, (4, 5))
    per_group = 4 // groups if large else 2 // groups
    channels = per_group * groups
    x = torch.randn(batch, channels, *spatial, dtype=torch.float64, generator=g)
    x.requires_grad_()
    w = torch.randn(channels, per_group, 2, 3, 2, 3, dtype=torch.float64, generator=g)
    w.requires_grad_()
    b = torch.randn(channels, dtype=torch.float64, generator=g, requires_grad=True)

    def f(x, w, b):
        return tiled_conv(x, w, b, tiles=(2, 3), algorithm="native", method="phases", **options)

    assert torch.autograd.gradcheck(f, (x, w, b))
    assert torch.autograd.gradgradcheck(f, (x, w, b))
