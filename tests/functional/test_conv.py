"""conv(): every algorithm against independent references, forward and backward."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import scipy.signal
import torch
from hypothesis import HealthCheck, given, settings
from reference import conv_reference, rel_err, torch_reference
from strategies import (
    assert_layout,
    conv_options,
    conv_specs,
    laid_out,
    make_tensors,
    reference_layout,
)

import anyconv

ALGOS = ["native", "direct", "im2col", "fft", "matrix", "auto"]
TOL = {torch.float64: 1e-10, torch.float32: 1e-4}


@contextlib.contextmanager
def contraction(kind):
    """``"bmm"``: the FFT path contracts channels by batched matmul whatever their number."""
    from anyconv.functional.algorithms.fft import plan as fft_plan

    saved = fft_plan.ELEMENTWISE_MAX
    fft_plan.ELEMENTWISE_MAX = 0 if kind == "bmm" else saved
    try:
        yield
    finally:
        fft_plan.ELEMENTWISE_MAX = saved


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(spec=conv_specs())
def test_every_algorithm_matches_references_forward_and_backward(spec, device):
    opts = conv_options(spec)
    x64, w64, b64 = make_tensors(spec, requires_grad=True)
    brute = conv_reference(
        x64.detach().numpy(),
        w64.detach().numpy(),
        None if b64 is None else b64.detach().numpy(),
        **opts,
    )
    ref = torch_reference(x64, w64, b64, **opts)
    assert rel_err(ref, brute) <= 1e-12  # the two references agree with each other
    grad_out = torch.randn_like(ref)
    ref_grads = torch.autograd.grad(ref, [t for t in (x64, w64, b64) if t is not None], grad_out)
    dtype, tol = spec["dtype"], TOL[spec["dtype"]]
    shape = anyconv.output_shape(
        spec["spatial"],
        spec["kernel"],
        stride=spec["stride"],
        padding=spec["padding"],
        dilation=spec["dilation"],
    )
    assert shape == tuple(ref.shape[2:])
    # "fft/bmm": the FFT path with its batched-matmul channel contraction, which the small
    # channel counts drawn here would otherwise never reach
    # the input as users bring it: batched, unbatched (C, *spatial) or channels_last
    brute, grad_out = (
        reference_layout(spec, torch.as_tensor(brute)),
        reference_layout(spec, grad_out),
    )
    for algo in [*ALGOS, "fft/bmm"]:
        x, w, b = (
            None if t is None else t.detach().to(device, dtype).requires_grad_()
            for t in (x64, w64, b64)
        )
        xin = laid_out(spec, x)
        with contraction("bmm" if algo == "fft/bmm" else "default"):
            y = anyconv.conv(xin, w, b, algorithm=algo.split("/")[0], **opts)
        assert y.dtype == dtype and tuple(y.shape[-len(shape) :]) == shape
        assert y.dim() == xin.dim() and y.device.type == device
        assert_layout(spec, xin, y)
        assert rel_err(y, brute) <= tol, algo
        grads = torch.autograd.grad(
            y, [t for t in (x, w, b) if t is not None], grad_out.to(device, dtype)
        )
        for name, got, want in zip("xwb", grads, ref_grads):
            assert got.dtype == dtype and got.device.type == device
            assert rel_err(got, want) <= tol, (algo, f"grad_{name}")


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("mode", ["full", "valid"])
def test_flip_is_scipy_convolve_and_default_is_correlate(algo, ndim, mode, device):
    rng = np.random.default_rng(ndim)
    x = rng.standard_normal((7, 6, 5)[:ndim])
    w = rng.standard_normal((3, 2, 4)[:ndim])
    xt, wt = (torch.from_numpy(a)[None, None].to(device) for a in (x, w))
    got_conv = anyconv.conv(xt, wt, padding=mode, flip=True, algorithm=algo)[0, 0]
    got_corr = anyconv.conv(xt, wt, padding=mode, algorithm=algo)[0, 0]
    assert rel_err(got_conv, scipy.signal.convolve(x, w, mode=mode, method="direct")) <= 1e-12
    assert rel_err(got_corr, scipy.signal.correlate(x, w, mode=mode, method="direct")) <= 1e-12


GRADCHECK_SPECS = [
    dict(stride=1, padding="same", dilation=1, groups=1, padding_mode="zeros"),
    dict(stride=2, padding="full", dilation=2, groups=2, padding_mode="zeros"),
    dict(
        stride=(1, 2), padding=("causal", (2, 0)), dilation=(2, 1), groups=2, padding_mode="zeros"
    ),
    dict(stride=1, padding="same", dilation=1, groups=1, padding_mode="reflect"),
    dict(stride=2, padding=1, dilation=1, groups=1, padding_mode="circular"),
]


@pytest.mark.parametrize("algo", ["im2col", "fft", "matrix", "direct"])
@pytest.mark.parametrize("opts", GRADCHECK_SPECS)
def test_gradcheck(algo, opts, device):
    g = torch.Generator().manual_seed(0)
    x, w, b = (
        torch.randn(shape, dtype=torch.float64, generator=g).to(device).requires_grad_()
        for shape in ((2, 4, 6, 5), (4, 4 // opts["groups"], 3, 2), (4,))
    )

    def f(x, w, b):
        return anyconv.conv(x, w, b, algorithm=algo, **opts)

    assert torch.autograd.gradcheck(f, (x, w, b))


@pytest.mark.parametrize("algo", ["im2col", "fft"])
def test_gradgradcheck(algo):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1, 2, 5, dtype=torch.float64, generator=g, requires_grad=True)
    w = torch.randn(3, 2, 3, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradgradcheck(
        lambda x, w: anyconv.conv(x, w, padding="same", stride=2, algorithm=algo), (x, w)
    )


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_keeps_dtype(algo, dtype, device):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 4, 9, 8, generator=g)
    w = torch.randn(6, 2, 3, 3, generator=g) / 3
    want = conv_reference(x, w, groups=2, padding="same")
    xh, wh = x.to(device, dtype), w.to(device, dtype)
    y = anyconv.conv(xh, wh, groups=2, padding="same", algorithm=algo)
    assert y.dtype == dtype and y.device.type == device
    assert rel_err(y, want) <= 2e-2


@pytest.mark.parametrize("algo", ALGOS)
def test_non_contiguous_input_and_weight(algo, device):
    x = torch.randn(2, 5, 10, 3, dtype=torch.float64).transpose(1, 3)  # (2, 3, 10, 5)
    w = torch.randn(3, 4, 3, 3, dtype=torch.float64).transpose(0, 1)  # (4, 3, 3, 3)
    want = conv_reference(x, w, padding="same", padding_mode="replicate", flip=True)
    xd, wd = (t.to(device) for t in (x, w))  # .to keeps the strides
    assert not xd.is_contiguous() and not wd.is_contiguous()
    got = anyconv.conv(xd, wd, padding="same", padding_mode="replicate", flip=True, algorithm=algo)
    assert rel_err(got, want) <= 1e-12


@pytest.mark.parametrize("algo", ALGOS)
def test_causal_in_time_same_in_space_for_video(algo, device):
    x = torch.randn(1, 2, 6, 7, 7, dtype=torch.float64, device=device, requires_grad=True)
    w = torch.randn(3, 2, 3, 3, 3, dtype=torch.float64, device=device)
    y = anyconv.conv(x, w, padding=("causal", "same", "same"), algorithm=algo)
    assert y.shape == (1, 3, 6, 7, 7)
    # Output frame t depends on input frames <= t only.
    (grad,) = torch.autograd.grad(y[:, :, 3].sum(), x)
    # Exactly zero, except that the FFT spreads rounding noise over every position.
    leak = 1e-12 if algo == "fft" else 0.0
    assert grad[:, :, 4:].abs().max() <= leak and grad[:, :, 3].abs().max() > 0


@pytest.mark.parametrize("algo", ALGOS)
def test_empty_batch(algo, device):
    x, w = torch.randn(0, 2, 8, device=device), torch.randn(3, 2, 3, device=device)
    y = anyconv.conv(x, w, padding="same", algorithm=algo)
    assert y.shape == (0, 3, 8) and y.device.type == device


def test_algorithm_registry_lists_every_algorithm():
    assert anyconv.list_algorithms() == ALGOS[-1:] + ALGOS[:-1]
