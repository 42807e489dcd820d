"""Pooling modules: PyTorch parity, delegation to the functional core, repr and errors."""

from __future__ import annotations

import doctest

import pytest
import torch

import anyconv.functional.pool as fpool
import anyconv.nn.pool as npool
from anyconv.nn import BlurPool1d, BlurPool2d, WindowLayer
from anyconv.nn.pool import (
    AvgPool1d,
    AvgPool2d,
    AvgPool3d,
    ChannelMaxPool,
    GlobalAvgPool,
    GlobalMaxPool,
    LPPool1d,
    LPPool2d,
    LPPool3d,
    MaxPool1d,
    MaxPool2d,
    MaxPool3d,
    SoftPool1d,
    SoftPool2d,
    SoftPool3d,
)

SHAPES = {1: (2, 3, 11), 2: (2, 3, 9, 8), 3: (2, 3, 6, 5, 7)}


def forward_backward_match(ours, theirs, x, device):
    """``ours`` on ``device`` gives PyTorch's module's output and input gradient on the CPU."""
    x = x.requires_grad_()
    want = theirs(x)
    grad_out = torch.randn_like(want)
    (g_want,) = torch.autograd.grad(want, x, grad_out)
    xd = x.detach().to(device).requires_grad_()
    got = ours(xd)
    (g_got,) = torch.autograd.grad(got, xd, grad_out.to(device))
    assert got.device.type == device
    torch.testing.assert_close(got.cpu(), want)
    torch.testing.assert_close(g_got.cpu(), g_want)


@pytest.mark.parametrize(
    ("ours", "theirs", "ndim"),
    [
        (MaxPool1d, torch.nn.MaxPool1d, 1),
        (MaxPool2d, torch.nn.MaxPool2d, 2),
        (MaxPool3d, torch.nn.MaxPool3d, 3),
    ],
)
@pytest.mark.parametrize("ceil_mode", [False, True])
def test_max_pool_modules_match_torch(ours, theirs, ndim, ceil_mode, device):
    a = ours(3, stride=2, padding=1, dilation=1, ceil_mode=ceil_mode)
    b = theirs(3, stride=2, padding=1, dilation=1, ceil_mode=ceil_mode)
    forward_backward_match(a, b, torch.randn(*SHAPES[ndim]), device)


@pytest.mark.parametrize(
    ("ours", "theirs", "ndim"),
    [
        (AvgPool1d, torch.nn.AvgPool1d, 1),
        (AvgPool2d, torch.nn.AvgPool2d, 2),
        (AvgPool3d, torch.nn.AvgPool3d, 3),
    ],
)
@pytest.mark.parametrize(("ceil_mode", "count_include_pad"), [(False, True), (True, False)])
def test_avg_pool_modules_match_torch(ours, theirs, ndim, ceil_mode, count_include_pad, device):
    args = (2, 2, 1, ceil_mode, count_include_pad)  # same positional order as PyTorch
    forward_backward_match(ours(*args), theirs(*args), torch.randn(*SHAPES[ndim]), device)


@pytest.mark.parametrize(
    ("ours", "theirs", "ndim"),
    [
        (LPPool1d, torch.nn.LPPool1d, 1),
        (LPPool2d, torch.nn.LPPool2d, 2),
        (LPPool3d, torch.nn.LPPool3d, 3),
    ],
)
def test_lp_pool_modules_match_torch(ours, theirs, ndim, device):
    forward_backward_match(ours(2, 2), theirs(2, 2), torch.randn(*SHAPES[ndim]), device)


@pytest.mark.parametrize(("module", "ndim"), [(SoftPool1d, 1), (SoftPool2d, 2), (SoftPool3d, 3)])
@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "ceil_mode"),
    [
        (2, None, 0, True),
        (3, 2, "same", False),
        (2, None, "causal", False),
    ],
)
def test_soft_pool_modules_call_functional(
    module, ndim, kernel, stride, padding, ceil_mode, device
):
    x = torch.randn(*SHAPES[ndim]) * 100
    y = module(kernel, stride, padding, ceil_mode)(x.to(device))
    want = fpool.soft_pool(x, kernel, stride, padding, ceil_mode)
    assert y.device.type == device
    torch.testing.assert_close(y.cpu(), want)
    assert torch.isfinite(y).all()


def test_mixed_padding_rules_in_3d():
    x = torch.randn(1, 2, 8, 9, 9)
    layer = MaxPool3d(3, stride=(1, 2, 2), padding=("causal", "same", "same"))
    assert layer(x).shape == (1, 2, 8, 5, 5)
    # Causal in time: output step t never looks at input steps after t.
    x.requires_grad_()
    layer(x)[:, :, 3].sum().backward()
    assert x.grad[:, :, 4:].abs().sum() == 0


@pytest.mark.parametrize("keepdim", [False, True])
def test_global_pool_modules(keepdim):
    x = torch.randn(2, 4, 3, 5)
    torch.testing.assert_close(GlobalAvgPool(keepdim)(x), x.mean((2, 3), keepdim=keepdim))
    torch.testing.assert_close(GlobalMaxPool(keepdim)(x), x.amax((2, 3), keepdim=keepdim))


def test_channel_max_pool_module():
    x = torch.randn(2, 6, 4)
    torch.testing.assert_close(ChannelMaxPool(3)(x), x.view(2, 2, 3, 4).amax(2))


def test_modules_have_no_parameters_and_a_repr():
    layers = [
        MaxPool2d(3, 2, "same", dilation=2),
        AvgPool1d(2, count_include_pad=False),
        LPPool3d(2.5, 2),
        SoftPool2d(2, ceil_mode=True),
        GlobalAvgPool(keepdim=True),
        GlobalMaxPool(),
        ChannelMaxPool(4),
    ]
    for layer in layers:
        assert layer.num_parameters == 0
    assert repr(layers[0]) == (
        "MaxPool2d(kernel_size=(3, 3), stride=(2, 2), "
        "padding='same', dilation=(2, 2), ceil_mode=False)"
    )
    assert "count_include_pad=False" in repr(layers[1])
    assert repr(layers[2]).startswith("LPPool3d(norm_type=2.5, kernel_size=(2, 2, 2)")
    assert repr(layers[3]) == (
        "SoftPool2d(kernel_size=(2, 2), stride=(2, 2), padding=0, ceil_mode=True)"
    )
    assert repr(layers[4]) == "GlobalAvgPool(keepdim=True)"
    assert repr(layers[6]) == "ChannelMaxPool(pool_size=4)"


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (lambda: MaxPool2d((2, 2, 2)), ValueError, r"MaxPool2d\(\): argument 'kernel_size'"),
        (lambda: AvgPool1d(2, stride=-1), ValueError, "'stride'"),
        (lambda: SoftPool3d(2, padding="half"), ValueError, "'padding'.*'causal'"),
        (lambda: SoftPool1d(2, ceil_mode="no"), TypeError, "'ceil_mode'"),
        (lambda: AvgPool2d(2, count_include_pad=0), TypeError, "'count_include_pad'"),
        (lambda: LPPool2d(-2, 2), ValueError, r"LPPool2d\(\): argument 'norm_type'"),
        (lambda: MaxPool1d(2, dilation=0), ValueError, "'dilation'"),
        (lambda: GlobalAvgPool(keepdim=1), TypeError, "'keepdim'"),
        (lambda: ChannelMaxPool(0), ValueError, "'pool_size'"),
        (lambda: ChannelMaxPool("2"), TypeError, "'pool_size'"),
    ],
)
def test_bad_arguments_fail_at_construction(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_wrong_input_rank_names_the_input():
    with pytest.raises(ValueError, match=r"MaxPool2d\(\): argument 'input'.*\(4 or 3 dims\)"):
        MaxPool2d(2)(torch.randn(8, 8))
    assert MaxPool2d(2)(torch.randn(3, 8, 8)).shape == (3, 4, 4)  # unbatched, as torch.nn
    with pytest.raises(ValueError, match=r"'pool_size'.*dividing the 5"):
        ChannelMaxPool(2)(torch.randn(1, 5, 3))


@pytest.mark.parametrize("module", [fpool, npool])
def test_docstring_examples(module):
    result = doctest.testmod(module, extraglobs={"torch": torch}, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


@pytest.mark.parametrize(
    ("layer", "size"),
    [
        (npool.MaxPool1d(3, stride=2, padding="same", ceil_mode=True), (9,)),
        (npool.AvgPool2d((3, 2), padding=("causal", 1), dilation=(1, 2)), (7, 8)),
        (npool.LPPool2d(2, 2, ceil_mode=True), (5, 5)),
        (npool.SoftPool3d(2, stride=(1, 2, 2)), (3, 6, 5)),
        (BlurPool2d(stride=2), (7, 6)),
        (BlurPool1d(filter_size=5, padding="causal"), (11,)),
    ],
)
def test_spec_is_the_geometry_the_layer_computes_with(layer, size):
    """Pooling and blur layers answer ``spec(input_size)`` as convolutions do, so the
    analysis asks them for their geometry."""
    assert isinstance(layer, WindowLayer)
    spec = layer.spec(size)
    assert spec.out_shape == tuple(layer(torch.rand(1, 2, *size)).shape[2:])
    assert spec.kernel_size == tuple(layer.kernel_size) and spec.in_shape == size
