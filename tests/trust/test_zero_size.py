"""Zero-size problems have one answer whatever the algorithm (issue 17.5).

- empty batch, no output channels: an empty output of the geometry's shape;
- no input channels: the empty sum, ``bias`` (zeros without one);
- an empty spatial axis that zero padding makes valid (``"full"``): every window reads only
  padding, so ``bias`` (NaN where a weight is not finite, as in the direct sum);
- a border other than zeros on an empty axis, and global pooling over an empty axis:
  anyconv's ValueError.

The float64 NumPy brute force of ``tests/reference.py`` is the reference where it applies.
"""

from __future__ import annotations

import pytest
import torch
from reference import conv_reference

import anyconv

ALGORITHMS = anyconv.list_algorithms()

CASES = {
    "no input channels": ((2, 0, 7, 6), (3, 0, 3, 2), dict(padding="valid")),
    "no output channels": ((2, 3, 7, 6), (0, 3, 3, 2), dict(padding="same")),
    "empty axis, full": ((2, 3, 0, 5), (4, 3, 3, 2), dict(padding="full")),
    "empty 1-D signal, full, strided": ((1, 2, 0), (3, 2, 4), dict(padding="full", stride=2)),
    "empty batch": ((0, 3, 7, 6), (4, 3, 3, 2), dict(padding="same", padding_mode="reflect")),
    "empty batch, groups": ((0, 4, 9), (6, 2, 3), dict(groups=2, padding="causal")),
}


def _reference(x, w, b, opts):
    full = dict(stride=1, dilation=1, groups=1, padding_mode="zeros", flip=False) | opts
    return torch.as_tensor(conv_reference(x, w, b, **full))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_every_algorithm_gives_the_one_answer(algorithm, case):
    x_shape, w_shape, opts = CASES[case]
    g = torch.Generator().manual_seed(0)
    x = torch.randn(x_shape, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(w_shape, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(w_shape[0], generator=g, dtype=torch.float64, requires_grad=True)
    y = anyconv.conv(x, w, b, algorithm=algorithm, **opts)
    ref = _reference(x.detach(), w.detach(), b.detach(), opts)
    assert y.shape == ref.shape
    torch.testing.assert_close(y.detach(), ref)
    gy = torch.randn(y.shape, generator=g, dtype=torch.float64)
    gx, gw, gb = torch.autograd.grad(y, (x, w, b), gy)
    assert gx.shape == x.shape and gw.shape == w.shape
    assert not gx.any() and not gw.any()  # every output reads zeros, or there is none
    torch.testing.assert_close(gb, gy.sum(tuple(i for i in range(gy.dim()) if i != 1)))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_an_empty_axis_reads_only_padding_so_a_nan_weight_gives_nan(algorithm):
    w = torch.randn(3, 2, 3)
    w[1, 0, 2] = float("nan")
    y = anyconv.conv(torch.randn(2, 2, 0), w, padding="full", algorithm=algorithm)
    want = anyconv.conv(torch.randn(2, 2, 0), w, padding="full", algorithm="direct")
    assert y.shape == (2, 3, 2) and torch.equal(torch.isnan(y), torch.isnan(want))
    assert torch.isnan(y[:, 1]).all() and not torch.isnan(y[:, [0, 2]]).any()


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("mode", ["replicate", "reflect", "circular"])
def test_a_border_on_an_empty_axis_is_refused(algorithm, mode):
    with pytest.raises(ValueError, match="padding"):
        anyconv.conv(
            torch.randn(1, 2, 0),
            torch.randn(3, 2, 3),
            padding="full",
            padding_mode=mode,
            algorithm=algorithm,
        )


@pytest.mark.parametrize("method", ["phases", "blocks"])
@pytest.mark.parametrize("algorithm", ["auto", "native", "fft", "im2col"])
def test_tiled_conv_follows_the_same_rules(algorithm, method):
    w = torch.randn(4, 0, 3, 2)
    y = anyconv.tiled_conv(
        torch.randn(2, 0, 9), w, torch.ones(4), tiles=2, algorithm=algorithm, method=method
    )
    assert y.shape == (2, 4, 7) and torch.equal(y, torch.ones(2, 4, 7))
    w = torch.randn(4, 2, 3, 2)
    w[1, 0, 0, 1] = float("inf")  # tile 1 of channel 1: every odd output is NaN
    y = anyconv.tiled_conv(torch.randn(1, 2, 0), w, tiles=2, padding="full", method=method)
    assert y.shape == (1, 4, 2) and torch.isnan(y[0, 1, 1]) and (y[0, [0, 2, 3]] == 0).all()
    assert anyconv.tiled_conv(torch.randn(0, 2, 5), w, tiles=2, method=method).shape == (0, 4, 3)


@pytest.mark.parametrize("pool", ["global_avg_pool", "global_max_pool"])
def test_global_pooling_over_an_empty_axis_is_refused(pool):
    fn = getattr(anyconv.functional, pool)
    message = rf"{pool}\(\): argument 'input' must be a tensor with at least one element"
    with pytest.raises(ValueError, match=message):
        fn(torch.randn(2, 3, 0, 4))
    # an empty batch or no channels is no empty window: an empty result
    assert fn(torch.randn(0, 3, 4, 4)).shape == (0, 3)
    assert fn(torch.randn(2, 0, 4, 4), keepdim=True).shape == (2, 0, 1, 1)
