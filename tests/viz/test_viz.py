import pytest
import torch

from anyconv import nn as anynn
from anyconv.viz import (
    conv_layers,
    first_conv_weight,
    plot_confusion,
    plot_feature_maps,
    plot_filters,
    plot_history,
)

PNG = b"\x89PNG\r\n\x1a\n"


def _is_png(path):
    data = path.read_bytes()
    return len(data) > 1000 and data.startswith(PNG)


def _net(dims):
    conv = {1: torch.nn.Conv1d, 2: anynn.Conv2d, 3: torch.nn.Conv3d}[dims]
    pool = {1: torch.nn.MaxPool1d, 2: torch.nn.MaxPool2d, 3: torch.nn.MaxPool3d}[dims]
    return torch.nn.Sequential(
        conv(2, 4, 3, padding=1),
        torch.nn.ReLU(),
        pool(2),
        conv(4, 6, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.LazyLinear(3),
    )


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_filters_and_feature_maps_for_every_dimension(tmp_path, dims):
    torch.manual_seed(0)
    net = _net(dims)
    x = torch.randn(2, *([8] * dims))
    net(x.unsqueeze(0))  # materialise the lazy layer
    weight = first_conv_weight(net, x)
    assert weight.shape == (4, 2, *([3] * dims))
    assert _is_png(plot_filters(weight, tmp_path / "f.png"))
    assert _is_png(plot_feature_maps(net, x, tmp_path / "m.png"))
    assert _is_png(plot_feature_maps(net, x.unsqueeze(0), tmp_path / "batch.png"))
    if dims == 3:
        assert _is_png(plot_filters(weight, tmp_path / "middle.png", temporal="middle"))


def test_rgb_filters_and_innermost_layers(tmp_path):
    block = (
        anynn.DepthwiseSeparableConv(3, 8, 3)
        if hasattr(anynn, "DepthwiseSeparableConv")
        else torch.nn.Conv2d(3, 8, 3)
    )
    names = [type(m).__name__ for _, m in conv_layers(torch.nn.Sequential(block))]
    assert names and all("Separable" not in n for n in names)
    assert _is_png(plot_filters(torch.randn(8, 3, 5, 5), tmp_path / "rgb.png"))


def test_history_and_confusion(tmp_path):
    rows = [
        {
            "epoch": e,
            "loss": 1 / e,
            "accuracy": 1 - 1 / (e + 1),
            "test_loss": 1.1 / e,
            "test_accuracy": 1 - 1.2 / (e + 1),
        }
        for e in range(1, 6)
    ]
    assert _is_png(plot_history(rows, tmp_path / "h.png"))
    matrix = torch.randint(0, 50, (12, 12))
    assert _is_png(plot_confusion(matrix, [f"c{i}" for i in range(12)], tmp_path / "c.png"))


def test_bad_arguments_say_what_is_expected(tmp_path):
    with pytest.raises(ValueError, match="weight"):
        plot_filters(torch.randn(3, 3), tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"\(3, 3\)"):
        plot_confusion(torch.zeros(2, 2), ["a", "b", "c"], tmp_path / "x.png")
    with pytest.raises(ValueError, match="history"):
        plot_history([], tmp_path / "x.png")


def test_drawing_leaves_pyplot_alone(tmp_path):
    import matplotlib

    backend = matplotlib.get_backend()
    plot_filters(torch.randn(4, 1, 3, 3), tmp_path / "f.png")
    assert matplotlib.get_backend() == backend
