"""The FFT path's own backward pass and forward-mode derivative against PyTorch's."""

from __future__ import annotations

import pytest
import torch
import torch.autograd.forward_ad as fwAD

import anyconv

CASES = [
    dict(groups=1, stride=1, dilation=1, padding="same"),
    dict(groups=2, stride=(2, 1), dilation=(1, 2), padding="full"),
    dict(groups=4, stride=3, dilation=1, padding=(1, 2)),  # depthwise
    dict(groups=1, stride=2, dilation=2, padding=("causal", "same"), padding_mode="circular"),
]


def _tensors(groups, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(3, 4, 11, 9, dtype=torch.float64, generator=g)
    w = torch.randn(8, 4 // groups, 3, 4, dtype=torch.float64, generator=g)
    return x, w


@pytest.mark.parametrize("opts", CASES)
def test_backward_matches_native(opts):
    x, w = _tensors(opts["groups"])
    grads = []
    for algo in ("fft", "native"):
        xs, ws = x.clone().requires_grad_(), w.clone().requires_grad_()
        y = anyconv.conv(xs, ws, algorithm=algo, **opts)
        seed = torch.Generator().manual_seed(1)
        grads.append(
            (
                y,
                *torch.autograd.grad(
                    y, (xs, ws), torch.randn(y.shape, generator=seed, dtype=y.dtype)
                ),
            )
        )
    for got, want in zip(*grads):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("opts", CASES)
def test_forward_mode_matches_native(opts):
    x, w = _tensors(opts["groups"])
    dx, dw = _tensors(opts["groups"], seed=2)
    tangents = []
    for algo in ("fft", "native"):
        with fwAD.dual_level():
            y = anyconv.conv(fwAD.make_dual(x, dx), fwAD.make_dual(w, dw), algorithm=algo, **opts)
            tangents.append(fwAD.unpack_dual(y).tangent)
    torch.testing.assert_close(tangents[0], tangents[1], rtol=1e-10, atol=1e-10)


def test_double_backward_matches_native():
    x, w = _tensors(2)
    results = []
    for algo in ("fft", "native"):
        xs, ws = x.clone().requires_grad_(), w.clone().requires_grad_()
        y = anyconv.conv(xs, ws, algorithm=algo, groups=2, stride=2, padding="same")
        gx, gw = torch.autograd.grad(y.square().sum(), (xs, ws), create_graph=True)
        results.append(torch.autograd.grad(gx.sin().sum() + gw.square().sum(), (xs, ws)))
    for got, want in zip(*results):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


def test_only_the_needed_gradient_is_computed():
    x, w = _tensors(1)
    xs = x.clone().requires_grad_()
    (gx,) = torch.autograd.grad(anyconv.conv(xs, w, algorithm="fft").sum(), xs)
    ws = w.clone().requires_grad_()
    (gw,) = torch.autograd.grad(anyconv.conv(x, ws, algorithm="fft").sum(), ws)
    assert gx.shape == x.shape and gw.shape == w.shape
