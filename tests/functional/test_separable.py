"""Kernel factorisation and separable convolution against numpy's SVD, ``anyconv.conv`` and
the float64 brute-force reference."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import conv_reference, rel_err
from strategies import conv_options, conv_specs, make_tensors

import anyconv
from anyconv.functional.separable import factorize, max_rank, reconstruct, separable_conv


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def rel_error(w, approx):
    dims = tuple(range(2, w.dim()))
    return torch.linalg.vector_norm(w - approx, dim=dims) / torch.linalg.vector_norm(w, dim=dims)


@pytest.mark.parametrize("kernel", [(3, 3), (2, 5), (5, 4), (1, 6)])
def test_full_rank_2d_is_exact(kernel):
    w = rand(4, 3, *kernel)
    f = factorize(w, max_rank(kernel))
    assert f.error.shape == (4, 3) and f.error.max() < 1e-12
    assert (reconstruct(f.factors) - w).abs().max() < 1e-12


@pytest.mark.parametrize("kernel", [(3, 3, 3), (2, 3, 4), (4, 2, 3)])
def test_full_rank_3d_is_exact(kernel):
    w = rand(2, 3, *kernel, seed=1)
    f = factorize(w, max_rank(kernel))
    assert f.error.max() < 1e-12
    assert (reconstruct(f.factors) - w).abs().max() < 1e-12


@pytest.mark.parametrize("ndim", [2, 3])
def test_rank_one_of_an_outer_product_is_exact(ndim):
    sizes = (3, 5, 4)[:ndim]
    vectors = [rand(2, 3, n, seed=n) for n in sizes]
    w = vectors[0].reshape(2, 3, sizes[0], *[1] * (ndim - 1))
    for a, v in enumerate(vectors[1:], start=1):
        w = w * v.reshape(2, 3, *[1] * a, sizes[a], *[1] * (ndim - 1 - a))
    f = factorize(w, 1)
    assert [tuple(t.shape) for t in f.factors] == [(2, 3, 1, n) for n in sizes]
    assert f.error.max() < 1e-12
    assert (reconstruct(f.factors) - w).abs().max() < 1e-12


def test_2d_error_is_eckart_young():
    w = rand(3, 2, 5, 4, seed=2)
    s = np.linalg.svd(w.numpy(), compute_uv=False)
    for rank in range(1, 5):
        f = factorize(w, rank)
        expected = np.sqrt((s[..., rank:] ** 2).sum(-1) / (s**2).sum(-1))
        np.testing.assert_allclose(f.error.numpy(), expected, atol=1e-12)
        np.testing.assert_allclose(
            rel_error(w, reconstruct(f.factors)).numpy(), expected, atol=1e-12
        )


@pytest.mark.parametrize(
    "kernel, sweeps", [((5, 4), 0), ((3, 3, 3), 0), ((3, 4, 2), 0), ((3, 3, 3), 10)]
)
def test_error_decreases_with_rank(kernel, sweeps):
    w = rand(3, 2, *kernel, seed=3)
    errors = [factorize(w, r, sweeps=sweeps).error for r in range(1, max_rank(kernel) + 1)]
    slack = 0 if sweeps == 0 else 0.05  # ALS optima are local: allow a little
    for lower, higher in itertools.pairwise(errors):
        assert (higher <= lower + slack + 1e-12).all()
    assert errors[-1].max() < 1e-12


def test_als_never_worse_than_nested_svd_and_error_is_the_residual():
    w = rand(4, 3, 3, 4, 5, seed=4)
    for rank in (1, 2, 4, 7):
        svd_only = factorize(w, rank, sweeps=0)
        als = factorize(w, rank)
        assert (als.error <= svd_only.error + 1e-12).all()
        torch.testing.assert_close(als.error, rel_error(w, reconstruct(als.factors)))
    assert (factorize(w, 4).error < factorize(w, 4, sweeps=0).error - 1e-3).any()


def test_dtype_zero_kernels_and_no_grad():
    w = torch.randn(3, 2, 3, 3, requires_grad=True)
    with torch.no_grad():
        w[0, 0] = 0
    f = factorize(w, 2)
    assert all(t.dtype == torch.float32 and not t.requires_grad for t in f.factors)
    assert f.error.dtype == torch.float32 and f.error[0, 0] == 0
    assert reconstruct(f.factors)[0, 0].abs().max() == 0
    assert factorize(w.half(), 1).factors[0].dtype == torch.float16


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda: factorize(torch.randn(2, 2, 3), 1), "weight"),
        (lambda: factorize(torch.ones(2, 2, 3, 3, dtype=torch.int64), 1), "weight"),
        (lambda: factorize(torch.randn(2, 2, 3, 3), 4), "rank"),
        (lambda: factorize(torch.randn(2, 2, 3, 3), 0), "rank"),
        (lambda: factorize(torch.randn(2, 2, 3, 3), 1.0), "rank"),
        (lambda: factorize(torch.randn(2, 2, 3, 3, 3), 1, sweeps=-1), "sweeps"),
        (lambda: reconstruct([torch.randn(2, 2, 1, 3)]), "factors"),
        (lambda: reconstruct([torch.randn(2, 2, 1, 3), torch.randn(2, 3, 1, 3)]), "factors"),
        (
            lambda: separable_conv(
                torch.randn(1, 2, 5, 5, 5), factorize(torch.randn(1, 2, 3, 3), 1).factors
            ),
            "input",
        ),
        (
            lambda: separable_conv(
                torch.randn(1, 3, 5, 5), factorize(torch.randn(1, 2, 3, 3), 1).factors
            ),
            "weight",
        ),
        (
            lambda: separable_conv(
                torch.randn(1, 2, 5, 5),
                factorize(torch.randn(1, 2, 3, 3), 1).factors,
                torch.zeros(2),
            ),
            "bias",
        ),
        (
            lambda: separable_conv(
                torch.randn(1, 2, 5, 5).double(), factorize(torch.randn(1, 2, 3, 3), 1).factors
            ),
            "factors",
        ),
        (
            lambda: separable_conv(
                torch.randn(1, 2, 5, 5), factorize(torch.randn(1, 2, 3, 3), 1).factors, stride=0
            ),
            "stride",
        ),
        (
            lambda: separable_conv(
                torch.randn(1, 2, 5, 5), factorize(torch.randn(1, 2, 3, 3), 1).factors, flip="yes"
            ),
            "flip",
        ),
        (
            lambda: separable_conv(
                torch.randn(1, 2, 2, 5),
                factorize(torch.randn(1, 2, 3, 3), 1).factors,
                padding=(3, 0),
                padding_mode="reflect",
            ),
            "padding",
        ),
    ],
)
def test_argument_errors(call, arg):
    with pytest.raises((ValueError, TypeError), match=arg):
        call()


# separable_conv has no groups; factorisation is of 2-D and 3-D kernels
SEPARABLE_SPECS = dict(
    dims=(2, 3),
    max_kernel=4,
    max_dilation=2,
    max_groups=1,
    max_per_group=3,
    max_size=7,
    dtypes=(torch.float64,),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(conv_specs(**SEPARABLE_SPECS), st.integers(1, 3))
def test_separable_conv_equals_conv_with_the_reconstructed_kernel(spec, rank):
    g = torch.Generator().manual_seed(spec["seed"])
    o, c = spec["out_channels"], spec["in_channels"]
    factors = tuple(
        torch.randn(o, c, rank, k, generator=g, dtype=torch.float64) for k in spec["kernel"]
    )
    x, _, bias = make_tensors(spec)
    opts = conv_options(spec, without=("groups",))
    ref = conv_reference(x, reconstruct(factors), bias, **opts)
    got = separable_conv(x, factors, bias, **opts)
    assert got.shape == (spec["batch"], o, *spec["out"])
    assert rel_err(got, ref) <= 1e-10


def test_separable_conv_rejects_what_conv_rejects():
    factors = factorize(torch.randn(1, 1, 3, 3), 1).factors
    with pytest.raises(ValueError, match="kernel is larger"):
        separable_conv(torch.randn(1, 1, 2, 5), factors)


@pytest.mark.parametrize("algorithm", ["direct", "fft"])
def test_separable_conv_algorithms_and_float32(algorithm):
    x, w = torch.randn(2, 3, 9, 8), torch.randn(4, 3, 3, 5)
    f = factorize(w, 3)
    y = separable_conv(x, f.factors, padding="same", algorithm=algorithm)
    torch.testing.assert_close(y, anyconv.conv(x, w, padding="same"), atol=1e-4, rtol=1e-4)


def test_separable_conv_gradcheck():
    factors = tuple(rand(2, 2, 2, k, seed=k).requires_grad_() for k in (2, 3))
    x = rand(1, 2, 4, 5, seed=9).requires_grad_()
    bias = rand(2, seed=7).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda x, a, b, bias: separable_conv(x, (a, b), bias, padding="same", stride=(1, 2)),
        (x, *factors, bias),
    )
