"""GaborConv2d: kernels from the formula, gradients to the Gabor parameters, frozen mode."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import anyconv
from anyconv.functional.filters import gabor_kernel
from anyconv.nn.gabor import GABOR_PARAMETERS, GaborConv2d


def gabor_reference(h, w, theta, omega, psi, alpha, beta, amplitude):
    """G = A exp(-a xr^2 - b yr^2) sin(w xr + psi), x along columns, y down rows, centred."""
    y, x = np.meshgrid(np.arange(h) - (h - 1) / 2, np.arange(w) - (w - 1) / 2, indexing="ij")
    xr = x * np.cos(theta) + y * np.sin(theta)
    yr = -x * np.sin(theta) + y * np.cos(theta)
    return amplitude * np.exp(-alpha * xr**2 - beta * yr**2) * np.sin(omega * xr + psi)


def test_forward_uses_the_gabor_formula_per_kernel(device):
    torch.manual_seed(0)
    layer = GaborConv2d(2, 3, (5, 6), padding="same", dtype=torch.float64)
    with torch.no_grad():
        for name in GABOR_PARAMETERS:
            getattr(layer, name).add_(0.1 * torch.rand(3, 2, dtype=torch.float64))
    weight = np.stack(
        [
            np.stack(
                [
                    gabor_reference(
                        5, 6, *(getattr(layer, n)[o, i].item() for n in GABOR_PARAMETERS)
                    )
                    for i in range(2)
                ]
            )
            for o in range(3)
        ]
    )
    np.testing.assert_allclose(layer.weight.detach().numpy(), weight, atol=1e-12)
    x = torch.randn(2, 2, 8, 9, dtype=torch.float64)
    ref = anyconv.conv(x, torch.from_numpy(weight), layer.bias, padding="same")
    got = layer.to(device)(x.to(device))
    assert got.device.type == device
    torch.testing.assert_close(got.cpu(), ref)


def test_initialisation_spreads_orientations_and_frequencies():
    layer = GaborConv2d(3, 16, 7)
    theta, omega = layer.theta.detach(), layer.omega.detach()
    assert (theta[:, 0:1] == theta).all() and (omega[:, 0:1] == omega).all()
    assert theta.min() >= 0 and theta.max() < math.pi
    assert len(set(theta[:, 0].tolist())) == 8
    assert len(set(omega[:, 0].tolist())) == 2
    assert omega.max() <= math.pi / 2 + 1e-6 and omega.min() >= 2 * math.pi / 7 - 1e-6
    assert (layer.psi == 0).all() and (layer.amplitude == 1).all()
    assert (layer.alpha > 0).all() and (layer.beta > 0).all()


def test_num_parameters_learnable_and_frozen():
    assert GaborConv2d(3, 4, 5).num_parameters == 6 * 3 * 4 + 4
    assert GaborConv2d(3, 4, 5, bias=False).num_parameters == 6 * 3 * 4
    frozen = GaborConv2d(3, 4, 5, learnable=False)
    assert frozen.num_parameters == 4
    assert set(GABOR_PARAMETERS) <= set(frozen.state_dict())
    assert set(dict(frozen.named_buffers())) == set(GABOR_PARAMETERS)


def test_gradients_reach_learnable_parameters_only():
    layer = GaborConv2d(2, 4, 5, padding=1, stride=2)
    layer(torch.randn(2, 2, 12, 12)).square().mean().backward()
    for name in GABOR_PARAMETERS:
        grad = getattr(layer, name).grad
        assert grad is not None and grad.shape == (4, 2) and torch.isfinite(grad).all()
        assert grad.abs().sum() > 0
    frozen = GaborConv2d(2, 4, 5, learnable=False)
    frozen(torch.randn(1, 2, 8, 8)).sum().backward()
    assert all(not getattr(frozen, n).requires_grad for n in GABOR_PARAMETERS)
    assert frozen.bias.grad is not None


def test_gradcheck_functional_form():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 2, 6, 6, generator=g, dtype=torch.float64)
    init = torch.tensor([0.4, 1.0, 0.2, 0.3, 0.25, 1.5], dtype=torch.float64)
    params = [
        (v + 0.1 * torch.rand(2, 2, generator=g, dtype=torch.float64)).requires_grad_()
        for v in init
    ]

    def f(*p):
        return anyconv.conv(x, gabor_kernel((3, 4), *p), padding="same", stride=(1, 2))

    assert torch.autograd.gradcheck(f, params)


def test_state_dict_round_trip_and_dtype():
    layer = GaborConv2d(1, 4, 5, dtype=torch.float64)
    assert layer.weight.dtype == torch.float64
    copy = GaborConv2d(1, 4, 5, dtype=torch.float64)
    with torch.no_grad():
        copy.theta.add_(1.0)
    copy.load_state_dict(layer.state_dict())
    torch.testing.assert_close(copy.weight, layer.weight)


def test_extra_repr():
    text = repr(GaborConv2d(1, 8, 7, padding="same", learnable=False, algorithm="fft"))
    for part in (
        "1, 8",
        "kernel_size=(7, 7)",
        "padding='same'",
        "learnable=False",
        "algorithm='fft'",
    ):
        assert part in text


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda: GaborConv2d(0, 2, 3), "in_channels"),
        (lambda: GaborConv2d(2, "4", 3), "out_channels"),
        (lambda: GaborConv2d(2, 2, (3, 3, 3)), "kernel_size"),
        (lambda: GaborConv2d(2, 2, 3, stride=0), "stride"),
        (lambda: GaborConv2d(2, 2, 3, padding=-1), "padding"),
        (lambda: GaborConv2d(2, 2, 3, padding_mode="wrap"), "padding_mode"),
        (lambda: GaborConv2d(2, 2, 3, learnable="yes"), "learnable"),
        (lambda: GaborConv2d(2, 2, 3, algorithm="winograd"), "algorithm"),
    ],
)
def test_argument_errors(call, arg):
    with pytest.raises((ValueError, TypeError), match=arg):
        call()
