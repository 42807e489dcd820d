"""nn.ConvTranspose*: drop-ins for torch.nn's, every padding rule, convert()."""

from __future__ import annotations

import pytest
import torch
from reference import conv_transpose_reference, rel_err

import anyconv
from anyconv.nn import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d, convert

TORCH = {1: torch.nn.ConvTranspose1d, 2: torch.nn.ConvTranspose2d, 3: torch.nn.ConvTranspose3d}
OURS = {1: ConvTranspose1d, 2: ConvTranspose2d, 3: ConvTranspose3d}


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize(
    "kw",
    [
        dict(stride=2, padding=1, output_padding=1, groups=2, dilation=1),
        dict(stride=1, padding=2, output_padding=1, groups=1, dilation=2, bias=False),
    ],
)
def test_same_initialisation_state_dict_and_outputs_as_torch(ndim, kw, device):
    torch.manual_seed(0)
    theirs = TORCH[ndim](4, 6, 3, **kw)
    torch.manual_seed(0)
    ours = OURS[ndim](4, 6, 3, **kw)
    # same names, shapes and initialisation (the same RNG draws in the same order)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert all(torch.equal(ours.state_dict()[k], v) for k, v in theirs.state_dict().items())
    fresh = OURS[ndim](4, 6, 3, **kw)
    fresh.load_state_dict(theirs.state_dict())
    assert fresh.num_parameters == sum(p.numel() for p in theirs.parameters())
    x = torch.randn(2, 4, *(5,) * ndim, requires_grad=True)
    want = theirs(x)
    (g_want,) = torch.autograd.grad(want.sum(), x)
    xd = x.detach().to(device).requires_grad_()
    got = fresh.to(device)(xd)
    (g_got,) = torch.autograd.grad(got.sum(), xd)
    assert got.shape == want.shape and got.device.type == device
    assert torch.allclose(got.cpu(), want, atol=1e-5)
    assert torch.allclose(g_got.cpu(), g_want, atol=1e-5)
    # forward(x, output_size) as torch's, batched and unbatched
    size = tuple(n - kw["output_padding"] for n in want.shape[2:])  # the smallest size
    assert torch.allclose(fresh.cpu()(x, output_size=size), theirs(x, output_size=size), atol=1e-5)
    one = x[0].detach()
    assert torch.allclose(fresh(one), theirs(one), atol=1e-5)
    assert torch.allclose(
        fresh(one, output_size=(6, *size)), theirs(one, output_size=(6, *size)), atol=1e-5
    )


@pytest.mark.parametrize("algorithm", ["native", "direct", "im2col", "fft", "matrix"])
def test_every_padding_rule_and_option_reaches_conv_transpose(algorithm):
    layer = ConvTranspose2d(
        4,
        6,
        (3, 2),
        stride=(2, 3),
        padding=("same", (2, 0)),
        groups=2,
        dilation=(1, 2),
        flip=True,
        algorithm=algorithm,
    ).double()
    x = torch.randn(2, 4, 5, 4, dtype=torch.float64)
    y = layer(x)
    # "same" gives 5*2; (2, 0) gives PyTorch's formula (4 - 1)*3 + 3 - 2
    assert y.shape == (2, 6, 10, 10)
    want = conv_transpose_reference(
        x,
        layer.weight.detach(),
        layer.bias.detach(),
        out=(10, 10),
        stride=(2, 3),
        padding=("same", (2, 0)),
        groups=2,
        dilation=(1, 2),
        flip=True,
    )
    assert rel_err(y, want) <= 1e-12
    # the layer is the adjoint of the conv with its arguments
    u = torch.randn(2, 6, 10, 10, dtype=torch.float64)
    conv_u = anyconv.conv(
        u,
        layer.weight,
        stride=(2, 3),
        padding=("same", (2, 0)),
        groups=2,
        dilation=(1, 2),
        flip=True,
    )
    bias = layer.bias.view(-1, 1, 1)
    assert torch.allclose((conv_u * x).sum(), (u * (y - bias)).sum())


def test_other_borders_are_refused_with_the_reason():
    with pytest.raises(ValueError, match=r"'padding_mode' must be 'zeros' .*scatters its input"):
        ConvTranspose2d(2, 2, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="'output_padding' must be"):
        ConvTranspose2d(2, 2, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="must be 0 on spatial axis 0"):
        ConvTranspose1d(2, 2, 3, stride=2, padding="same", output_padding=1)
    with pytest.raises(ValueError, match="'input' must be a tensor of shape"):
        ConvTranspose2d(2, 2, 3)(torch.randn(1, 1, 2, 5, 5))


def test_convert_swaps_transposed_convolutions_and_keeps_outputs():
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.ConvTranspose2d(3, 8, 4, stride=2, padding=1),
        torch.nn.ReLU(),
        torch.nn.Sequential(torch.nn.ConvTranspose1d(8, 4, 3, groups=4, dilation=2)),
        torch.nn.ConvTranspose3d(2, 2, 3, stride=(1, 2, 2), output_padding=(0, 1, 1)),
    )
    params = list(net.parameters())
    x2, x1, x3 = torch.randn(2, 3, 6, 6), torch.randn(2, 8, 9), torch.randn(1, 2, 3, 4, 4)
    before = net[0](x2), net[2](x1), net[3](x3)
    convert(net)
    assert [type(m) for m in (net[0], net[2][0], net[3])] == [
        ConvTranspose2d,
        ConvTranspose1d,
        ConvTranspose3d,
    ]
    assert all(a is b for a, b in zip(params, net.parameters()))  # optimisers keep working
    after = net[0](x2), net[2](x1), net[3](x3)
    assert all(torch.equal(a, b) for a, b in zip(after, before))
    net[0].padding = "same"  # now an anyconv layer: any rule
    assert net[0](x2).shape == (2, 8, 12, 12)


def test_num_parameters_and_repr():
    layer = ConvTranspose2d(8, 12, 3, stride=2, groups=4, output_padding=1)
    assert layer.num_parameters == 8 * (12 // 4) * 9 + 12
    assert repr(layer) == (
        "ConvTranspose2d(8, 12, kernel_size=(3, 3), stride=(2, 2), padding=0, groups=4, "
        "output_padding=(1, 1))"
    )
