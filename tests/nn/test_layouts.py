"""What users' tensors look like, for every layer: unbatched ``(C, *spatial)`` input as
``torch.nn`` takes it, ``channels_last`` memory, and a message that blames the input (in the
layer's own name) when the rank is wrong.

Every public layer of :mod:`anyconv.nn` has a row in ``LAYERS`` (a test checks that none is
missing), so a new layer is drawn here too. The reference is the layer itself on a batch of
one (unbatched) or on contiguous memory (channels_last), and PyTorch's own layer, where
there is one, for the shapes it gives and the memory format it keeps.
"""

from __future__ import annotations

import pytest
import torch

import anyconv.nn as ann

FORMATS = {2: torch.channels_last, 3: torch.channels_last_3d}

# name -> (build, spatial axes, torch.nn equivalent or None)
LAYERS = {
    "Conv1d": (lambda: ann.Conv1d(3, 4, 3, padding="same"), 1, lambda: torch.nn.Conv1d(3, 4, 3)),
    "Conv2d": (lambda: ann.Conv2d(3, 4, 3, padding=1), 2, lambda: torch.nn.Conv2d(3, 4, 3, 1, 1)),
    "Conv3d": (lambda: ann.Conv3d(3, 4, 3, stride=2), 3, lambda: torch.nn.Conv3d(3, 4, 3, 2)),
    "ConvNd": (lambda: ann.ConvNd(3, 4, (3, 2), padding="causal"), 2, None),
    "ConvTranspose1d": (
        lambda: ann.ConvTranspose1d(3, 4, 3, stride=2, padding=1, output_padding=1),
        1,
        lambda: torch.nn.ConvTranspose1d(3, 4, 3, 2, 1, 1),
    ),
    "ConvTranspose2d": (
        lambda: ann.ConvTranspose2d(3, 4, 3, stride=2, padding="same"),
        2,
        lambda: torch.nn.ConvTranspose2d(3, 4, 3, 2),
    ),
    "ConvTranspose3d": (
        lambda: ann.ConvTranspose3d(3, 2, 2, stride=2, groups=1),
        3,
        lambda: torch.nn.ConvTranspose3d(3, 2, 2, 2),
    ),
    "ConvTransposeNd": (lambda: ann.ConvTransposeNd(3, 4, (3, 2), stride=(2, 1)), 2, None),
    "DepthwiseConv": (lambda: ann.DepthwiseConv(3, 3, multiplier=2), 2, None),
    "PointwiseConv": (lambda: ann.PointwiseConv(3, 5, ndim=3), 3, None),
    "DepthwiseSeparableConv": (
        lambda: ann.DepthwiseSeparableConv(3, 4, 3, norm=True, activation=torch.nn.ReLU).eval(),
        2,
        None,
    ),
    "GaborConv2d": (lambda: ann.GaborConv2d(3, 4, 5, padding="same"), 2, None),
    "Inception": (lambda: ann.Inception(3, 2, 2, 2, 2, 2, 2), 2, None),
    "InceptionTimeBlock": (
        lambda: ann.InceptionTimeBlock(3, 2, 2, (4, 3), ndim=2).eval(),  # batch norm: eval
        2,
        None,
    ),
    "LocallyConnected1d": (lambda: ann.LocallyConnected1d(3, 4, 3, input_size=6), 1, None),
    "LocallyConnected2d": (lambda: ann.LocallyConnected2d(3, 4, 3, input_size=6), 2, None),
    "LocallyConnected3d": (lambda: ann.LocallyConnected3d(3, 2, 2, input_size=6), 3, None),
    "TiledConv1d": (lambda: ann.TiledConv1d(3, 4, 3, tiles=2), 1, None),
    "TiledConv2d": (lambda: ann.TiledConv2d(3, 4, 3, tiles=2, padding="same"), 2, None),
    "TiledConv3d": (lambda: ann.TiledConv3d(3, 2, 2, tiles=2, algorithm="direct"), 3, None),
    "SeparableConv2d": (lambda: ann.SeparableConv2d(3, 4, 3, rank=2), 2, None),
    "SeparableConv3d": (lambda: ann.SeparableConv3d(3, 4, 3, padding="same"), 3, None),
    "MaxPool1d": (lambda: ann.MaxPool1d(3, 2, 1), 1, lambda: torch.nn.MaxPool1d(3, 2, 1)),
    "MaxPool2d": (lambda: ann.MaxPool2d(3, 2, 1), 2, lambda: torch.nn.MaxPool2d(3, 2, 1)),
    "MaxPool3d": (lambda: ann.MaxPool3d(2), 3, lambda: torch.nn.MaxPool3d(2)),
    "AvgPool1d": (lambda: ann.AvgPool1d(2), 1, lambda: torch.nn.AvgPool1d(2)),
    "AvgPool2d": (lambda: ann.AvgPool2d(3, 2, 1), 2, lambda: torch.nn.AvgPool2d(3, 2, 1)),
    "AvgPool3d": (lambda: ann.AvgPool3d(2, dilation=2), 3, None),
    "LPPool1d": (lambda: ann.LPPool1d(2, 2), 1, lambda: torch.nn.LPPool1d(2, 2)),
    "LPPool2d": (lambda: ann.LPPool2d(2, 3, 2), 2, lambda: torch.nn.LPPool2d(2, 3, 2)),
    "LPPool3d": (lambda: ann.LPPool3d(2, 2), 3, lambda: torch.nn.LPPool3d(2, 2)),
    "SoftPool1d": (lambda: ann.SoftPool1d(2), 1, None),
    "SoftPool2d": (lambda: ann.SoftPool2d(2, ceil_mode=True), 2, None),
    "SoftPool3d": (lambda: ann.SoftPool3d(3, 1, padding="same"), 3, None),
    "BlurPool1d": (lambda: ann.BlurPool1d(), 1, None),
    "BlurPool2d": (lambda: ann.BlurPool2d(3, filter_size=4), 2, None),
    "BlurPool3d": (lambda: ann.BlurPool3d(), 3, None),
    "MaxBlurPool": (lambda: ann.MaxBlurPool(2, ceil_mode=True), 2, None),
    "MaxBlurPool1d": (lambda: ann.MaxBlurPool1d(3, padding_mode="zeros"), 1, None),
    "MaxBlurPool2d": (lambda: ann.MaxBlurPool2d(2), 2, None),
    "MaxBlurPool3d": (lambda: ann.MaxBlurPool3d(2), 3, None),
}
# N-d layers that read the number of spatial axes from the input's rank: batched only.
RANK_FREE = {"GlobalAvgPool", "GlobalMaxPool", "ChannelMaxPool"}
NOT_LAYERS = {"ConvLayer", "Module", "WindowLayer", "convert", "from_torch"}


def _input(ndim, batch=2, dtype=torch.float64):
    torch.manual_seed(ndim)
    return torch.randn(batch, 3, *(6,) * ndim, dtype=dtype)


def test_every_public_layer_is_drawn_here():
    assert set(ann.__all__) - NOT_LAYERS == set(LAYERS) | RANK_FREE


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_unbatched_input_gives_the_batched_result(name, device):
    build, ndim, reference = LAYERS[name]
    layer = build().double().to(device)
    x = _input(ndim).to(device)
    batched = layer(x)
    alone = layer(x[1])
    assert alone.shape == batched.shape[1:] and alone.device.type == device
    torch.testing.assert_close(alone, batched[1], rtol=1e-10, atol=1e-10)
    if reference is not None:  # PyTorch's layer gives an unbatched output of that rank too
        assert reference().double()(x[1].cpu()).dim() == alone.dim()


@pytest.mark.parametrize("name", sorted(n for n in LAYERS if LAYERS[n][1] > 1))
def test_channels_last_is_kept_forward_and_backward(name, device):
    build, ndim, reference = LAYERS[name]
    fmt = FORMATS[ndim]
    layer = build().double().to(device)
    x = _input(ndim).to(device)
    want = layer(x)
    xc = x.to(memory_format=fmt).requires_grad_()
    y = layer(xc)
    assert y.is_contiguous(memory_format=fmt), name
    torch.testing.assert_close(y, want, rtol=1e-10, atol=1e-10)
    (grad,) = torch.autograd.grad(y, xc, torch.ones_like(y))
    (want_grad,) = torch.autograd.grad(layer(x.requires_grad_()), x, torch.ones_like(want))
    torch.testing.assert_close(grad, want_grad, rtol=1e-10, atol=1e-10)
    if reference is not None and ndim == 2:  # PyTorch keeps it too
        assert reference().double()(xc.detach().cpu()).is_contiguous(memory_format=fmt)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_a_wrong_rank_blames_the_input_in_the_layers_name(name):
    build, ndim, _ = LAYERS[name]
    layer = build()
    for rank in (ndim, ndim + 3):
        x = torch.randn(*(3,) * rank)
        with pytest.raises(ValueError, match=rf"^{type(layer).__name__}\(\): argument 'input'"):
            layer(x)


def test_conv2d_message_shows_both_forms_with_its_channels():
    with pytest.raises(ValueError) as error:
        ann.Conv2d(3, 8, 3)(torch.randn(1, 3, 4, 8, 8))
    assert str(error.value) == (
        "Conv2d(): argument 'input' must be a tensor of shape (N, 3, H, W) or, unbatched, "
        "(3, H, W) (4 or 3 dims); got a tensor of shape (1, 3, 4, 8, 8)"
    )
    assert (
        ann.Conv2d(3, 8, 3)(torch.randn(3, 8, 8)).shape
        == torch.nn.Conv2d(3, 8, 3)(torch.randn(3, 8, 8)).shape
    )


@pytest.mark.parametrize("name", sorted(RANK_FREE))
def test_rank_free_layers_say_so(name):
    layer = getattr(ann, name)(2) if name == "ChannelMaxPool" else getattr(ann, name)()
    assert "batched" in type(layer).__doc__ or "batched" in type(layer).__mro__[1].__doc__
