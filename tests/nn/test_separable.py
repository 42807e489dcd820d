"""SeparableConv2d/3d: shapes, parameter counts, and from_conv against torch's own layers."""

from __future__ import annotations

import pytest
import torch

import anyconv
from anyconv.functional.separable import factorize, reconstruct
from anyconv.nn.separable import SeparableConv2d, SeparableConv3d


@pytest.mark.parametrize("cls, kernel", [(SeparableConv2d, (3, 5)), (SeparableConv3d, (3, 2, 4))])
@pytest.mark.parametrize("rank, bias", [(1, True), (3, False)])
def test_shapes_and_num_parameters(cls, kernel, rank, bias):
    layer = cls(3, 5, kernel, rank=rank, padding="same", bias=bias)
    assert [tuple(f.shape) for f in layer.factors] == [(5, 3, rank, k) for k in kernel]
    assert layer.num_parameters == 5 * 3 * rank * sum(kernel) + 5 * bias
    x = torch.randn(2, 3, *(6,) * len(kernel))
    assert layer(x).shape == (2, 5, *(6,) * len(kernel))
    assert layer.weight.shape == (5, 3, *kernel)
    torch.testing.assert_close(
        layer(x), anyconv.conv(x, layer.weight, layer.bias, padding="same"), atol=1e-5, rtol=1e-5
    )


def test_initialisation_matches_torch_conv_variance():
    layer = SeparableConv2d(32, 32, 5, rank=2)
    target = 1 / (3 * 32 * 25)  # variance of torch.nn.Conv2d's U(-1/sqrt(fan_in), ..)
    assert 0.8 < layer.weight.var().item() / target < 1.25
    bound = 1 / (32 * 25) ** 0.5
    assert layer.bias.abs().max() <= bound


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"padding": 2, "stride": 2},
        {"padding": "same", "dilation": 2, "padding_mode": "reflect"},
        {"padding": (1, 0), "stride": (1, 2), "bias": False, "padding_mode": "circular"},
    ],
)
def test_from_conv2d_full_rank_equals_the_original(kwargs, device):
    torch.manual_seed(0)
    dense = torch.nn.Conv2d(3, 4, (3, 4), dtype=torch.float64, **kwargs).to(device)
    layer = SeparableConv2d.from_conv(dense, rank=3)
    assert layer.factors[0].dtype == torch.float64 and layer.rank == 3
    assert layer.factors[0].device.type == device
    x = torch.randn(2, 3, 9, 10, dtype=torch.float64, device=device, requires_grad=True)
    torch.testing.assert_close(layer(x), dense(x), atol=1e-12, rtol=1e-12)
    (g_got,) = torch.autograd.grad(layer(x).sum(), x)
    (g_want,) = torch.autograd.grad(dense(x).sum(), x)
    torch.testing.assert_close(g_got, g_want, atol=1e-12, rtol=1e-12)


def test_from_conv3d_full_rank_equals_the_original():
    torch.manual_seed(1)
    dense = torch.nn.Conv3d(2, 3, 3, padding=(2, 1, 1), stride=(1, 2, 1), dtype=torch.float64)
    layer = SeparableConv3d.from_conv(dense, rank=9)
    x = torch.randn(1, 2, 5, 6, 7, dtype=torch.float64)
    torch.testing.assert_close(layer(x), dense(x), atol=1e-12, rtol=1e-12)


def test_from_conv_low_rank_is_the_factorisation():
    dense = torch.nn.Conv2d(3, 4, 5)
    layer = SeparableConv2d.from_conv(dense, rank=2)
    torch.testing.assert_close(layer.weight, reconstruct(factorize(dense.weight, 2).factors))
    err = (layer.weight - dense.weight).norm() / dense.weight.norm()
    assert 0 < err < 1


def test_from_conv_honours_flip():
    class FlippedConv(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.randn(2, 1, 3, 3, dtype=torch.float64))
            self.bias, self.stride, self.padding, self.dilation = None, 1, "same", 1
            self.flip = True

    conv = FlippedConv()
    layer = SeparableConv2d.from_conv(conv, rank=3)
    x = torch.randn(1, 1, 6, 6, dtype=torch.float64)
    ref = anyconv.conv(x, conv.weight, padding="same", flip=True)
    torch.testing.assert_close(layer(x), ref, atol=1e-12, rtol=1e-12)


def test_training_step_and_state_dict_round_trip():
    layer = SeparableConv3d(2, 3, 3, rank=2, padding=("causal", "same", "same"))
    layer(torch.randn(1, 2, 4, 5, 5)).square().mean().backward()
    assert all(f.grad is not None and f.grad.abs().sum() > 0 for f in layer.factors)
    copy = SeparableConv3d(2, 3, 3, rank=2, padding=("causal", "same", "same"))
    copy.load_state_dict(layer.state_dict())
    torch.testing.assert_close(copy.weight, layer.weight)


def test_extra_repr():
    text = repr(
        SeparableConv2d(3, 8, 3, rank=2, padding="same", bias=False, padding_mode="reflect")
    )
    for part in (
        "3, 8",
        "kernel_size=(3, 3)",
        "rank=2",
        "padding='same'",
        "bias=False",
        "padding_mode='reflect'",
    ):
        assert part in text


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda: SeparableConv2d(0, 2, 3), "in_channels"),
        (lambda: SeparableConv2d(2, 2.0, 3), "out_channels"),
        (lambda: SeparableConv2d(2, 2, (3, 3, 3)), "kernel_size"),
        (lambda: SeparableConv2d(2, 2, 3, rank=0), "rank"),
        (lambda: SeparableConv2d(2, 2, 3, padding="half"), "padding"),
        (lambda: SeparableConv2d(2, 2, 3, padding_mode="mirror"), "padding_mode"),
        (lambda: SeparableConv2d(2, 2, 3, bias=1), "bias"),
        (lambda: SeparableConv2d.from_conv(torch.nn.Conv2d(4, 4, 3, groups=2), 1), "groups"),
        (lambda: SeparableConv3d.from_conv(torch.nn.Conv2d(4, 4, 3), 1), "conv"),
        (lambda: SeparableConv2d.from_conv(torch.nn.Conv2d(4, 4, 3), 4), "rank"),
    ],
)
def test_argument_errors(call, arg):
    with pytest.raises((ValueError, TypeError), match=arg):
        call()
