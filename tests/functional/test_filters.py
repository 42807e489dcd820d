"""Fixed kernels against formulas evaluated independently in numpy and against scipy.ndimage."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.ndimage as ndi
import torch

import anyconv
from anyconv.functional.filters import (
    difference_kernel,
    gabor_bank,
    gabor_kernel,
    gaussian_kernel,
    laplacian_kernel,
    sobel_kernel,
)


def gabor_reference(h, w, theta, omega, psi, alpha, beta, amplitude):
    """The formula, tap by tap, in float64: x along columns, y down the rows, both centred."""
    out = np.empty((h, w))
    for i in range(h):
        for j in range(w):
            x, y = j - (w - 1) / 2, i - (h - 1) / 2
            xr = x * math.cos(theta) + y * math.sin(theta)
            yr = -x * math.sin(theta) + y * math.cos(theta)
            out[i, j] = (
                amplitude * math.exp(-alpha * xr**2 - beta * yr**2) * math.sin(omega * xr + psi)
            )
    return out


def same_conv(x: np.ndarray, k: torch.Tensor, flip: bool = False) -> np.ndarray:
    """anyconv.conv of one channel with 'same' zero padding, as numpy."""
    t = torch.from_numpy(x)[None, None]
    y = anyconv.conv(t, k.to(torch.float64)[None, None], padding="same", flip=flip)
    return y[0, 0].numpy()


@pytest.mark.parametrize("size", [7, (5, 9), (6, 4), 1])
@pytest.mark.parametrize(
    "params",
    [
        (0.0, math.pi / 2, 0.0, 0.3, 0.3, 1.0),
        (0.7, 1.1, math.pi / 2, 0.2, 0.5, 2.5),
        (2.9, 0.4, -0.3, 0.05, 0.8, -1.0),
    ],
)
def test_gabor_matches_formula(size, params):
    h, w = (size, size) if isinstance(size, int) else size
    got = gabor_kernel(size, *params, dtype=torch.float64)
    assert got.shape == (h, w) and got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), gabor_reference(h, w, *params), atol=1e-12)


def test_gabor_default_envelope_and_dtype():
    k = gabor_kernel((6, 9), 0.3, 1.0)
    sigma = 6 / 6
    ref = gabor_reference(6, 9, 0.3, 1.0, 0.0, 1 / (2 * sigma**2), 1 / (2 * sigma**2), 1.0)
    assert k.dtype == torch.get_default_dtype()
    np.testing.assert_allclose(k.numpy(), ref, atol=1e-6)


def test_gabor_batched_tensor_parameters_match_single_calls():
    g = torch.Generator().manual_seed(0)
    theta = torch.rand(3, 2, generator=g, dtype=torch.float64) * math.pi
    omega = torch.rand(3, 1, generator=g, dtype=torch.float64) + 0.5
    alpha = torch.rand(2, generator=g, dtype=torch.float64) * 0.3 + 0.1
    bank = gabor_kernel((5, 7), theta, omega, 0.4, alpha, 0.2, 1.5)
    assert bank.shape == (3, 2, 5, 7) and bank.dtype == torch.float64
    for i in range(3):
        for j in range(2):
            ref = gabor_reference(
                5, 7, theta[i, j].item(), omega[i, 0].item(), 0.4, alpha[j].item(), 0.2, 1.5
            )
            np.testing.assert_allclose(bank[i, j].numpy(), ref, atol=1e-12)


def test_gabor_gradcheck_all_parameters():
    params = [
        torch.tensor(v, dtype=torch.float64, requires_grad=True)
        for v in ([0.3, 1.2], [1.0, 0.7], [0.1, -0.5], [0.2, 0.4], [0.3, 0.1], [1.0, 2.0])
    ]
    assert torch.autograd.gradcheck(lambda *p: gabor_kernel((4, 5), *p), params)


def test_gabor_symmetry():
    odd = gabor_kernel(7, 0.0, 1.0, psi=0.0)
    even = gabor_kernel(7, 0.0, 1.0, psi=math.pi / 2)
    torch.testing.assert_close(odd, -odd.flip(-1))
    torch.testing.assert_close(even, even.flip(-1))
    # Orientation pi/2 turns the wave to run down the rows: the transpose of theta = 0.
    torch.testing.assert_close(gabor_kernel(7, math.pi / 2, 1.0), odd.T, atol=1e-6, rtol=0)


def test_gabor_bank_order_and_values():
    bank = gabor_bank((5, 6), orientations=4, frequencies=[0.5, 1.5], psi=0.2, dtype=torch.float64)
    assert bank.shape == (8, 1, 5, 6) and bank.dtype == torch.float64
    for j, omega in enumerate([0.5, 1.5]):
        for k in range(4):
            ref = gabor_kernel((5, 6), k * math.pi / 4, omega, 0.2, dtype=torch.float64)
            torch.testing.assert_close(bank[j * 4 + k, 0], ref)
    default = gabor_bank(7, 2, 3)
    assert default.shape == (6, 1, 7, 7) and default.dtype == torch.get_default_dtype()
    torch.testing.assert_close(default[5, 0], gabor_kernel(7, math.pi / 2, math.pi / 4))


def test_gabor_bank_tensor_angles_are_differentiable():
    theta = torch.tensor([0.0, 1.0], requires_grad=True)
    gabor_bank(5, theta, 2).sum().backward()
    assert theta.grad is not None and theta.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda: gabor_kernel(0, 0.0, 1.0), "size"),
        (lambda: gabor_kernel((3, 3, 3), 0.0, 1.0), "size"),
        (lambda: gabor_kernel(5, "x", 1.0), "theta"),
        (lambda: gabor_kernel(5, 0.0, torch.tensor([1, 2])), "omega"),
        (lambda: gabor_kernel(5, 0.0, 1.0, alpha=-1.0), "alpha"),
        (lambda: gabor_kernel(5, 0.0, 1.0, beta=0.0), "beta"),
        (lambda: gabor_kernel(5, 0.0, 1.0, dtype=torch.int64), "dtype"),
        (lambda: gabor_kernel(5, torch.zeros(3), torch.ones(2)), "broadcast"),
        (lambda: gabor_bank(5, 0, 2), "orientations"),
        (lambda: gabor_bank(5, 4, "many"), "frequencies"),
        (lambda: gaussian_kernel(5, 0.0), "sigma"),
        (lambda: gaussian_kernel(5, (1.0, 1.0, 1.0)), "sigma"),
        (lambda: gaussian_kernel(5, 1.0, ndim=4), "ndim"),
        (lambda: sobel_kernel(2), "axis"),
        (lambda: sobel_kernel(0, ndim=0), "ndim"),
        (lambda: sobel_kernel(0, normalized=1), "normalized"),
        (lambda: laplacian_kernel(1.5), "ndim"),
        (lambda: difference_kernel(0, kind="backward"), "kind"),
        (lambda: difference_kernel(-3), "axis"),
    ],
)
def test_argument_errors(call, arg):
    with pytest.raises((ValueError, TypeError), match=arg):
        call()


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_gaussian_sums_to_one_and_matches_formula(ndim):
    sizes, sigmas = (5, 4, 7)[:ndim], (1.0, 0.6, 2.0)[:ndim]
    g = gaussian_kernel(sizes, sigmas, ndim, dtype=torch.float64)
    assert g.shape == sizes
    assert abs(g.sum().item() - 1) < 1e-12
    grids = np.meshgrid(*[np.arange(n) - (n - 1) / 2 for n in sizes], indexing="ij")
    ref = np.exp(-sum(x**2 / (2 * s**2) for x, s in zip(grids, sigmas, strict=True)))
    np.testing.assert_allclose(g.numpy(), ref / ref.sum(), atol=1e-14)


@pytest.mark.parametrize("ndim, sigma", [(1, 1.3), (2, 1.5), (3, 0.8)])
def test_gaussian_matches_scipy_gaussian_filter(ndim, sigma):
    radius = int(4.0 * sigma + 0.5)
    impulse = np.zeros((2 * radius + 1,) * ndim)
    impulse[(radius,) * ndim] = 1.0
    ref = ndi.gaussian_filter(impulse, sigma, mode="constant", truncate=4.0)
    got = gaussian_kernel(2 * radius + 1, sigma, ndim, dtype=torch.float64)
    np.testing.assert_allclose(got.numpy(), ref, atol=1e-12)


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_sobel_matches_scipy(ndim):
    rng = np.random.default_rng(ndim)
    x = rng.standard_normal((6, 7, 5)[:ndim])
    for axis in range(ndim):
        k = sobel_kernel(axis, ndim, dtype=torch.float64)
        assert k.shape == (3,) * ndim
        # scipy.ndimage.sobel correlates, as anyconv does by default ...
        np.testing.assert_allclose(
            same_conv(x, k), ndi.sobel(x, axis=axis, mode="constant"), atol=1e-12
        )
        # ... and convolve() is anyconv's flip=True.
        np.testing.assert_allclose(
            same_conv(x, k, flip=True), ndi.convolve(x, k.numpy(), mode="constant"), atol=1e-12
        )


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_sobel_and_difference_on_a_ramp(ndim):
    shape = (6, 5, 4)[:ndim]
    for axis in range(ndim):
        ramp = np.broadcast_to(
            np.arange(shape[axis], dtype=float).reshape(
                [-1 if a == axis else 1 for a in range(ndim)]
            ),
            shape,
        )
        t = torch.from_numpy(np.array(ramp))[None, None]
        for k in (
            sobel_kernel(axis, ndim, normalized=True, dtype=torch.float64),
            difference_kernel(axis, ndim, dtype=torch.float64),
            difference_kernel(axis, ndim, kind="central", dtype=torch.float64),
        ):
            y = anyconv.conv(t, k[None, None])
            torch.testing.assert_close(y, torch.ones_like(y))


def test_difference_kernels_shapes_and_np_gradient():
    assert difference_kernel(0, 3).shape == (2, 1, 1)
    assert difference_kernel(-1, 3, kind="central").shape == (1, 1, 3)
    x = np.random.default_rng(0).standard_normal((5, 8))
    k = difference_kernel(1, kind="central", dtype=torch.float64)
    np.testing.assert_allclose(
        same_conv(x, k)[:, 1:-1], np.gradient(x, axis=1)[:, 1:-1], atol=1e-12
    )


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_laplacian_matches_scipy(ndim):
    x = np.random.default_rng(3).standard_normal((5, 6, 4)[:ndim])
    k = laplacian_kernel(ndim, dtype=torch.float64)
    assert k.shape == (3,) * ndim and k.sum().item() == 0
    np.testing.assert_allclose(same_conv(x, k), ndi.laplace(x, mode="constant"), atol=1e-12)
