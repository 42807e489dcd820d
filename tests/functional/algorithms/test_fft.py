"""The FFT path's own backward pass and forward-mode derivative against PyTorch's."""

from __future__ import annotations

import itertools

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


@pytest.fixture(params=["elementwise", "bmm"], autouse=True)
def contraction(request, monkeypatch):
    """Every test runs with both channel contractions: elementwise products and batched
    matmul (the small tensors here would otherwise all take the elementwise one)."""
    from anyconv.functional.algorithms.fft import plan as fft_plan

    if request.param == "bmm":
        monkeypatch.setattr(fft_plan, "ELEMENTWISE_MAX", 0)
    return request.param


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


@pytest.mark.parametrize(
    ("ndim", "exhaustive"),
    [(1, True), (2, True), (3, False), pytest.param(3, True, marks=pytest.mark.slow)],
)
@pytest.mark.parametrize(
    "opts",
    [
        dict(stride=1, dilation=1, groups=1, padding="same", padding_mode="zeros"),
        dict(stride=2, dilation=1, groups=2, padding="full", padding_mode="zeros"),
        dict(stride=1, dilation=2, groups=1, padding="valid", padding_mode="reflect"),
        dict(stride=3, dilation=1, groups=4, padding="causal", padding_mode="circular"),
    ],
)
def test_overlap_save_matches_native_for_every_block_size(ndim, exhaustive, opts):
    """Blocks of 1, 2, 5 and all outputs per axis, every combination; in 3-D (64 of them)
    by default each size on all axes at once and two mixtures, every one under ``-m slow``."""
    from anyconv.functional.algorithms.fft import overlap_save
    from anyconv.padding import conv_spec, pad

    g = torch.Generator().manual_seed(ndim)
    x = torch.randn(2, 4, *(23, 19, 13)[:ndim], dtype=torch.float64, generator=g)
    w = torch.randn(8, 4 // opts["groups"], *(3,) * ndim, dtype=torch.float64, generator=g)
    x.requires_grad_()
    w.requires_grad_()
    spec = conv_spec(x.shape, w.shape, **opts)
    want = anyconv.conv(x, w, algorithm="native", **opts)
    seed = torch.randn(want.shape, dtype=want.dtype, generator=g)
    grads = torch.autograd.grad(want, (x, w), seed)
    padded, padding = x, spec.padding
    if spec.padding_mode != "zeros":
        padded, padding = pad(x, spec.padding, spec.padding_mode), ((0, 0),) * ndim
    plans = list(itertools.product(*[(1, 2, 5, m) for m in spec.out_shape]))
    if ndim == 3 and not exhaustive:
        m = spec.out_shape
        plans = [*((b,) * 3 for b in (1, 2, 5)), m, (1, 5, m[2]), (m[0], 2, 1)]
    for per_block in plans:
        got = overlap_save(padded, w, w, spec, padding, per_block)
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    for a, b in zip(torch.autograd.grad(got, (x, w), seed), grads):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_long_single_channel_signal_is_cut_into_blocks_and_stays_exact():
    from anyconv.functional.algorithms.fft import conv_fft
    from anyconv.functional.algorithms.fft.plan import block_plan
    from anyconv.padding import conv_spec

    g = torch.Generator().manual_seed(5)
    x = torch.randn(1, 1, 1 << 16, dtype=torch.float64, generator=g)
    w = torch.randn(1, 1, 63, dtype=torch.float64, generator=g)
    plan = block_plan((1 << 16,), (63,), (1,), (1,), ((31, 31),), (1 << 16,), (1, 1, 1, 1))
    assert plan is not None and plan[0] < (1 << 14)
    got = anyconv.conv(x, w, padding="same", algorithm="fft")
    opts = dict(stride=1, padding="same", dilation=1, groups=1, padding_mode="zeros")
    whole = conv_fft(x, w, None, conv_spec(x.shape, w.shape, **opts), blocks=False)
    want = anyconv.conv(x, w, padding="same", algorithm="native")
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(whole, want, rtol=1e-10, atol=1e-10)


def test_typical_cnn_layer_uses_one_transform():
    from anyconv.functional.algorithms.fft.plan import block_plan

    args = ((128, 128), (31, 31), (1, 1), (1, 1), ((15, 15),) * 2, (128, 128), (8, 16, 16, 16))
    assert block_plan(*args) is None


def test_overlap_save_forward_mode_and_double_backward():
    from anyconv.functional.algorithms.fft import overlap_save
    from anyconv.padding import conv_spec

    g = torch.Generator().manual_seed(9)
    x = torch.randn(2, 3, 40, 30, dtype=torch.float64, generator=g)
    w = torch.randn(4, 3, 5, 3, dtype=torch.float64, generator=g)
    opts = dict(stride=(1, 2), padding="same", dilation=(2, 1), groups=1, padding_mode="zeros")
    spec = conv_spec(x.shape, w.shape, **opts)

    def blocked(a, b):
        return overlap_save(a, b, b, spec, spec.padding, (7, 4))

    def native(a, b):
        return anyconv.conv(a, b, algorithm="native", **opts)

    dx, dw = torch.randn_like(x), torch.randn_like(w)
    tangents = []
    for f in (blocked, native):
        with fwAD.dual_level():
            tangents.append(
                fwAD.unpack_dual(f(fwAD.make_dual(x, dx), fwAD.make_dual(w, dw))).tangent
            )
    torch.testing.assert_close(tangents[0], tangents[1], rtol=1e-10, atol=1e-10)
    xs, ws = x[:1, :2, :9, :7].clone().requires_grad_(), w[:, :2].clone().requires_grad_()
    spec = conv_spec(xs.shape, ws.shape, **opts)
    assert torch.autograd.gradgradcheck(blocked, (xs, ws))


@pytest.mark.parametrize("dft", [True, False])
def test_kernel_transforms_match_full_ffts(dft, monkeypatch):
    """Both ways, by DFT matrices and by pruned FFTs, against ``torch.fft`` on the whole
    zero-filled buffer, in 1-3 dims and float64."""
    from anyconv.functional.algorithms.fft import kernel_transforms as kt
    from anyconv.functional.algorithms.fft.plan import Geometry

    monkeypatch.setattr(kt, "_use_dft_matmul", lambda taps, size: dft)
    g = torch.Generator().manual_seed(11)
    for sizes, taps in [
        ((40,), ((0, 39, 38, 5),)),
        ((18, 10), ((3, 2, 1), (0, 8))),
        ((6, 8, 10), ((1, 0), (7, 5, 3), (2,))),
    ]:
        ndim = len(sizes)
        geo = Geometry(sizes, taps, (), (), 1, False)
        w = torch.randn(*(len(t) for t in taps), 3, dtype=torch.float64, generator=g)
        buffer = torch.zeros(*sizes, 3, dtype=torch.float64)
        index = torch.meshgrid(*(torch.tensor(t) for t in taps), indexing="ij")
        buffer[index] = w
        dims = tuple(range(ndim))
        torch.testing.assert_close(kt.kernel_rfftn(w, geo), torch.fft.rfftn(buffer, dim=dims))
        spectrum = torch.fft.rfftn(
            torch.randn(*sizes, 3, dtype=torch.float64, generator=g), dim=dims
        )
        full = torch.fft.irfftn(spectrum, s=sizes, dim=dims)
        torch.testing.assert_close(kt.kernel_irfftn(spectrum, geo), full[index])


def test_few_inputs_many_outputs_matches_native():
    """The elementwise contraction's input gradient, reduced per input channel."""
    g = torch.Generator().manual_seed(12)
    x = torch.randn(2, 3, 30, dtype=torch.float64, generator=g)
    w = torch.randn(24, 3, 5, dtype=torch.float64, generator=g)
    grads = []
    for algo in ("fft", "native"):
        xs, ws = x.clone().requires_grad_(), w.clone().requires_grad_()
        y = anyconv.conv(xs, ws, padding="same", algorithm=algo)
        grads.append(torch.autograd.grad(y.sin().sum(), (xs, ws)))
    for got, want in zip(*grads):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
