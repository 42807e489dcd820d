"""nn/base.py: every conv-like layer on ConvLayer, validated by the functional path."""

from __future__ import annotations

import math

import pytest
import torch

import anyconv
from anyconv.nn import (
    Conv1d,
    Conv2d,
    Conv3d,
    ConvLayer,
    DepthwiseConv,
    GaborConv2d,
    LocallyConnected2d,
    PointwiseConv,
    SeparableConv2d,
    TiledConv2d,
)

# name -> a factory taking the keyword arguments every conv-like layer shares
LAYERS = {
    "Conv2d": lambda **kw: Conv2d(4, 6, 3, **kw),
    "DepthwiseConv": lambda **kw: DepthwiseConv(4, 3, **kw),
    "LocallyConnected2d": lambda **kw: LocallyConnected2d(4, 6, 3, (8, 8), **kw),
    "TiledConv2d": lambda **kw: TiledConv2d(4, 6, 3, 2, **kw),
    "SeparableConv2d": lambda **kw: SeparableConv2d(4, 6, 3, 2, **kw),
    "GaborConv2d": lambda **kw: GaborConv2d(4, 6, 3, **kw),
}


def test_every_conv_like_layer_is_a_conv_layer():
    for make in LAYERS.values():
        assert isinstance(make(), ConvLayer)
    assert isinstance(PointwiseConv(4, 2), ConvLayer)
    assert [Conv1d.ndim, Conv2d.ndim, Conv3d.ndim] == [1, 2, 3] and GaborConv2d.ndim == 2


@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"padding": "sme"}, ValueError),
        ({"padding": ((1, -1), 0)}, ValueError),
        ({"stride": 0}, ValueError),
        ({"dilation": 1.5}, TypeError),
        ({"padding_mode": "mirror"}, ValueError),
    ],
)
def test_construction_fails_with_the_functional_message(name, kwargs, error):
    """The same message as anyconv.conv, under the layer's own name."""
    with pytest.raises(error) as functional:
        anyconv.conv(torch.randn(1, 4, 8, 8), torch.randn(6, 4, 3, 3), **kwargs)
    with pytest.raises(error) as layer:
        LAYERS[name](**kwargs)
    assert str(layer.value) == str(functional.value).replace("conv()", f"{name}()", 1)


@pytest.mark.parametrize("name", list(LAYERS))
def test_bias_must_be_a_bool(name):
    with pytest.raises(TypeError, match=rf"^{name}\(\): argument 'bias' must be a bool"):
        LAYERS[name](bias="yes")


def test_one_repr_for_all():
    assert repr(Conv2d(3, 8, 3, dilation=2, bias=False)) == (
        "Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=0, dilation=(2, 2), bias=False)"
    )
    assert repr(TiledConv2d(2, 4, 3, (2, 3), padding="same", algorithm="fft")) == (
        "TiledConv2d(2, 4, kernel_size=(3, 3), stride=(1, 1), padding='same', "
        "algorithm='fft', tiles=(2, 3), method='auto')"
    )
    assert SeparableConv2d(2, 4, 3, rank=2).extra_repr().endswith("padding='valid', rank=2")


def test_one_initialisation_with_the_kernel_fan_in():
    torch.manual_seed(0)
    for layer in (Conv2d(4, 6, 3, groups=2), LocallyConnected2d(4, 6, 3, 8, groups=2)):
        bound = 1 / math.sqrt(2 * 9)
        assert layer.fan_in == 18
        assert layer.weight.abs().max() <= bound and layer.weight.abs().max() > 0.9 * bound
        assert layer.bias.abs().max() <= bound
    layer.reset_parameters()  # re-draws in place
    assert layer.weight.abs().max() <= bound


def test_spec_is_the_functional_geometry():
    layer = Conv2d(3, 8, 5, stride=2, padding="same")
    spec = layer.spec((15, 16))
    assert spec.out_shape == (8, 8) and spec.padding == ((2, 2), (1, 2))
    assert layer(torch.randn(1, 3, 15, 16)).shape[2:] == spec.out_shape
