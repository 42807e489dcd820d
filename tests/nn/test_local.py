"""LocallyConnected{1,2,3}d and TiledConv{1,2,3}d: shapes, parameter counts, initialisation,
the float64 brute-force reference, gradients and argument errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from reference import conv_reference
from strategies import conv_options, conv_specs, make_tensors

import anyconv
from anyconv.nn.local import (
    LocallyConnected1d,
    LocallyConnected2d,
    LocallyConnected3d,
    TiledConv1d,
    TiledConv2d,
    TiledConv3d,
)

LOCAL = {1: LocallyConnected1d, 2: LocallyConnected2d, 3: LocallyConnected3d}
TILED = {1: TiledConv1d, 2: TiledConv2d, 3: TiledConv3d}


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(conv_specs(flip=False, dtypes=(torch.float64,), tiles=3))
def test_layers_match_brute_force(spec):
    ndim = len(spec["kernel"])
    opts = conv_options(spec)
    x, _, _ = make_tensors(spec)
    args = (spec["in_channels"], spec["out_channels"], spec["kernel"])
    kw = dict(bias=spec["bias"], dtype=torch.float64, **opts)
    local = LOCAL[ndim](*args, spec["spatial"], **kw)
    b = local.bias.detach() if spec["bias"] else None
    ref = conv_reference(x, local.weight.detach(), b, local=True, **opts)
    np.testing.assert_allclose(local(x).detach().numpy(), ref, rtol=1e-10, atol=1e-10)

    tiled = TILED[ndim](*args, spec["tiles"], **kw)
    b = tiled.bias.detach() if spec["bias"] else None
    ref = conv_reference(x, tiled.weight.detach(), b, tiles=spec["tiles"], **opts)
    np.testing.assert_allclose(tiled(x).detach().numpy(), ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize(
    ("c_in", "c_out", "k", "groups", "bias"),
    [(4, 6, 3, 1, True), (4, 6, 2, 2, False), (3, 5, 1, 1, True)],
)
def test_num_parameters_closed_form(ndim, c_in, c_out, k, groups, bias):
    size, stride = 7, 2
    local = LOCAL[ndim](
        c_in, c_out, k, size, stride=stride, padding="same", groups=groups, bias=bias
    )
    positions = math.ceil(size / stride) ** ndim
    per_kernel = k**ndim * c_in // groups * c_out
    assert local.output_size == (math.ceil(size / stride),) * ndim
    assert local.num_parameters == (per_kernel + c_out * bias) * positions
    tiles = (2, 3, 1)[:ndim]
    tiled = TILED[ndim](c_in, c_out, k, tiles, groups=groups, bias=bias)
    assert tiled.num_parameters == per_kernel * math.prod(tiles) + c_out * bias


def test_shapes_and_initialisation_like_torch():
    local = LocallyConnected2d(6, 8, (3, 2), (10, 9), stride=(2, 1), groups=2)
    assert local.weight.shape == (8, 3, 3, 2, 4, 8)
    assert local.bias.shape == (8, 4, 8)
    bound = 1 / math.sqrt(3 * 3 * 2)  # torch.nn.Conv2d: 1/sqrt(fan_in), fan_in = C/g * k
    torch.manual_seed(0)
    conv_bound = torch.nn.Conv2d(6, 8, (3, 2), groups=2).weight.abs().max().item()
    assert local.weight.abs().max() <= bound and local.weight.abs().max() > 0.9 * bound
    assert local.bias.abs().max() <= bound and conv_bound <= bound
    tiled = TiledConv3d(2, 4, 3, (1, 2, 3))
    assert tiled.weight.shape == (4, 2, 3, 3, 3, 1, 2, 3)
    assert tiled.bias.shape == (4,)
    assert tiled.weight.abs().max() <= 1 / math.sqrt(2 * 27)


def test_identities_through_layers():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 9, 9)
    conv = torch.nn.Conv2d(3, 4, 3, padding=1, padding_mode="circular")
    tiled = TiledConv2d(3, 4, 3, tiles=1, padding="same", padding_mode="circular")
    with torch.no_grad():
        tiled.weight.copy_(conv.weight[..., None, None])
        tiled.bias.copy_(conv.bias)
    torch.testing.assert_close(tiled(x), conv(x))
    local = LocallyConnected2d(3, 4, 3, 9, padding="same", padding_mode="circular")
    with torch.no_grad():
        local.weight.copy_(conv.weight[..., None, None].expand_as(local.weight))
        local.bias.copy_(conv.bias[:, None, None].expand_as(local.bias))
    torch.testing.assert_close(local(x), conv(x))
    big = TiledConv2d(3, 4, 3, tiles=(9, 10), padding="same")
    local = LocallyConnected2d(3, 4, 3, 9, padding="same", bias=False)
    with torch.no_grad():
        local.weight.copy_(big.weight[..., :9, :9])
    torch.testing.assert_close(big(x), local(x) + big.bias[:, None, None])


def test_gradcheck_layers():
    torch.manual_seed(0)
    for layer, shape in [
        (
            LocallyConnected1d(2, 2, 3, 6, stride=2, padding="same", padding_mode="reflect"),
            (2, 2, 6),
        ),
        (LocallyConnected2d(2, 2, 2, (4, 3), groups=2, padding="causal"), (1, 2, 4, 3)),
        (TiledConv2d(2, 2, 2, (2, 3), padding="same", padding_mode="circular"), (1, 2, 4, 5)),
        (TiledConv3d(1, 2, (1, 2, 2), 2, dilation=(1, 1, 2), padding=1), (1, 1, 3, 3, 3)),
    ]:
        layer = layer.double()
        x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
        params = tuple(layer.parameters())

        def f(v, *p, layer=layer, params=params):
            with torch.nn.utils.stateless._reparametrize_module(
                layer, {n: t for (n, _), t in zip(layer.named_parameters(), p, strict=True)}
            ):
                return layer(v)

        assert torch.autograd.gradcheck(f, (x, *params)), layer
        assert len(params) == 2


def test_extra_repr_and_state_dict():
    layer = LocallyConnected2d(3, 8, 3, (12, 12), stride=2, padding="same", bias=False)
    text = repr(layer)
    assert "LocallyConnected2d(3, 8, kernel_size=(3, 3), stride=(2, 2)" in text
    assert "padding='same'" in text and "bias=False" in text and "input_size=(12, 12)" in text
    tiled = TiledConv1d(2, 4, 5, 3, padding_mode="reflect", padding="same")
    assert "tiles=(3,)" in repr(tiled) and "padding_mode='reflect'" in repr(tiled)
    copy = TiledConv1d(2, 4, 5, 3, padding_mode="reflect", padding="same")
    copy.load_state_dict(tiled.state_dict())
    x = torch.randn(1, 2, 11)
    torch.testing.assert_close(copy(x), tiled(x))
    assert isinstance(layer, anyconv.nn.base.Module)


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (lambda: LocallyConnected2d(0, 4, 3, 8), ValueError, "'in_channels'"),
        (lambda: LocallyConnected2d(3, 4.0, 3, 8), TypeError, "'out_channels'"),
        (lambda: LocallyConnected2d(3, 4, (3, 3, 3), 8), ValueError, "'kernel_size'"),
        (lambda: LocallyConnected2d(3, 4, 3, None), TypeError, "'input_size'"),
        (lambda: LocallyConnected2d(3, 4, 3, 2), ValueError, "kernel is larger"),
        (lambda: LocallyConnected2d(3, 4, 3, 8, groups=2), ValueError, "'groups'"),
        (lambda: LocallyConnected2d(3, 4, 3, 8, padding="middle"), ValueError, "'padding'"),
        (
            lambda: LocallyConnected2d(3, 4, 3, 8, padding_mode="mirror"),
            ValueError,
            "'padding_mode'",
        ),
        (lambda: LocallyConnected2d(3, 4, 3, 8, bias="yes"), TypeError, "'bias'"),
        (
            lambda: LocallyConnected1d(3, 4, 3, 4, padding=5, padding_mode="reflect"),
            ValueError,
            "'padding'",
        ),
        (lambda: TiledConv2d(3, 4, 3, 0), ValueError, "'tiles'"),
        (lambda: TiledConv2d(3, 4, 3, (2, 2, 2)), ValueError, "'tiles'"),
        (lambda: TiledConv2d(3, 4, 3, 2, stride=0), ValueError, "'stride'"),
        (lambda: TiledConv2d(2, 4, 3, 2, groups=3), ValueError, "'groups'"),
        (lambda: TiledConv2d(2, 4, 3, 2, padding_mode="mirror"), ValueError, "'padding_mode'"),
        (lambda: TiledConv2d(2, 4, 3, 2, algorithm="magic"), ValueError, "'algorithm'"),
        (lambda: TiledConv3d(2, 4, 3, 2, dilation=-1), ValueError, "'dilation'"),
    ],
)
def test_constructor_errors_name_the_argument(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_forward_errors():
    layer = LocallyConnected2d(3, 4, 3, 8)
    with pytest.raises(ValueError, match=r"'input'.*\(N, 3, 8, 8\)"):
        layer(torch.randn(1, 3, 9, 9))
    with pytest.raises(ValueError, match=r"'input' has 2 channels"):
        layer(torch.randn(1, 2, 8, 8))
    with pytest.raises(ValueError, match="'padding'"):
        TiledConv1d(1, 1, 3, 2, padding=4, padding_mode="reflect")(torch.randn(1, 1, 3))
