"""summary and receptive_field through transposed convolutions (anyconv's and torch's)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import anyconv
import anyconv.nn as ann
from anyconv.analysis import field_maps, receptive_field, summary


def _scatter_terms(m, c_in, c_out, groups, kernel):
    """The multiply-adds of the direct scatter, counted one input position at a time."""
    return sum(c_in * c_out // groups * math.prod(kernel) for _ in range(math.prod(m)))


@pytest.mark.parametrize("make", [ann.ConvTranspose2d, nn.ConvTranspose2d])
def test_macs_are_the_scatter_terms_and_the_adjoint_convolutions(make):
    layer = make(6, 4, (3, 2), stride=2, padding=1, output_padding=1, groups=2)
    rows = {r["name"]: r for r in summary(nn.Sequential(layer), (6, 5, 7))}
    macs = rows["0"]["macs"]
    assert macs == _scatter_terms((5, 7), 6, 4, 2, (3, 2))
    out = rows["0"]["output_shape"]
    assert out == (
        4,
        *anyconv.transposed_output_shape((5, 7), (3, 2), stride=2, padding=1, output_padding=1),
    )
    # the convolution with the same arguments, from the output back to the input, does as many
    conv = ann.Conv2d(4, 6, (3, 2), stride=2, padding=1, groups=2)
    assert {r["name"]: r for r in summary(nn.Sequential(conv), out)}["0"]["macs"] == macs
    assert rows["0"]["parameters"] == layer.weight.numel() + layer.bias.numel()


def test_a_single_transposed_layer_divides_the_jump():
    for k, s, d, p in [(4, 2, 1, 1), (3, 2, 1, 0), (3, 3, 2, 2), (5, 4, 1, 1)]:
        k_eff = d * (k - 1) + 1
        for layer in (
            ann.ConvTranspose1d(1, 1, k, s, p, dilation=d),
            nn.ConvTranspose1d(1, 1, k, s, p, dilation=d),
        ):
            f = receptive_field(nn.Sequential(layer), (1, 12))["0"]
            assert f.size == (1 + (k_eff - 1) / s,)
            assert f.jump == (1 / s,)
            assert f.start == ((p - (k_eff - 1) / 2) / s,)
            assert "upper bounds" in f.note


def test_encoder_decoder_jump_returns_to_one_and_fields_hold_the_measured():
    net = nn.Sequential(
        ann.Conv2d(1, 2, 3, stride=2, padding="same"),
        nn.ReLU(),
        ann.Conv2d(2, 2, 3, stride=2, padding="same"),
        ann.ConvTranspose2d(2, 2, 4, stride=2, padding=1),
        nn.ReLU(),
        nn.ConvTranspose2d(2, 1, 3, stride=2, padding=1, output_padding=1),
    )
    fields = receptive_field(net, (1, 32, 32))
    assert fields["2"].jump == (4, 4)
    assert fields["3"].jump == (2, 2) and fields["5"].jump == (1, 1)
    # every position's measured field lies in its analytic (upper-bound) field
    for fm in field_maps(net, (1, 32, 32), ["3", "5"]):
        support = (fm.gradient > 0).nonzero()
        for axis, (lo, hi) in enumerate(fm.box()):
            assert lo <= support[:, axis].min() and support[:, axis].max() <= hi


class _Decoder(nn.Module):
    """Calls anyconv.conv_transpose in its forward (not a layer): the tracer must read the
    call whole, whatever algorithm computes it."""

    def __init__(self, algorithm):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(4, 2, 3, 3))
        self.algorithm = algorithm

    def forward(self, x):
        return anyconv.conv_transpose(
            x, self.weight, stride=2, padding="same", algorithm=self.algorithm
        )


@pytest.mark.parametrize("algorithm", ["native", "direct", "im2col", "fft", "matrix"])
def test_a_functional_call_is_read_whole_whatever_the_algorithm(algorithm):
    layer = ann.ConvTranspose2d(4, 2, 3, stride=2, padding="same", bias=False)
    want = summary(nn.Sequential(layer), (4, 6, 6))[0]
    got = summary(_Decoder(algorithm), (4, 6, 6))[0]
    assert got["macs"] == want["macs"] == 4 * 36 * 2 * 9
    assert got["output_shape"] == want["output_shape"] == (2, 12, 12)
    assert got["receptive_field"] == want["receptive_field"]
