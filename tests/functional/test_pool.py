"""Pooling against PyTorch's kernels and against float64 brute-force loops over windows."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from reference import pool_reference

import anyconv
import anyconv.functional.pool as pool_module
from anyconv.functional.pool import (
    avg_pool,
    channel_max_pool,
    global_avg_pool,
    global_max_pool,
    lp_pool,
    max_pool,
    soft_pool,
)

TORCH_MAX = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
TORCH_AVG = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}
TORCH_LP = {1: F.lp_pool1d, 2: F.lp_pool2d, 3: F.lp_pool3d}
RULES = ("valid", "same", "full", "causal")


def run(kind, x, kernel, stride, padding, dilation, ceil_mode, p=2.0):
    if kind == "max":
        return max_pool(x, kernel, stride, padding, dilation, ceil_mode)
    if kind in ("avg_incl", "avg_excl"):
        return avg_pool(
            x, kernel, stride, padding, ceil_mode, kind == "avg_incl", dilation=dilation
        )
    if kind == "lp":
        return lp_pool(x, p, kernel, stride, padding, ceil_mode, dilation=dilation)
    return soft_pool(x, kernel, stride, padding, ceil_mode, dilation=dilation)


entry_st = st.one_of(
    st.sampled_from(RULES), st.integers(0, 2), st.tuples(st.integers(0, 3), st.integers(0, 3))
)


@st.composite
def window_specs(draw, tiled=False):
    ndim = draw(st.integers(1, 3))
    top = (9, 7, 5)[ndim - 1]
    spatial = tuple(draw(st.integers(1, top)) for _ in range(ndim))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    if tiled:
        stride, dilation = kernel, (1,) * ndim
    else:
        stride = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
        dilation = tuple(draw(st.integers(1, 2)) for _ in range(ndim))
    padding = draw(
        st.one_of(
            entry_st.filter(lambda e: not isinstance(e, tuple)), st.tuples(*[entry_st] * ndim)
        )
    )
    return spatial, kernel, stride, padding, dilation, draw(st.booleans())


def check_against_reference(kind, spec, p=2.0, seed=0, device="cpu"):
    spatial, kernel, stride, padding, dilation, ceil_mode = spec
    torch.manual_seed(seed)
    x = torch.randn(2, 3, *spatial, dtype=torch.float64)
    try:
        want_shape = anyconv.output_shape(
            spatial, kernel, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode
        )
    except ValueError:
        with pytest.raises(ValueError, match="kernel is larger"):
            run(kind, x, kernel, stride, padding, dilation, ceil_mode, p)
        return
    want, outs = pool_reference(x, kind, kernel, stride, padding, dilation, ceil_mode, p)
    assert tuple(outs) == want_shape
    if want is None:
        with pytest.raises(ValueError, match=r"'padding'.*no input element"):
            run(kind, x.to(device), kernel, stride, padding, dilation, ceil_mode, p)
        return
    got = run(kind, x.to(device), kernel, stride, padding, dilation, ceil_mode, p)
    assert got.shape[2:] == want_shape and got.device.type == device
    torch.testing.assert_close(got.cpu(), want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("kind", ["max", "avg_incl", "avg_excl", "lp", "soft"])
@settings(max_examples=60, deadline=None)
@given(spec=window_specs())
def test_matches_bruteforce_reference(kind, spec, device):
    check_against_reference(kind, spec, p=3.0, device=device)


@settings(max_examples=60, deadline=None)
@given(spec=window_specs(tiled=True), p=st.sampled_from([1.0, 2.0, 0.5]))
def test_tiled_windows_match_reference(spec, p, device):
    """stride == kernel: SoftPool's fused path, and LP pooling with several powers."""
    check_against_reference("soft", spec, device=device)
    check_against_reference("lp", spec, p=p, device=device)


# --- PyTorch's kernels, wherever they share the rule ------------------------------------


@st.composite
def torch_specs(draw):
    ndim = draw(st.integers(1, 3))
    top = (12, 9, 6)[ndim - 1]
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    spatial = tuple(draw(st.integers(k, top)) for k in kernel)
    stride = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    pad = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    return spatial, kernel, stride, pad, draw(st.booleans())


@settings(max_examples=60, deadline=None)
@given(spec=torch_specs(), dilation=st.integers(1, 2), data=st.data())
def test_max_pool_matches_torch(spec, dilation, data, device):
    """Forward and backward against PyTorch's kernel on the CPU."""
    spatial, kernel, stride, pad, ceil_mode = spec
    ndim = len(spatial)
    assume(all(n + 2 * q >= dilation * (k - 1) + 1 for n, q, k in zip(spatial, pad, kernel)))
    x = torch.randn(2, 3, *spatial, requires_grad=True)
    want = TORCH_MAX[ndim](x, kernel, stride, pad, dilation, ceil_mode)
    # Same rule, spelt as per-axis (lo, hi) pairs, which skips PyTorch's padding argument.
    as_pairs = data.draw(st.booleans())
    padding = tuple((q, q) for q in pad) if as_pairs else pad
    xd = x.detach().to(device).requires_grad_()
    got = max_pool(xd, kernel, stride, padding, dilation, ceil_mode)
    assert got.device.type == device
    torch.testing.assert_close(got.cpu(), want)
    grad_out = torch.randn_like(want)
    (g_want,) = torch.autograd.grad(want, x, grad_out)
    (g_got,) = torch.autograd.grad(got, xd, grad_out.to(device))
    torch.testing.assert_close(g_got.cpu(), g_want)


@settings(max_examples=60, deadline=None)
@given(spec=torch_specs(), count_include_pad=st.booleans())
def test_avg_pool_matches_torch(spec, count_include_pad, device):
    """Forward and backward against PyTorch's kernel on the CPU."""
    spatial, kernel, stride, pad, ceil_mode = spec
    x = torch.randn(2, 3, *spatial, requires_grad=True)
    want = TORCH_AVG[len(spatial)](x, kernel, stride, pad, ceil_mode, count_include_pad)
    grad_out = torch.randn_like(want)
    (g_want,) = torch.autograd.grad(want, x, grad_out)
    for padding in (pad, tuple((q, q) for q in pad)):
        xd = x.detach().to(device).requires_grad_()
        got = avg_pool(xd, kernel, stride, padding, ceil_mode, count_include_pad)
        assert got.device.type == device
        torch.testing.assert_close(got.cpu(), want)
        (g_got,) = torch.autograd.grad(got, xd, grad_out.to(device))
        torch.testing.assert_close(g_got.cpu(), g_want)


@settings(max_examples=60, deadline=None)
@given(spec=torch_specs(), count_include_pad=st.booleans())
def test_explicit_route_matches_torch(spec, count_include_pad):
    """Pre-padding + exact sums + own divisor, forced even where PyTorch's kernel could run."""
    spatial, kernel, stride, pad, ceil_mode = spec
    x = torch.randn(2, 3, *spatial)
    ndim = len(spatial)
    want_avg = TORCH_AVG[ndim](x, kernel, stride, pad, ceil_mode, count_include_pad)
    want_max = TORCH_MAX[ndim](x, kernel, stride, pad, 1, ceil_mode)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pool_module, "_torch_padding", lambda spec: None)
        got_avg = avg_pool(x, kernel, stride, pad, ceil_mode, count_include_pad)
        got_max = max_pool(x, kernel, stride, pad, 1, ceil_mode)
    torch.testing.assert_close(got_avg, want_avg)
    torch.testing.assert_close(got_max, want_max)


@settings(max_examples=40, deadline=None)
@given(spec=torch_specs(), p=st.sampled_from([1, 2, 3]))
def test_lp_pool_matches_torch_without_ceil(spec, p):
    spatial, kernel, stride, _, _ = spec
    x = torch.rand(2, 3, *spatial) + 0.1  # PyTorch raises the signed x to p
    if len(spatial) == 1:  # lp_pool1d wants plain ints
        kernel, stride = kernel[0], stride[0]
    want = TORCH_LP[x.dim() - 2](x, p, kernel, stride)
    torch.testing.assert_close(lp_pool(x, p, kernel, stride), want)


def test_padding_wider_than_pytorch_allows():
    """PyTorch refuses padding > kernel_size // 2; here it is -inf padding like any other."""
    x = torch.randn(2, 3, 10, 10)
    want = F.max_pool2d(F.pad(x, (3, 3, 3, 3), value=-math.inf), 5, 2, ceil_mode=True)
    torch.testing.assert_close(max_pool(x, 5, 2, 3, ceil_mode=True), want)
    want = F.avg_pool2d(F.pad(x, (3, 3, 3, 3)), 5, 2)
    torch.testing.assert_close(avg_pool(x, 5, 2, 3), want)


# --- SoftPool --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "ceil_mode"),
    [
        (2, None, 0, False),
        (3, None, 1, True),
        ((2, 3), None, ("causal", "same"), False),
        (3, 2, 1, True),
        (2, 1, "same", False),
    ],
)
def test_soft_pool_large_inputs_are_finite_and_exact(kernel, stride, padding, ceil_mode):
    torch.manual_seed(1)
    x = torch.randint(-1, 2, (2, 3, 7, 8)) * 1000.0 + torch.randn(2, 3, 7, 8) * 3
    x.requires_grad_()
    y = soft_pool(x, kernel, stride, padding, ceil_mode)
    ks = kernel if isinstance(kernel, tuple) else (kernel, kernel)
    st_ = ks if stride is None else (stride, stride)
    want, _ = pool_reference(x, "soft", ks, st_, padding, (1, 1), ceil_mode)
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y.double(), want, rtol=1e-5, atol=1e-3)
    y.sum().backward()
    assert torch.isfinite(x.grad).all()


def test_soft_pool_matches_plain_formula_on_small_inputs():
    x = torch.randn(4, 5, 16, 16)
    e = x.exp()
    want = F.avg_pool2d(x * e, 2) / F.avg_pool2d(e, 2)
    torch.testing.assert_close(soft_pool(x, 2), want)


SOFT_GEOMETRIES = [
    ((2, 2, 6), 2, None, 0, False),
    ((2, 2, 7), 3, None, ((2, 0),), True),
    ((1, 2, 5, 6), 2, None, "same", True),
    ((1, 2, 4, 5, 4), (2, 1, 2), None, ("causal", 0, "same"), False),
    ((1, 2, 6, 5), 3, 2, 1, True),
    ((1, 2, 7), 2, 1, "full", False),
]


@pytest.fixture(params=["unshifted", "shifted"])
def soft_path(request, monkeypatch):
    """Both of SoftPool's ways: without the per-window shift (inputs small enough) and
    with it, forced by patching the decision."""
    if request.param == "shifted":
        monkeypatch.setattr(pool_module, "_unshifted_is_exact", lambda x, win: False)
    else:
        real = pool_module._unshifted_is_exact

        def checked(x, win):
            assert real(x, win), "the test input is too large for the unshifted path"
            return True

        monkeypatch.setattr(pool_module, "_unshifted_is_exact", checked)
    return request.param


@pytest.mark.parametrize(("shape", "kernel", "stride", "padding", "ceil_mode"), SOFT_GEOMETRIES)
def test_soft_pool_gradcheck(shape, kernel, stride, padding, ceil_mode, soft_path):
    torch.manual_seed(2)
    x = (torch.randn(*shape, dtype=torch.float64) * 3).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda t: soft_pool(t, kernel, stride, padding, ceil_mode), (x,)
    )


@pytest.mark.parametrize(("shape", "kernel", "stride", "padding", "ceil_mode"), SOFT_GEOMETRIES)
def test_soft_pool_gradcheck_at_1000(shape, kernel, stride, padding, ceil_mode):
    """Values of +-1000, beyond float64's unshifted range (about 354): the shifted path."""
    torch.manual_seed(5)
    x = torch.randint(-1, 2, shape) * 1000.0 + torch.randn(*shape) * 3
    x = x.double().requires_grad_()
    y = soft_pool(x, kernel, stride, padding, ceil_mode)
    assert torch.isfinite(y).all()
    assert torch.autograd.gradcheck(
        lambda t: soft_pool(t, kernel, stride, padding, ceil_mode), (x,)
    )


@pytest.mark.parametrize(("shape", "kernel", "stride", "padding", "ceil_mode"), SOFT_GEOMETRIES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_soft_pool_paths_match_reference(
    shape, kernel, stride, padding, ceil_mode, dtype, soft_path
):
    torch.manual_seed(6)
    x = (torch.randn(*shape) * 4).to(dtype)
    ndim = len(shape) - 2
    ks = (kernel,) * ndim if isinstance(kernel, int) else kernel
    st_ = ks if stride is None else (stride,) * ndim
    want, _ = pool_reference(x, "soft", ks, st_, padding, (1,) * ndim, ceil_mode)
    got = soft_pool(x, kernel, stride, padding, ceil_mode)
    assert got.dtype == dtype
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(got.double(), want, rtol=tol, atol=tol)


def test_soft_pool_shifts_only_when_needed():
    """The unshifted sums are exact while |x| <= log(max / K) / 2 (43.6 for float32 2x2)."""
    win = pool_module._pool_spec(torch.zeros(1, 1, 4, 4), 2, None, 0, 1, False, "soft_pool")
    exact = pool_module._unshifted_is_exact
    assert exact(torch.full((1, 1, 4, 4), 43.5), win)
    assert exact(torch.full((1, 1, 4, 4), -43.5), win)
    assert not exact(torch.full((1, 1, 4, 4), 43.7), win)
    assert exact(torch.full((1, 1, 4, 4), 300.0, dtype=torch.float64), win)
    assert not exact(torch.full((1, 1, 4, 4), 400.0, dtype=torch.float64), win)
    assert not exact(torch.full((1, 1, 4, 4), 6.0, dtype=torch.float16), win)
    assert not exact(torch.tensor([[[[0.0, float("nan")], [0.0, 0.0]]]]), win)
    assert not exact(torch.zeros(0, 1, 4, 4), win)
    # the largest input it accepts keeps every sum finite and every weight a normal number
    x = torch.full((1, 1, 4, 4), 43.6)
    x[..., ::2, ::2] = -43.6
    for v in (x, -x):
        assert exact(v, win)
        y = soft_pool(v, 2)
        assert torch.isfinite(y).all()
        want = pool_reference(v, "soft", (2, 2), (2, 2), 0, (1, 1), False)[0]
        torch.testing.assert_close(y.double(), want, rtol=1e-5, atol=1e-5)


def test_soft_pool_gradient_matches_autograd_of_definition():
    torch.manual_seed(3)
    x = (torch.randn(2, 3, 6, 6, dtype=torch.float64) * 50).requires_grad_()
    g = torch.randn(2, 3, 3, 3, dtype=torch.float64)
    (soft_pool(x, 2) * g).sum().backward()
    ours = x.grad.clone()
    x.grad = None
    win = x.view(2, 3, 3, 2, 3, 2).permute(0, 1, 2, 4, 3, 5).reshape(2, 3, 3, 3, 4)
    ((torch.softmax(win, -1) * win).sum(-1) * g).sum().backward()
    torch.testing.assert_close(ours, x.grad)


@pytest.mark.parametrize("kind", ["avg_excl", "lp", "max"])
def test_gradcheck_explicit_paths(kind):
    torch.manual_seed(4)
    x = torch.randn(1, 2, 7, 6, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda t: run(kind, t, (3, 2), (2, 1), ("causal", (2, 1)), (1, 2), True), (x,)
    )


def test_lp_pool_zero_window_has_zero_gradient():
    x = torch.zeros(1, 1, 4, requires_grad=True)
    lp_pool(x, 2, 2).sum().backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


def test_lp_pool_infinite_norm_is_max_of_abs():
    x = torch.randn(2, 3, 9)
    torch.testing.assert_close(lp_pool(x, math.inf, 3), F.max_pool1d(x.abs(), 3))


# --- global and channel pooling --------------------------------------------------------


@pytest.mark.parametrize("spatial", [(5,), (4, 3), (3, 2, 4), (2, 2, 2, 2)])
def test_global_pools(spatial):
    x = torch.randn(2, 3, *spatial)
    flat = x.flatten(2)
    torch.testing.assert_close(global_avg_pool(x), flat.mean(-1))
    torch.testing.assert_close(global_max_pool(x), flat.max(-1).values)
    assert global_avg_pool(x, keepdim=True).shape == (2, 3, *(1,) * len(spatial))
    assert global_max_pool(x, keepdim=True).shape == (2, 3, *(1,) * len(spatial))


@pytest.mark.parametrize("shape", [(2, 12), (2, 12, 5), (2, 12, 3, 4)])
def test_channel_max_pool_is_maxout(shape):
    x = torch.randn(*shape)
    y = channel_max_pool(x, 3)
    assert y.shape == (shape[0], 4, *shape[2:])
    for g in range(4):
        want = torch.stack([x[:, 3 * g + i] for i in range(3)]).max(0).values
        torch.testing.assert_close(y[:, g], want)


# --- errors name the argument, what was given and what is allowed -------------------------


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda x: max_pool(x, 0), ValueError, r"'kernel_size'.*got 0$"),  # as given
        (lambda x: max_pool(x, (2, 2, 2)), ValueError, "'kernel_size'"),
        (lambda x: max_pool(x, 2.0), TypeError, "'kernel_size'"),
        (lambda x: avg_pool(x, 2, stride=0), ValueError, "'stride'"),
        (lambda x: max_pool(x, 2, padding="sam"), ValueError, "'padding'.*'same'"),
        (lambda x: max_pool(x, 2, padding=-1), ValueError, "'padding'"),
        (lambda x: max_pool(x, 2, dilation=0), ValueError, "'dilation'"),
        (lambda x: soft_pool(x, 2, ceil_mode=1), TypeError, "'ceil_mode'.*a bool"),
        (lambda x: avg_pool(x, 2, count_include_pad="yes"), TypeError, "'count_include_pad'"),
        (lambda x: lp_pool(x, 0, 2), ValueError, "'norm_type'"),
        (lambda x: lp_pool(x, "2", 2), TypeError, "'norm_type'"),
        (lambda x: max_pool(x, 9), ValueError, "kernel is larger"),
        (
            lambda x: avg_pool(x, 2, padding=((3, 0), 0), count_include_pad=False),
            ValueError,
            "'padding'.*no input element",
        ),
        (lambda x: max_pool(x.long(), 2), TypeError, "'input'.*floating"),
        (lambda x: max_pool(x[0, 0], 2), ValueError, "'input'.*3, 4 or 5 dims"),
        (lambda x: soft_pool([1.0], 2), TypeError, "'input'"),
        (lambda x: channel_max_pool(x, 4), ValueError, "'pool_size'.*dividing the 6"),
        (lambda x: channel_max_pool(x, 0), ValueError, "'pool_size'"),
        (lambda x: channel_max_pool(x, 2.0), TypeError, "'pool_size'"),
        (lambda x: global_avg_pool(x[0, 0]), ValueError, "'input'.*spatial"),
        (lambda x: global_max_pool(x, keepdim=None), TypeError, "'keepdim'"),
    ],
)
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call(torch.randn(2, 6, 5, 5))
