"""Class activation maps: they split each logit among the time steps exactly."""

from __future__ import annotations

import pytest
import torch

from anyconv.models import FCN, ResNet1d, create_model
from anyconv.viz.cam import cam_examples, class_activation_maps, plot_cam, supports_cam


@pytest.mark.parametrize("make", [FCN, ResNet1d])
def test_maps_average_to_the_logits_minus_the_bias(make):
    torch.manual_seed(0)
    net = make(in_channels=3, num_classes=4, input_size=(33,))
    net.train()  # class_activation_maps evaluates in eval mode and restores the mode
    maps, logits = class_activation_maps(net, torch.randn(5, 3, 33))
    assert maps.shape == (5, 4, 33) and net.training
    torch.testing.assert_close(maps.mean(-1) + net.classifier.bias.detach(), logits)


def test_maps_are_the_weighted_sum_of_the_last_feature_maps():
    torch.manual_seed(0)
    net = FCN(num_classes=2, input_size=(20,)).eval()
    x = torch.randn(1, 1, 20)
    with torch.no_grad():
        features = net.features(x)[0]  # (128, 20)
    maps, _ = class_activation_maps(net, x)
    expected = net.classifier.weight.detach() @ features
    torch.testing.assert_close(maps[0], expected)


def test_unsupported_models_are_refused():
    net = create_model("cnn1d", in_channels=1, num_classes=3, input_size=(40,))
    assert not supports_cam(net)
    with pytest.raises(TypeError, match="a network with 'features' and a Linear 'classifier'"):
        class_activation_maps(net, torch.randn(1, 1, 40))


def test_picture_is_written(tmp_path):
    torch.manual_seed(0)
    x, y = cam_examples(torch.randn(10, 2, 50), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0]))
    assert y.tolist() == [0, 1, 2]
    path = plot_cam(FCN(in_channels=2, num_classes=3), x, y, tmp_path / "cam.png", ["a", "b", "c"])
    assert path.stat().st_size > 10_000
    with pytest.raises(ValueError, match="argument 'y' must be 3 labels"):
        plot_cam(FCN(in_channels=2, num_classes=3), x, [0], tmp_path / "x.png")
