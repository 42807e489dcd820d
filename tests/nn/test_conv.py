"""nn.Conv*, depthwise / pointwise / separable blocks, Inception and convert()."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from reference import conv_reference, rel_err

import anyconv
from anyconv.nn import (
    Conv1d,
    Conv2d,
    Conv3d,
    ConvNd,
    DepthwiseConv,
    DepthwiseSeparableConv,
    Inception,
    PointwiseConv,
    convert,
)

TORCH = {1: torch.nn.Conv1d, 2: torch.nn.Conv2d, 3: torch.nn.Conv3d}
OURS = {1: Conv1d, 2: Conv2d, 3: Conv3d}


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_same_initialisation_and_state_dict_as_torch(ndim, mode, device):
    kw = dict(stride=2, padding=1, dilation=1, groups=2, bias=True, padding_mode=mode)
    torch.manual_seed(0)
    theirs = TORCH[ndim](4, 6, 3, **kw)
    torch.manual_seed(0)
    ours = OURS[ndim](4, 6, 3, **kw)
    # Same names, shapes and initialisation (the same RNG draws in the same order).
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in theirs.state_dict().items()
    }
    assert all(torch.equal(ours.state_dict()[k], v) for k, v in theirs.state_dict().items())
    fresh = OURS[ndim](4, 6, 3, **kw)
    fresh.load_state_dict(theirs.state_dict())
    x = torch.randn(2, 4, *(9,) * ndim, requires_grad=True)
    want = theirs(x)
    (g_want,) = torch.autograd.grad(want.sum(), x)
    xd = x.detach().to(device).requires_grad_()
    got = fresh.to(device)(xd)
    (g_got,) = torch.autograd.grad(got.sum(), xd)
    assert got.device.type == device
    assert torch.allclose(got.cpu(), want, atol=1e-6)
    assert torch.allclose(g_got.cpu(), g_want, atol=1e-5)


@pytest.mark.parametrize("algorithm", ["native", "direct", "im2col", "fft"])
def test_layer_passes_every_option_to_conv(algorithm, device):
    layer = Conv2d(
        4,
        6,
        (3, 2),
        stride=(2, 1),
        padding=("same", (1, 0)),
        dilation=(1, 2),
        groups=2,
        padding_mode="replicate",
        flip=True,
        algorithm=algorithm,
    )
    layer.double()
    x = torch.randn(2, 4, 9, 8, dtype=torch.float64)
    want = conv_reference(
        x.numpy(),
        layer.weight.detach().numpy(),
        layer.bias.detach().numpy(),
        stride=(2, 1),
        padding=("same", (1, 0)),
        dilation=(1, 2),
        groups=2,
        padding_mode="replicate",
        flip=True,
    )
    y = layer.to(device)(x.to(device))
    assert y.device.type == device and rel_err(y, want) <= 1e-12


def test_convert_swaps_every_conv_and_keeps_outputs():
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 5, padding=2, padding_mode="reflect"),
        torch.nn.ReLU(),
        torch.nn.Sequential(
            torch.nn.Conv2d(8, 8, 3, padding="same", groups=4, bias=False), torch.nn.BatchNorm2d(8)
        ),
        torch.nn.Conv2d(8, 4, 3, stride=2, dilation=2, padding="valid"),
        torch.nn.ConvTranspose2d(4, 2, 2),
    ).eval()
    x = torch.randn(2, 3, 20, 20)
    before = net(x)
    params = list(net.parameters())
    convert(net)
    assert type(net[0]) is Conv2d and type(net[2][0]) is Conv2d and type(net[3]) is Conv2d
    assert type(net[4]) is anyconv.nn.ConvTranspose2d
    assert all(a is b for a, b in zip(params, net.parameters()))  # optimisers keep working
    assert torch.equal(net(x), before)
    net[3].algorithm = "fft"
    assert torch.allclose(net(x), before, atol=1e-5)


def test_convert_1d_and_3d():
    for ndim in (1, 3):
        layer = TORCH[ndim](2, 3, 3, padding=1)
        x = torch.randn(1, 2, *(6,) * ndim)
        assert torch.equal(convert(layer)(x), layer(x))


def test_num_parameters_closed_forms():
    k, c_in, c_out, g = 3, 8, 12, 4
    assert Conv2d(c_in, c_out, k, groups=g).num_parameters == k**2 * c_in // g * c_out + c_out
    assert Conv3d(c_in, c_out, k, bias=False).num_parameters == k**3 * c_in * c_out
    assert DepthwiseConv(c_in, k, multiplier=2).num_parameters == k**2 * 2 * c_in + 2 * c_in
    assert PointwiseConv(c_in, c_out, ndim=1).num_parameters == c_in * c_out + c_out
    block = DepthwiseSeparableConv(c_in, c_out, k)
    assert block.num_parameters == (k**2 * c_in + c_in) + (c_in * c_out + c_out)
    # versus the ordinary conv it replaces: the MobileNet saving
    assert block.num_parameters < Conv2d(c_in, c_out, k).num_parameters / 4


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_depthwise_separable_is_depthwise_then_pointwise(ndim, device):
    block = DepthwiseSeparableConv(4, 6, 3, ndim=ndim, multiplier=2, stride=2, padding="same")
    block = block.to(device, torch.float64)
    x = torch.randn(2, 4, *(7,) * ndim, dtype=torch.float64, device=device)
    mid = anyconv.conv(
        x, block.depthwise.weight, block.depthwise.bias, stride=2, padding="same", groups=4
    )
    want = anyconv.conv(mid, block.pointwise.weight, block.pointwise.bias)
    assert torch.allclose(block(x), want, atol=1e-12)
    # and depthwise is an ordinary grouped conv, checked against PyTorch
    torch_dw = (F.conv1d, F.conv2d, F.conv3d)[ndim - 1]
    xp = anyconv.pad(x, anyconv.resolve_padding(x.shape[2:], 3, stride=2, padding="same"))
    assert torch.allclose(
        mid,
        torch_dw(xp, block.depthwise.weight, block.depthwise.bias, stride=2, groups=4),
        atol=1e-12,
    )


def test_mobilenet_style_block_with_norm_and_activation():
    block = DepthwiseSeparableConv(4, 8, 3, norm=True, activation=torch.nn.ReLU)
    y = block(torch.randn(3, 4, 8, 8))
    assert y.shape == (3, 8, 8, 8) and (y >= 0).all()
    assert block.depthwise.bias is None  # batch norm supplies the shift


def test_circular_conv_is_exactly_shift_equivariant():
    layer = Conv2d(3, 5, 5, padding="same", padding_mode="circular")
    x = torch.randn(2, 3, 16, 16)
    for shift in [(1, 0), (3, 5), (-2, 7)]:
        a = layer(torch.roll(x, shift, dims=(2, 3)))
        b = torch.roll(layer(x), shift, dims=(2, 3))
        assert (a - b).abs().max() <= 1e-6


def test_causal_padding_is_causal_in_1d_and_in_time_for_video():
    conv1 = Conv1d(2, 3, 4, dilation=2, padding="causal")
    x = torch.randn(1, 2, 20, requires_grad=True)
    y = conv1(x)
    for t in (0, 7, 19):
        (grad,) = torch.autograd.grad(y[..., t].sum(), x, retain_graph=True)
        assert torch.all(grad[..., t + 1 :] == 0) and grad[..., t].abs().sum() > 0
    conv3 = Conv3d(2, 3, 3, padding=("causal", "same", "same"))
    v = torch.randn(1, 2, 6, 8, 8, requires_grad=True)
    (grad,) = torch.autograd.grad(conv3(v)[:, :, 2].sum(), v)
    assert torch.all(grad[:, :, 3:] == 0) and grad[:, :, 2].abs().sum() > 0


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_inception_concatenates_its_four_branches(ndim):
    block = Inception(6, 2, 3, 4, 2, 3, 5, ndim=ndim)
    x = torch.randn(2, 6, *(7,) * ndim)
    y = block(x)
    assert y.shape == (2, 2 + 4 + 3 + 5, *(7,) * ndim) and block.out_channels == 14
    pooled = anyconv.functional.pool.max_pool(x, 3, stride=1, padding="same")
    parts = [block.branch1(x), block.branch3(x), block.branch5(x), block.pool_proj(pooled)]
    assert torch.equal(y, torch.cat(parts, 1))
    # the 3x3 branch really is 3 wide and the 5x5 branch 5 wide
    assert block.branch3[1][0].kernel_size == (3,) * ndim
    assert block.branch5[1][0].kernel_size == (5,) * ndim


def test_extra_repr_shows_non_defaults():
    text = repr(Conv2d(3, 8, 3, padding="same", flip=True, algorithm="fft", bias=False))
    assert "padding='same'" in text and "flip=True" in text and "algorithm='fft'" in text
    assert "bias=False" in text and "groups" not in text


@pytest.mark.parametrize(
    ("make", "error", "word"),
    [
        (lambda: Conv2d(0, 4, 3), ValueError, "in_channels"),
        (lambda: Conv2d(4, 4.0, 3), TypeError, "out_channels"),
        (lambda: Conv2d(4, 4, (3, 3, 3)), ValueError, "kernel_size"),
        (lambda: Conv2d(4, 6, 3, groups=4), ValueError, "groups"),
        (lambda: Conv2d(4, 4, 3, padding="sme"), ValueError, "padding"),
        (lambda: Conv2d(4, 4, 3, padding_mode="mirror"), ValueError, "padding_mode"),
        (lambda: Conv2d(4, 4, 3, algorithm="winograd"), ValueError, "algorithm"),
        (lambda: Conv2d(4, 4, 3, bias="yes"), TypeError, "bias"),
        (lambda: ConvNd(4, 4, 3, ndim=4), ValueError, "ndim"),
        (lambda: DepthwiseConv(4, 3, multiplier=0), ValueError, "multiplier"),
        (lambda: Inception(4, 1, 1, 1, 1, 1, 0), ValueError, "pool_proj"),
        (lambda: anyconv.nn.conv.from_torch(torch.nn.Linear(2, 2)), TypeError, "layer"),
    ],
)
def test_constructor_errors_name_the_argument(make, error, word):
    with pytest.raises(error, match=word):
        make()


def test_forward_errors_come_from_anyconv():
    with pytest.raises(ValueError, match="'input'"):
        Conv2d(3, 4, 3)(torch.randn(1, 5, 8, 8))
