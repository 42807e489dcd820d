"""fcn and resnet1d (Wang, Yan and Oates 2017) and inception_time (Fawaz et al. 2020)
against the same networks built from PyTorch's own layers, with Keras' "same" padding;
their recipe for ucr: data."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from anyconv.models import FCN, InceptionTime, ResNet1d, create_model
from anyconv.train import TrainConfig
from anyconv.train.recipes import FALLBACK, TSC_RECIPE, recipe


def _conv_same(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Keras/TensorFlow "same": for kernel k, (k - 1) // 2 zeros before, the rest after."""
    k = weight.shape[-1]
    return F.conv1d(F.pad(x, ((k - 1) // 2, k // 2)), weight)


def _bn(x: torch.Tensor, bn: torch.nn.BatchNorm1d) -> torch.Tensor:
    return F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0, bn.eps)


def _randomise_norms(model: torch.nn.Module) -> None:
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g))
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.randn(m.num_features, generator=g))
            m.bias.data.copy_(torch.randn(m.num_features, generator=g))


def test_fcn_is_the_papers_network():
    torch.manual_seed(0)
    net = FCN(in_channels=2, num_classes=5, input_size=(37,)).eval()
    _randomise_norms(net)
    convs = [block[0] for block in net.features]
    assert [c.weight.shape for c in convs] == [(128, 2, 8), (256, 128, 5), (128, 256, 3)]
    x = torch.randn(4, 2, 37)
    h = x
    for block in net.features:
        h = torch.relu(_bn(_conv_same(h, block[0].weight), block[1]))
    expected = net.classifier(h.mean(-1))
    torch.testing.assert_close(net(x), expected, rtol=1e-4, atol=1e-4)


def test_resnet1d_is_the_papers_network():
    torch.manual_seed(0)
    net = ResNet1d(in_channels=3, num_classes=4, input_size=(29,)).eval()
    _randomise_norms(net)
    assert [b.body[0][0].weight.shape[0] for b in net.features] == [64, 128, 128]
    x = torch.randn(2, 3, 29)
    h = x
    for block in net.features:
        y = h
        for i, layer in enumerate(block.body):
            y = _bn(_conv_same(y, layer[0].weight), layer[1])
            y = torch.relu(y) if i < 2 else y
        if len(block.shortcut) == 2:  # 1x1 conv + BN when the width changes
            short = _bn(F.conv1d(h, block.shortcut[0].weight), block.shortcut[1])
        else:  # BN alone when it does not (the paper's code)
            short = _bn(h, block.shortcut[0])
        h = torch.relu(y + short)
    torch.testing.assert_close(net(x), net.classifier(h.mean(-1)), rtol=1e-4, atol=1e-4)
    assert len(net.features[2].shortcut) == 1


def _inception_module(x: torch.Tensor, block) -> torch.Tensor:
    """The paper's code (classifiers/inception.py of hfawaz/InceptionTime): a linear 1x1
    bottleneck when there is more than one channel, kernels 40/20/10 on it, a 3-wide max
    pooling of the input then a 1x1 convolution, concatenated, batch norm, ReLU."""
    narrow = F.conv1d(x, block.bottleneck.weight) if x.shape[1] > 1 else x
    branches = [_conv_same(narrow, conv.weight) for conv in block.branches]
    pooled = F.max_pool1d(F.pad(x, (1, 1), value=float("-inf")), 3, stride=1)
    branches.append(F.conv1d(pooled, block.pool_proj.weight))
    return torch.relu(_bn(torch.cat(branches, 1), block.norm))


@pytest.mark.parametrize("channels", [1, 3])
def test_inception_time_is_the_papers_network(channels):
    torch.manual_seed(0)
    net = InceptionTime(in_channels=channels, num_classes=4, input_size=(45,)).eval()
    _randomise_norms(net)
    first = net.features[0].blocks[0]
    assert [c.weight.shape[-1] for c in first.branches] == [40, 20, 10]
    assert (first.bottleneck is None) == (channels == 1)
    x = torch.randn(3, channels, 45)
    h = x
    for stage in net.features:  # two stages of three modules, each with its shortcut
        y = h
        for block in stage.blocks:
            y = _inception_module(y, block)
        short = _bn(F.conv1d(h, stage.shortcut[0].weight), stage.shortcut[1])
        h = torch.relu(y + short)
    torch.testing.assert_close(net(x), net.classifier(h.mean(-1)), rtol=1e-4, atol=1e-4)
    # the paper's parameter count: 32 filters, bottleneck 32, 128 channels per module
    later = 128 * 32 + 32 * 32 * 70 + 128 * 32 + 256  # bottleneck, kernels, pool 1x1, BN
    width = 32 if channels > 1 else 1  # the first module's bottleneck, if it has one
    head = 32 * width * 70 + 32 * channels + 256 + (channels * 32 if channels > 1 else 0)
    expected = head + 5 * later + (channels * 128 + 256) + (128 * 128 + 256) + 128 * 4 + 4
    assert net.num_parameters == expected


def test_inception_time_depth_and_residual_options():
    net = InceptionTime(depth=4, residual=True)
    assert len(net.features) == 2 and len(net.features[0].blocks) == 3  # one shortcut, 1 left
    plain = InceptionTime(depth=2, residual=False, filters=8, kernel_sizes=(9, 5))
    assert plain(torch.randn(2, 1, 20)).shape == (2, 2)
    assert plain.features[0].out_channels == 24


@pytest.mark.parametrize("name", ["fcn", "resnet1d", "inception_time"])
@pytest.mark.parametrize("length", [1, 7, 300])
def test_any_length(name, length):
    net = create_model(name, in_channels=1, num_classes=3, input_size=(length,))
    assert net(torch.randn(2, 1, length)).shape == (2, 3)


@pytest.mark.parametrize(
    "kw,error,message",
    [
        ({"channels": (128, 0)}, TypeError, "argument 'channels' must be a non-empty tuple"),
        ({"kernel_sizes": (8, 5)}, ValueError, "argument 'kernel_sizes' must be 3 sizes"),
        ({"num_classes": 0}, ValueError, "argument 'num_classes' must be a positive int"),
    ],
)
def test_fcn_arguments_are_checked(kw, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        FCN(**kw)


def test_recipe_applies_to_ucr_data_only():
    for model in ("fcn", "resnet1d", "inception_time"):
        assert recipe(model, "ucr:data/Coffee") == {**FALLBACK, **TSC_RECIPE}
        config = TrainConfig(model=model, data="ucr:data/Coffee")
        assert config.val_fraction == 0.0 and config.weight_decay == 0.0
        assert config.epochs == 100 and config.batch_size == 16 and config.lr == 1e-3
    assert recipe("fcn", "mnist1d") == recipe("cnn1d", "mnist1d")
    assert recipe("cnn1d", "ucr:x") == FALLBACK
    assert TrainConfig(model="fcn", data="mnist1d").val_fraction is None
    explicit = TrainConfig(model="fcn", data="ucr:x", val_fraction=0.2, weight_decay=1e-3)
    assert (explicit.val_fraction, explicit.weight_decay) == (0.2, 1e-3)  # flags win
