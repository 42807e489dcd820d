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
def test_blur_pool_against_scipy(spatial, size, stride, padding, pads, mode, channels):
    x = torch.randn(2, channels, *spatial, dtype=torch.float64)
    y = blur_pool(x, size, stride, padding, mode)
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
    assert ann.BlurPool3d(5).filter.shape == (5, 5, 5)
    with pytest.raises(ValueError, match=r"BlurPool2d.*filter_size"):
        ann.BlurPool2d(0)
    with pytest.raises(ValueError, match=r"BlurPool1d.*padding"):
        ann.BlurPool1d(padding="wide")
    with pytest.raises(ValueError, match=r"BlurPool2d.*input"):
        ann.BlurPool2d()(torch.randn(1, 1, 8))
    with pytest.raises(ValueError, match=r"blur_pool.*padding_mode"):
        blur_pool(torch.randn(1, 1, 8), padding_mode="mirror")
    with pytest.raises(ValueError, match="blur_pool"):
        blur_pool(torch.randn(1, 1, 2), 5, padding="same", padding_mode="reflect")
