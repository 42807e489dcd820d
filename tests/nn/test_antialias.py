"""Anti-aliased pooling: the binomial filter, BlurPool against a SciPy reference, MaxBlurPool
as a drop-in for max pooling."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch
from scipy.special import comb

import anyconv.nn as ann
from anyconv import output_shape
from anyconv.functional import binomial_kernel, blur_pool

NUMPY_MODE = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def test_binomial_kernel_is_pascal_normalised():
    for n in range(1, 8):
        row = np.array([comb(n - 1, i) for i in range(n)]) / 2 ** (n - 1)
        np.testing.assert_allclose(binomial_kernel(n, 1, dtype=torch.float64), row)
    k = binomial_kernel((2, 3, 5), 3, dtype=torch.float64)
    assert k.shape == (2, 3, 5) and abs(float(k.sum()) - 1) < 1e-15
    np.testing.assert_allclose(k[1, 1], 0.5 * 0.5 * np.array([1, 4, 6, 4, 1]) / 16)


def _reference(x, size, stride, pads, mode):
    """Pad with NumPy, correlate with the outer product of Pascal rows, subsample."""
    kernel = np.ones(())
    for n in size:
        kernel = np.multiply.outer(kernel, [comb(n - 1, i) / 2 ** (n - 1) for i in range(n)])
    out = []
    for sample in x:
        maps = []
        for channel in sample:
            padded = np.pad(channel, pads, mode=NUMPY_MODE[mode])
            full = scipy.signal.correlate(padded, kernel, mode="valid")
            maps.append(full[tuple(slice(None, None, s) for s in stride)])
        out.append(maps)
    return np.array(out)


@pytest.mark.parametrize(
    ("spatial", "size", "stride", "padding", "pads", "mode"),
    [
        ((9,), 3, 2, "same", [(1, 1)], "reflect"),
        ((10,), 4, 2, "same", [(1, 1)], "zeros"),
        ((7, 8), 3, 2, "valid", [(0, 0), (0, 0)], "zeros"),
        ((7, 8), (2, 5), (1, 3), "same", [(0, 1), (1, 2)], "replicate"),
        ((6, 6), 3, 2, "causal", [(2, 0), (2, 0)], "circular"),
        ((4, 5, 6), 3, (1, 2, 2), ("causal", "same", ((1, 0))), [(2, 0), (1, 1), (1, 0)], "zeros"),
    ],
)
@pytest.mark.parametrize("channels", [1, 5])
def test_blur_pool_against_scipy(spatial, size, stride, padding, pads, mode, channels, device):
    x = torch.randn(2, channels, *spatial, dtype=torch.float64)
    y = blur_pool(x.to(device), size, stride, padding, mode)
    assert y.device.type == device
    y = y.cpu()
    nd = len(spatial)
    sizes = (size,) * nd if isinstance(size, int) else size
    strides = (stride,) * nd if isinstance(stride, int) else stride
    ref = _reference(x.numpy(), sizes, strides, pads, mode)
    assert y.shape == (2, channels, *output_shape(spatial, sizes, stride=strides, padding=padding))
    np.testing.assert_allclose(y.numpy(), ref, atol=1e-12)


def test_blur_pool_gradients():
    x = torch.randn(1, 2, 6, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: blur_pool(t, 3, 2), (x,))


@pytest.mark.parametrize("n", [5, 8, 9, 28])
def test_max_blur_pool_is_a_drop_in_for_max_pooling(n):
    x = torch.randn(1, 3, n, n)
    assert ann.MaxBlurPool2d(2)(x).shape == ann.MaxPool2d(2)(x).shape
    assert ann.MaxBlurPool2d(3, 2)(x).shape == ann.MaxPool2d(3, 2)(x).shape
    x1 = torch.randn(1, 3, n)
    assert ann.MaxBlurPool(2, ndim=1)(x1).shape == ann.MaxPool1d(2)(x1).shape
    # max with stride 1, then the blur: the same as composing the two layers
    layer = ann.MaxBlurPool2d(2, filter_size=4)
    expected = blur_pool(ann.MaxPool2d(2, stride=1)(x), 4, 2)
    torch.testing.assert_close(layer(x), expected)


def test_layers_hold_no_parameters_and_validate_early():
    assert ann.BlurPool2d().num_parameters == 0
    assert ann.BlurPool3d(filter_size=5).filter.shape == (5, 5, 5)
    with pytest.raises(ValueError, match=r"BlurPool2d.*filter_size"):
        ann.BlurPool2d(filter_size=0)
    with pytest.raises(ValueError, match=r"BlurPool2d.*'channels'"):
        ann.BlurPool2d(0)
    with pytest.raises(ValueError, match=r"BlurPool1d.*padding"):
        ann.BlurPool1d(padding="wide")
    with pytest.raises(ValueError, match=r"BlurPool2d.*'input'.*\(N, C, H, W\)"):
        ann.BlurPool2d()(torch.randn(1, 8))
    with pytest.raises(ValueError, match=r"blur_pool.*padding_mode"):
        blur_pool(torch.randn(1, 1, 8), padding_mode="mirror")
    with pytest.raises(ValueError, match="blur_pool"):
        blur_pool(torch.randn(1, 1, 2), 5, padding="same", padding_mode="reflect")


def _zhang_blurpool(x, channels, filt_size, stride):
    """Zhang's ``antialiased_cnns.BlurPool(channels, pad_type='reflect', filt_size, stride)``
    written out from its published source: reflect-pad ``[(k-1)//2, ceil((k-1)/2)]`` on each
    axis, then a depthwise conv with the normalised outer product of a Pascal row."""
    row = torch.tensor([comb(filt_size - 1, i) for i in range(filt_size)], dtype=x.dtype)
    filt = row[:, None] * row[None, :]
    filt = (filt / filt.sum())[None, None].repeat(channels, 1, 1, 1)
    lo, hi = (filt_size - 1) // 2, int(np.ceil((filt_size - 1) / 2))
    padded = torch.nn.functional.pad(x, [lo, hi, lo, hi], mode="reflect")
    return torch.nn.functional.conv2d(padded, filt, stride=stride, groups=channels)


@pytest.mark.parametrize("filt_size", [2, 3, 4, 5])
@pytest.mark.parametrize("n", [8, 9])
def test_blurpool_takes_channels_first_as_antialiased_cnns(filt_size, n):
    """``BlurPool2d(64)`` means 64 channels, as in Zhang's library; with his padding it is
    his layer, and with the default "same" it differs only for odd filters on even sizes."""
    x = torch.randn(2, 4, n, n, dtype=torch.float64)
    want = _zhang_blurpool(x, 4, filt_size, 2)
    pads = ((filt_size - 1) // 2, filt_size // 2)
    layer = ann.BlurPool2d(4, filter_size=filt_size, padding=(pads, pads))
    assert layer.channels == 4 and layer.kernel_size == (filt_size, filt_size)
    torch.testing.assert_close(layer(x), want, rtol=0, atol=1e-12)
    same = ann.BlurPool2d(4, filter_size=filt_size)(x)
    assert same.shape == want.shape
    if filt_size % 2 == 0 or n % 2 == 1:
        torch.testing.assert_close(same, want, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match=r"BlurPool2d\(\): the layer was built for 4 channels"):
        layer(torch.randn(1, 3, n, n, dtype=torch.float64))
    with pytest.raises(TypeError):
        ann.BlurPool2d(4, filt_size)  # the filter size is keyword-only


def _overhanging_max(x, k, s, p, out):
    """Brute force: max pooling's windows at stride 1, each over the input elements it
    covers (padding never wins): the ``n + 2p - k + 1`` of floor mode, and as many more as
    the ``out`` windows of ceil mode reach, up to ``(out - 1) * s + 1``."""
    n = x.shape[-1]
    count = max(n + 2 * p - k + 1, (out - 1) * s + 1)
    y = np.full((*x.shape[:2], count, count), -np.inf)
    for i in range(count):
        for j in range(count):
            rows = [r for r in range(i - p, i - p + k) if 0 <= r < n]
            cols = [c for c in range(j - p, j - p + k) if 0 <= c < n]
            y[:, :, i, j] = x[:, :, rows][:, :, :, cols].max(axis=(2, 3))
    return y


@pytest.mark.parametrize(("k", "s", "p"), [(2, 2, 0), (3, 2, 1), (3, 3, 0), (2, 3, 1)])
@pytest.mark.parametrize("n", [5, 6, 7, 8])
def test_max_blur_pool_ceil_mode_is_a_drop_in_for_max_pooling(k, s, p, n):
    x = torch.randn(2, 3, n, n, dtype=torch.float64)
    want_shape = torch.nn.MaxPool2d(k, s, p, ceil_mode=True)(x).shape
    layer = ann.MaxBlurPool2d(k, s, p, ceil_mode=True, padding_mode="replicate")
    y = layer(x)
    assert y.shape == want_shape
    stage = _overhanging_max(x.numpy(), k, s, p, want_shape[-1])
    m = stage.shape[-1]
    total = max((-(-m // s) - 1) * s + 3 - m, 0)  # "same" for the 3-tap blur, by hand
    pads = [(total // 2, total - total // 2)] * 2
    ref = _reference(stage, (3, 3), (s, s), pads, "replicate")
    np.testing.assert_allclose(y.numpy(), ref, atol=1e-12)
    assert "ceil_mode=True" in repr(layer)


def test_max_blur_pool_names_itself_and_its_axes():
    with pytest.raises(ValueError, match=r"^MaxBlurPool\(\): argument 'input' .*pools 2 spatial"):
        ann.MaxBlurPool(2, 2)(torch.randn(4, 9))
    with pytest.raises(ValueError, match=r"^MaxBlurPool1d\(\): argument 'input'"):
        ann.MaxBlurPool1d(2)(torch.randn(1, 1, 4, 9))
    assert ann.MaxBlurPool((2,), (2,)).ndim == 1  # a tuple kernel gives the axes
    assert ann.MaxBlurPool(2, ndim=1)(torch.randn(1, 4, 9)).shape == (1, 4, 4)
