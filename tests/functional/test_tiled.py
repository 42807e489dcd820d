"""Tiled convolution (anyconv.functional.tiled), both methods on every algorithm, against
the float64 brute-force reference; identities, equivariance, gradients and errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import conv_reference
from strategies import (
    GRADCHECK_CASES,
    assert_layout,
    conv_options,
    conv_specs,
    gradcheck_input,
    laid_out,
    make_tensors,
    reference_layout,
)

import anyconv
from anyconv.functional.local import locally_connected
from anyconv.functional.tiled import tiled_conv

TILED_SPECS = dict(flip=False, dtypes=(torch.float64,), tiles=3)


def tiled_tensors(spec, tiles=None):
    return make_tensors(spec, weight_extra=tiles or spec["tiles"])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    conv_specs(**TILED_SPECS),
    st.sampled_from(["auto", "native", "direct", "im2col"]),
    st.sampled_from(["auto", "phases", "blocks"]),
)
def test_tiled_conv_matches_brute_force(spec, algorithm, method):
    tiles = spec["tiles"]
    x, w, b = tiled_tensors(spec)
    opts = conv_options(spec)
    xin = laid_out(spec, x)  # batched, unbatched or channels_last, as users bring it
    y = tiled_conv(xin, w, b, tiles=tiles, algorithm=algorithm, method=method, **opts)
    ref = conv_reference(x, w, b, tiles=tiles, **opts)
    assert ref.shape == (spec["batch"], spec["out_channels"], *spec["out"])
    assert_layout(spec, xin, y)
    np.testing.assert_allclose(y.numpy(), reference_layout(spec, ref), rtol=1e-10, atol=1e-10)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(conv_specs(**TILED_SPECS))
def test_tiled_native_phases_backward_matches_autograd(spec):
    """The native phases' own backward (PhaseConv) against autograd through the direct sum."""
    tiles = spec["tiles"]
    x, w, b = tiled_tensors(spec)
    leaves = [t.requires_grad_() for t in (x, w, b) if t is not None]
    opts = conv_options(spec)
    y = tiled_conv(x, w, b, tiles=tiles, algorithm="native", method="phases", **opts)
    ref = tiled_conv(x, w, b, tiles=tiles, algorithm="direct", method="phases", **opts)
    grad = torch.randn(ref.shape, dtype=ref.dtype, generator=torch.Generator().manual_seed(1))
    got = torch.autograd.grad(y, leaves, grad)
    want = torch.autograd.grad(ref, leaves, grad)
    torch.testing.assert_close(y, ref, rtol=1e-10, atol=1e-10)
    for a, b_ in zip(got, want, strict=True):
        torch.testing.assert_close(a, b_, rtol=1e-10, atol=1e-10)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(conv_specs(**TILED_SPECS))
def test_tiled_with_one_tile_is_conv(spec):
    ndim = len(spec["kernel"])
    x, w, b = tiled_tensors(spec, (1,) * ndim)
    y = tiled_conv(x, w, b, tiles=1, **conv_options(spec))
    w0 = w[(..., *(0,) * ndim)]
    torch.testing.assert_close(y, anyconv.conv(x, w0, b, **conv_options(spec)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(conv_specs(**TILED_SPECS), st.integers(0, 2))
def test_tiled_covering_output_is_locally_connected(spec, extra):
    tiles = tuple(m + extra for m in spec["out"])
    x, w, _ = make_tensors(dict(spec, bias=False), weight_extra=tiles)
    y = tiled_conv(x, w, tiles=tiles, **conv_options(spec))
    w_local = w[(..., *(slice(0, m) for m in spec["out"]))]
    torch.testing.assert_close(y, locally_connected(x, w_local, **conv_options(spec)))


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_tiled_equivariant_to_shifts_by_multiples_of_tiles(ndim):
    torch.manual_seed(0)
    size, tiles = {1: 12, 2: 12, 3: 6}[ndim], (2, 3, 2)[:ndim]
    x = torch.randn(2, 3, *(size,) * ndim)
    w = torch.randn(4, 3, *(3,) * ndim, *tiles)
    dims = tuple(range(2, 2 + ndim))

    def f(v):
        return tiled_conv(v, w, tiles=tiles, padding="same", padding_mode="circular")

    multiple = tuple(2 * t for t in tiles)
    err = (f(x.roll(multiple, dims)) - f(x).roll(multiple, dims)).abs().max()
    assert err <= 1e-5
    # a shift that is not a multiple of the period breaks it
    err = (f(x.roll(1, dims[-1])) - f(x).roll(1, dims[-1])).abs().max()
    assert err > 1e-1


@pytest.mark.parametrize(("ndim", "groups", "stride", "padding", "mode"), GRADCHECK_CASES)
def test_gradcheck(ndim, groups, stride, padding, mode):
    x, kernel, per_group = gradcheck_input(ndim, groups)
    kw = dict(stride=stride, padding=padding, groups=groups, padding_mode=mode)
    w = torch.randn(
        groups, per_group, *kernel, *(2,) * ndim, dtype=torch.float64, requires_grad=True
    )
    b = torch.randn(groups, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda *t: tiled_conv(*t, tiles=2, **kw), (x, w, b))


@pytest.mark.parametrize("method", ["phases", "blocks"])
@pytest.mark.parametrize(
    ("batch", "c_in", "c_out", "spatial"),
    [
        # the smallest problem with every branch: 2 groups, 2 outputs per group, every
        # phase non-empty along both axes, stride 2 on one axis
        pytest.param(1, 2, 4, (5, 6), id="small"),
        pytest.param(2, 4, 6, (7, 6), id="large", marks=pytest.mark.slow),
    ],
)
def test_tiled_methods_gradcheck(method, batch, c_in, c_out, spatial):
    g = torch.Generator().manual_seed(4)
    x = torch.randn(batch, c_in, *spatial, dtype=torch.float64, generator=g, requires_grad=True)
    w = torch.randn(c_out, c_in // 2, 3, 2, 2, 3, dtype=torch.float64, generator=g)
    w.requires_grad_()
    b = torch.randn(c_out, dtype=torch.float64, generator=g, requires_grad=True)

    def f(x, w, b):
        return tiled_conv(
            x,
            w,
            b,
            tiles=(2, 3),
            stride=(1, 2),
            dilation=(2, 1),
            groups=2,
            padding="same",
            padding_mode="reflect",
            method=method,
        )

    assert torch.autograd.gradcheck(f, (x, w, b))
    assert torch.autograd.gradgradcheck(f, (x, w, b))


def test_tiled_auto_method_avoids_wasteful_blocks():
    from anyconv.functional.tiled import BLOCKS_MAX_WASTE, _blocks_waste
    from anyconv.padding import conv_spec

    def waste(k, tiles):
        spec = conv_spec(
            (1, 1, 64, 64),
            (1, 1, k, k),
            stride=1,
            padding="same",
            dilation=1,
            groups=1,
            padding_mode="zeros",
        )
        return _blocks_waste((k, k), (tiles, tiles), spec)

    assert waste(3, 2) <= BLOCKS_MAX_WASTE < waste(3, 8)


def test_tiled_unknown_method_is_a_clear_error():
    with pytest.raises(ValueError, match="method"):
        tiled_conv(torch.randn(1, 1, 8), torch.randn(1, 1, 3, 2), tiles=2, method="fast")


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda x, w: tiled_conv(x, w), TypeError, "tiles"),
        (lambda x, w: tiled_conv(x, w, tiles=3), ValueError, r"'weight'.*\(3, 3\)"),
        (lambda x, w: tiled_conv(x, w, tiles=0), ValueError, "'tiles'"),
        (lambda x, w: tiled_conv(x, w, tiles=(2, 2, 2)), ValueError, "'tiles'"),
        (lambda x, w: tiled_conv(x, w, tiles=2.0), TypeError, "'tiles'"),
        (lambda x, w: tiled_conv(x, w, torch.zeros(3, 2, 2), tiles=2), ValueError, "'bias'"),
        (lambda x, w: tiled_conv(x, w, tiles=2, algorithm="magic"), ValueError, "'algorithm'"),
        (
            lambda x, w: tiled_conv(x, w, tiles=2, padding=9, padding_mode="reflect"),
            ValueError,
            "'padding'",
        ),
        (
            lambda x, w: tiled_conv(x, w[:, :, :2, :2], tiles=2, groups=1.5),
            TypeError,
            "'groups'",
        ),
    ],
)
def test_errors_name_the_argument(call, error, match):
    x, w = torch.randn(1, 2, 6, 6), torch.randn(3, 2, 3, 3, 2, 2)
    with pytest.raises(error, match=match):
        call(x, w)
