"""The kernel spectrum cache of the FFT path: hits only when the weight is unchanged."""

from __future__ import annotations

import gc

import pytest
import torch

import anyconv
from anyconv.functional.algorithms import fft
from anyconv.functional.algorithms.fft import spectral, spectrum_cache


@pytest.fixture(autouse=True)
def fresh_cache():
    fft.cache_kernel_spectra(True, verify=True, max_entries=32, max_bytes=1 << 30)
    fft.clear_kernel_cache()
    yield
    fft.cache_kernel_spectra(True, verify=True, max_entries=32, max_bytes=1 << 30)
    fft.clear_kernel_cache()


@pytest.fixture
def transforms(monkeypatch):
    """Counts of input transforms (``rfftn``) and kernel transforms."""
    counts = {"input": 0, "kernel": 0}
    rfftn, kernel_spectrum = torch.fft.rfftn, fft.kernel_spectrum

    def counting_rfftn(*args, **kwargs):
        counts["input"] += 1
        return rfftn(*args, **kwargs)

    def counting_kernel(*args, **kwargs):
        counts["kernel"] += 1
        return kernel_spectrum(*args, **kwargs)

    monkeypatch.setattr(torch.fft, "rfftn", counting_rfftn)
    monkeypatch.setattr(spectral, "kernel_spectrum", counting_kernel)
    return counts


def tensors(dtype=torch.float64, groups=1, k=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 4, 20, 18, generator=g, dtype=dtype)
    w = torch.randn(8, 4 // groups, k, k - 1, generator=g, dtype=dtype)
    return x, w


def fft_conv(x, w, **kw):
    return anyconv.conv(x, w, algorithm="fft", **kw)


def native(x, w, **kw):
    return anyconv.conv(x, w, algorithm="native", **kw)


def test_repeated_calls_hit_and_give_identical_results(transforms):
    x, w = tensors()
    with torch.no_grad():
        first = fft_conv(x, w, padding="same")
        for _ in range(3):
            assert torch.equal(fft_conv(x, w, padding="same"), first)
    # four calls: four input transforms, one kernel transform
    assert transforms == {"input": 4, "kernel": 1}
    assert fft.kernel_cache_info()["hits"] == 3
    assert fft.kernel_cache_info()["misses"] == 1
    torch.testing.assert_close(first, native(x, w, padding="same"), rtol=0, atol=1e-10)


def test_in_place_update_misses_and_gives_the_new_result():
    x, w = tensors()
    with torch.no_grad():
        fft_conv(x, w, padding="same")
        w.add_(1)
        y = fft_conv(x, w, padding="same")
    torch.testing.assert_close(y, native(x, w, padding="same"), rtol=0, atol=1e-10)
    assert fft.kernel_cache_info()["hits"] == 0


def test_load_state_dict_and_optimizer_step_miss():
    layer = torch.nn.Conv2d(4, 8, 5, padding=2, bias=False).double()
    x = torch.randn(2, 4, 16, 16, dtype=torch.float64)
    with torch.no_grad():
        fft_conv(x, layer.weight, padding="same")
        layer.load_state_dict({"weight": torch.randn_like(layer.weight)})
        y = fft_conv(x, layer.weight, padding="same")
    torch.testing.assert_close(y, native(x, layer.weight, padding="same"), rtol=0, atol=1e-10)
    opt = torch.optim.SGD(layer.parameters(), lr=0.5)
    layer.weight.grad = torch.randn_like(layer.weight)
    opt.step()
    with torch.no_grad():
        y = fft_conv(x, layer.weight, padding="same")
    torch.testing.assert_close(y, native(x, layer.weight, padding="same"), rtol=0, atol=1e-10)
    assert fft.kernel_cache_info()["hits"] == 0


def test_writes_that_bypass_the_version_counter_are_caught_by_verify():
    x, w = tensors()
    with torch.no_grad():
        fft_conv(x, w, padding="same")
        w.data.mul_(-2)  # .data has its own version counter
        w.numpy()[0, 0, 0, 0] = 7.0  # neither does NumPy
        y = fft_conv(x, w, padding="same")
    torch.testing.assert_close(y, native(x, w, padding="same"), rtol=0, atol=1e-10)
    assert fft.kernel_cache_info()["hits"] == 0


def test_dilation_and_transform_sizes_do_not_collide():
    x, w = tensors()
    small = x[..., :12, :10].clone()
    with torch.no_grad():
        for _ in range(2):
            for inp in (x, small):
                for dilation in (1, 2):
                    for padding in ("same", "full", 0):
                        got = fft_conv(inp, w, padding=padding, dilation=dilation)
                        want = native(inp, w, padding=padding, dilation=dilation)
                        torch.testing.assert_close(got, want, rtol=0, atol=1e-10)
    info = fft.kernel_cache_info()
    assert info["hits"] > 0 and info["misses"] == info["entries"] > 2


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("groups", [1, 2, 4])
def test_groups_dtypes_and_flip(dtype, groups):
    x, w = tensors(dtype, groups)
    tol = 1e-10 if dtype == torch.float64 else 1e-4
    with torch.no_grad():
        for flip in (False, True, False, True):
            got = fft_conv(x, w, padding="same", groups=groups, flip=flip, dilation=(1, 2))
            want = native(x, w, padding="same", groups=groups, flip=flip, dilation=(1, 2))
            torch.testing.assert_close(got, want, rtol=tol, atol=tol)
    info = fft.kernel_cache_info()
    # the flipped weight is a new tensor every call: it only misses and is not kept
    assert info["hits"] == 1 and info["misses"] == 3 and info["entries"] == 1


def test_half_precision_weight_is_cached():
    x, w = tensors(torch.float32)
    with torch.no_grad():
        a = fft_conv(x.bfloat16(), wb := w.bfloat16(), padding="same")
        b = fft_conv(x.bfloat16(), wb, padding="same")
    assert torch.equal(a, b) and fft.kernel_cache_info()["hits"] == 1


def test_grad_mode_with_trainable_weight_bypasses_the_cache(transforms):
    x, w = tensors()
    x.requires_grad_(True)
    w.requires_grad_(True)
    for _ in range(2):
        y = fft_conv(x, w, padding="same")
    assert fft.kernel_cache_info() == {"hits": 0, "misses": 0, "entries": 0, "bytes": 0}
    assert transforms == {"input": 2, "kernel": 2}
    gx, gw = torch.autograd.grad(y.square().sum(), (x, w))
    xr, wr = x.detach().requires_grad_(True), w.detach().requires_grad_(True)
    rx, rw = torch.autograd.grad(native(xr, wr, padding="same").square().sum(), (xr, wr))
    torch.testing.assert_close(gx, rx, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(gw, rw, rtol=1e-9, atol=1e-9)
    assert torch.autograd.gradcheck(
        lambda a, b: fft_conv(a, b, padding="same"),
        (x[:1, :, :7, :6].detach().requires_grad_(True), w.detach().requires_grad_(True)),
    )


def test_frozen_weight_in_grad_mode_uses_cache_and_input_gradient_is_right():
    x, w = tensors()
    x.requires_grad_(True)
    for _ in range(2):
        y = fft_conv(x, w, padding="same")
        (gx,) = torch.autograd.grad(y.square().sum(), x)
        xr = x.detach().requires_grad_(True)
        (rx,) = torch.autograd.grad(native(xr, w, padding="same").square().sum(), xr)
        torch.testing.assert_close(gx, rx, rtol=1e-9, atol=1e-9)
    assert fft.kernel_cache_info()["hits"] == 1


def test_cache_is_bounded_by_entries_and_bytes():
    fft.cache_kernel_spectra(True, max_entries=3)
    x, _ = tensors()
    weights = [tensors(seed=s)[1] for s in range(6)]
    with torch.no_grad():
        for w in weights:
            fft_conv(x, w, padding="same")
    info = fft.kernel_cache_info()
    assert info["entries"] == 3 and info["misses"] == 6
    with torch.no_grad():
        fft_conv(x, weights[-1], padding="same")  # most recent: kept
        fft_conv(x, weights[0], padding="same")  # least recent: evicted
    assert fft.kernel_cache_info()["hits"] == 1
    fft.cache_kernel_spectra(True, max_bytes=info["bytes"] // 3 + 1)
    assert fft.kernel_cache_info()["entries"] == 1
    fft.cache_kernel_spectra(True, max_bytes=1)
    with torch.no_grad():
        fft_conv(x, weights[1], padding="same")
    assert fft.kernel_cache_info()["entries"] == 0


def test_deleted_weight_entry_is_dropped():
    x, w = tensors()
    with torch.no_grad():
        fft_conv(x, w, padding="same")
    assert fft.kernel_cache_info()["entries"] == 1
    del w
    gc.collect()
    assert fft.kernel_cache_info()["entries"] == 0


def test_switch_and_context_manager(transforms):
    x, w = tensors()
    with torch.no_grad():
        with fft.kernel_spectrum_cache(False):
            fft_conv(x, w, padding="same")
            fft_conv(x, w, padding="same")
            assert fft.kernel_cache_info()["entries"] == 0
        assert spectrum_cache._cache_state["enabled"]
        fft.cache_kernel_spectra(False)
        fft_conv(x, w, padding="same")
        fft.cache_kernel_spectra(True)
        fft_conv(x, w, padding="same")
        fft_conv(x, w, padding="same")
    assert transforms == {"input": 5, "kernel": 4}
    assert fft.kernel_cache_info()["hits"] == 1
    fft.clear_kernel_cache()
    assert fft.kernel_cache_info() == {"hits": 0, "misses": 0, "entries": 0, "bytes": 0}


def test_inference_mode_bypasses_and_stays_correct():
    x, w = tensors()
    with torch.inference_mode():
        a = fft_conv(x, w, padding="same")
        b = fft_conv(x, w, padding="same")
    assert torch.equal(a, b)
    # a normal weight is cacheable in inference mode; the entry must not be an inference
    # tensor that later breaks autograd on the input
    xg = x.clone().requires_grad_(True)
    y = fft_conv(xg, w, padding="same")
    y.sum().backward()
    assert xg.grad is not None
