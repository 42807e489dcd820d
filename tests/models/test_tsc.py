"""fcn and resnet1d (Wang, Yan and Oates 2017) against the same networks built from
PyTorch's own layers, with Keras' "same" padding; their recipe for ucr: data."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from anyconv.models import FCN, ResNet1d, create_model
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


@pytest.mark.parametrize("name", ["fcn", "resnet1d"])
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
    for model in ("fcn", "resnet1d"):
        assert recipe(model, "ucr:data/Coffee") == {**FALLBACK, **TSC_RECIPE}
        config = TrainConfig(model=model, data="ucr:data/Coffee")
        assert config.val_fraction == 0.0 and config.weight_decay == 0.0
        assert config.epochs == 100 and config.batch_size == 16 and config.lr == 1e-3
    assert recipe("fcn", "mnist1d") == recipe("cnn1d", "mnist1d")
    assert recipe("cnn1d", "ucr:x") == FALLBACK
    assert TrainConfig(model="fcn", data="mnist1d").val_fraction is None
    explicit = TrainConfig(model="fcn", data="ucr:x", val_fraction=0.2, weight_decay=1e-3)
    assert (explicit.val_fraction, explicit.weight_decay) == (0.2, 1e-3)  # flags win
