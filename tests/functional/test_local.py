"""Locally connected convolution against the float64 brute-force reference, identities,
equivariance, gradients and error messages."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from reference import conv_reference
from strategies import (
    GRADCHECK_CASES,
    assert_layout,
    conv_options,
    conv_specs,
    gradcheck_input,
    laid_out,
    make_tensors,
    reference_layout,
)

import anyconv
from anyconv.functional.local import locally_connected

# locally connected and tiled layers have no ``flip``; their brute-force checks run in float64
LOCAL_SPECS = dict(flip=False, dtypes=(torch.float64,))


def local_tensors(spec):
    """float64 ``(x, w, b)`` of a locally connected layer: a kernel and a bias per output."""
    return make_tensors(
        spec, weight_extra=spec["out"], bias_shape=(spec["out_channels"], *spec["out"])
    )


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(conv_specs(**LOCAL_SPECS))
def test_locally_connected_matches_brute_force(spec):
    x, w, b = local_tensors(spec)
    xin = laid_out(spec, x)  # batched, unbatched or channels_last, as users bring it
    y = locally_connected(xin, w, b, **conv_options(spec))
    ref = conv_reference(x, w, b, local=True, **conv_options(spec))
    assert ref.shape == (spec["batch"], spec["out_channels"], *spec["out"])
    assert_layout(spec, xin, y)
    np.testing.assert_allclose(y.numpy(), reference_layout(spec, ref), rtol=1e-10, atol=1e-10)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(conv_specs(**LOCAL_SPECS))
def test_locally_connected_with_equal_kernels_is_conv(spec):
    ndim = len(spec["kernel"])
    x, w, b = make_tensors(spec)
    w_local = w[(..., *(None,) * ndim)].expand(*w.shape, *spec["out"])
    b_local = None if b is None else b.view(-1, *(1,) * ndim).expand(-1, *spec["out"])
    y = locally_connected(x, w_local, b_local, **conv_options(spec))
    torch.testing.assert_close(y, anyconv.conv(x, w, b, **conv_options(spec)))


def test_locally_connected_is_not_translation_equivariant():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 10, 10)
    w = torch.randn(4, 3, 3, 3, 10, 10)

    def f(v):
        return locally_connected(v, w, padding="same", padding_mode="circular")

    err = (f(x.roll(1, -1)) - f(x).roll(1, -1)).abs().max()
    assert err > 1.0, err


@pytest.mark.parametrize(("ndim", "groups", "stride", "padding", "mode"), GRADCHECK_CASES)
def test_gradcheck(ndim, groups, stride, padding, mode):
    x, kernel, per_group = gradcheck_input(ndim, groups)
    out = anyconv.output_shape(x.shape[2:], kernel, stride=stride, padding=padding)
    kw = dict(stride=stride, padding=padding, groups=groups, padding_mode=mode)
    w = torch.randn(groups, per_group, *kernel, *out, dtype=torch.float64, requires_grad=True)
    b = torch.randn(groups, *out, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda *t: locally_connected(*t, **kw), (x, w, b))


def test_gradient_only_for_what_needs_it():
    torch.manual_seed(0)
    x = torch.randn(2, 2, 5, 5, dtype=torch.float64)
    w = torch.randn(3, 2, 3, 3, 3, 3, dtype=torch.float64, requires_grad=True)
    locally_connected(x, w).sum().backward()
    assert x.grad is None and w.grad is not None
    # the input gradient alone, against autograd through the unfold + einsum recipe
    x.requires_grad_()
    w = w.detach()
    g = torch.randn(2, 3, 3, 3, dtype=torch.float64)
    (gx,) = torch.autograd.grad(locally_connected(x, w), x, g)
    cols = torch.nn.functional.unfold(x, 3).view(2, 2, 9, 9)
    ref = torch.einsum("nckl,ockl->nol", cols, w.reshape(3, 2, 9, 9)).view(2, 3, 3, 3)
    (gx_ref,) = torch.autograd.grad(ref, x, g)
    torch.testing.assert_close(gx, gx_ref)


def test_dtype_float32_close_to_float64():
    torch.manual_seed(0)
    x = torch.randn(2, 4, 9, 9)
    w = torch.randn(6, 2, 3, 3, 5, 5)
    y32 = locally_connected(x, w, stride=2, padding="same", groups=2)
    y64 = locally_connected(x.double(), w.double(), stride=2, padding="same", groups=2)
    torch.testing.assert_close(y32, y64.float(), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda x, w: locally_connected(x.numpy(), w), TypeError, "'input'"),
        (lambda x, w: locally_connected(x.long(), w), TypeError, "'input'"),
        (lambda x, w: locally_connected(x[0, 0], w), ValueError, "'input'"),
        (lambda x, w: locally_connected(x, w[..., 0]), ValueError, r"'weight'.*out_spatial"),
        (
            lambda x, w: locally_connected(x, w, padding="same"),
            ValueError,
            r"'weight'.*\(4, 4\).*\(6, 6\)",
        ),
        (lambda x, w: locally_connected(x, w.double()), TypeError, "'weight'"),
        (lambda x, w: locally_connected(x, w, torch.zeros(3)), ValueError, r"'bias'.*\(3, 4, 4\)"),
        (lambda x, w: locally_connected(x, w, stride=0), ValueError, "'stride'"),
        (lambda x, w: locally_connected(x, w, dilation=(1,)), ValueError, "'dilation'"),
        (lambda x, w: locally_connected(x, w, groups=2), ValueError, "'groups'"),
        (lambda x, w: locally_connected(x, w, padding="middle"), ValueError, "'padding'"),
        (lambda x, w: locally_connected(x, w, padding_mode="mirror"), ValueError, "'padding_mode'"),
    ],
)
def test_errors_name_the_argument(call, error, match):
    x, w = torch.randn(1, 2, 6, 6), torch.randn(3, 2, 3, 3, 4, 4)
    with pytest.raises(error, match=match):
        call(x, w)
