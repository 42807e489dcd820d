"""Feature maps of every convolution stage, before and after activation, and the run-folder
pictures for every registered model."""

from __future__ import annotations

import warnings

import pytest
import torch

from anyconv.data import Splits
from anyconv.models import create_model, default_input_shape, list_models
from anyconv.viz import (
    conv_layers,
    feature_maps,
    plot_feature_maps,
    plot_samples,
    write_network_pictures,
)

PNG = b"\x89PNG\r\n\x1a\n"


def _net():
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 3, 3, padding=1),
        torch.nn.BatchNorm2d(3),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(3, 4, 3),
        torch.nn.Flatten(),
    )


def test_every_convolution_layer_before_and_after_its_activation():
    torch.manual_seed(0)
    net = _net().eval()
    x = torch.randn(1, 8, 8)
    post = feature_maps(net, x)
    pre = feature_maps(net, x, stage="pre")
    assert [m.name for m in post] == ["0", "4"]
    assert post[0].activation == "relu" and post[0].maps.min() >= 0  # after BN and ReLU
    assert post[1].activation == "" and torch.equal(post[1].maps, pre[1].maps)
    torch.testing.assert_close(pre[0].maps, net[0](x.unsqueeze(0))[0].detach())
    expected = torch.relu(net[1](net[0](x.unsqueeze(0))))[0].detach()
    torch.testing.assert_close(post[0].maps, expected)
    assert post[0].field == (3, 3) and post[1].field == (8, 8)


def test_functional_activations_and_inplace_relu_are_followed():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv1d(1, 2, 3)
            self.relu = torch.nn.ReLU(inplace=True)

        def forward(self, x):
            return torch.tanh(self.conv(x)) + self.relu(self.conv(x))

    maps = feature_maps(Net(), torch.randn(1, 9))
    assert maps[0].activation == "tanh" and maps[0].maps.shape == (2, 7)
    pre = feature_maps(Net(), torch.randn(1, 9), stage="pre")[0]
    assert pre.activation == ""


def test_frames_folded_into_the_batch_come_back_as_a_time_axis(tmp_path):
    # frame2d runs its 2-D convolutions on frames folded into the batch; the maps are put
    # back as (C, T, H, W) -- the picture failed for it before
    net = create_model("frame2d", in_channels=1, num_classes=4, input_size=(5, 8, 8))
    x = torch.rand(1, 5, 8, 8)
    maps = feature_maps(net, x)
    assert maps[0].maps.shape == (16, 5, 8, 8) and maps[0].field == (1, 3, 3)
    frame = net.body[0](x.transpose(0, 1))  # the 5 frames as a batch
    torch.testing.assert_close(maps[0].maps, torch.relu(frame).transpose(0, 1))
    path = plot_feature_maps(net, x, tmp_path / "m.png", title="frame2d")
    assert path.read_bytes().startswith(PNG)
    # a batch of one is accepted too
    assert feature_maps(net, x.unsqueeze(0))[0].maps.shape == (16, 5, 8, 8)


def _splits(shape, classes=3, n=6):
    kind = {2: "sequence", 3: "image", 4: "video"}[len(shape)]
    x = torch.rand(n, *shape)
    y = torch.arange(n) % classes
    return Splits(x, y, x, y, classes, kind, f"random {kind}s")


@pytest.mark.parametrize("name", sorted(list_models()))
def test_run_folder_pictures_of_every_registered_model(tmp_path, name):
    shape = default_input_shape(name)
    shape = (shape[0], *(min(n, 12) for n in shape[1:]))
    net = create_model(name, in_channels=shape[0], num_classes=3, input_size=shape[1:])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a picture that fails would only warn
        written = write_network_pictures(tmp_path, net, _splits(shape), title=f"{name} test")
    convolutional = bool(conv_layers(net))  # every model but the MLP
    expected = ["filters.png", "feature_maps.png"] if convolutional else []
    cam = ["cam.png"] if name in ("fcn", "resnet1d", "inception_time") else []  # CAM: GAP + linear
    assert written == [*expected, "samples.png", *cam]
    for picture in written:
        assert (tmp_path / picture).read_bytes().startswith(PNG)


@pytest.mark.parametrize("shape", [(2, 30), (3, 8, 8), (1, 4, 6, 6), (5, 7, 7)])
def test_sample_grids(tmp_path, shape):
    x = torch.rand(30, *shape)
    path = plot_samples(x, torch.arange(30) % 4, tmp_path / "s.png", class_names=list("abcd"))
    assert path.read_bytes().startswith(PNG)
    with pytest.raises(ValueError, match="'x'"):
        plot_samples(torch.rand(0, *shape), None, tmp_path / "e.png")
