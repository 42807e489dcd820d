"""The layer table: MACs per layer by closed forms, and against torchinfo's mult-adds."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import anyconv.nn as ann
from anyconv.analysis import summary
from anyconv.functional import separable_conv
from anyconv.models import create_model, default_input_shape, list_models


def _rows(model, shape):
    return {r["name"]: r for r in summary(model, shape)}


def test_closed_forms_per_layer_type():
    net = nn.Sequential(
        ann.Conv2d(3, 8, 3, stride=2, padding="same"),  # 8x5x5 outputs, 3*9 MACs each
        nn.BatchNorm2d(8),
        nn.ReLU(),
        ann.Conv2d(8, 8, 3, groups=4, padding=1),  # 8x5x5 outputs, (8/4)*9 MACs each
        ann.MaxPool2d(2, ceil_mode=True),
        nn.Conv2d(8, 4, 1),  # 4x3x3, 8 each
        ann.AvgPool2d(3),
        nn.Flatten(),
        nn.Linear(4, 5),
    )
    rows = _rows(net, (3, 9, 9))
    assert rows["0"]["macs"] == 8 * 5 * 5 * 3 * 9
    assert rows["1"]["macs"] == rows["2"]["macs"] == 0  # normalisation and activations
    assert rows["3"]["macs"] == 8 * 5 * 5 * 2 * 9
    assert rows["4"]["macs"] == rows["6"]["macs"] == 0  # pooling
    assert rows["5"]["macs"] == 4 * 3 * 3 * 8
    assert rows["8"]["macs"] == 4 * 5
    assert rows["total"]["macs"] == sum(r["macs"] for n, r in rows.items() if n != "total")
    assert rows["total"]["parameters"] == sum(p.numel() for p in net.parameters())
    assert rows["0"]["receptive_field"].size == (3, 3)
    assert rows["8"]["receptive_field"] is None  # not a spatial map


@pytest.mark.parametrize("dims", [1, 3])
def test_dilated_and_3d_convolutions(dims):
    conv = ann.ConvNd(2, 4, 3, dilation=2, padding="causal", ndim=dims)
    rows = _rows(nn.Sequential(conv), (2, *([7] * dims)))
    assert rows["0"]["macs"] == 4 * 7**dims * 2 * 3**dims


def test_locally_connected_tiled_and_separable():
    local = ann.LocallyConnected2d(2, 3, 3, input_size=(6, 6))  # 3x4x4 outputs
    tiled = ann.TiledConv2d(3, 2, 3, tiles=2)  # 2x2x2 outputs
    net = nn.Sequential(local, tiled)
    rows = _rows(net, (2, 6, 6))
    assert rows["0"]["macs"] == 3 * 16 * 2 * 9
    assert rows["1"]["macs"] == 2 * 4 * 3 * 9  # as an ordinary conv: tiles untie weights only

    # a separable layer counts its 1-D passes: the same count as its functional passes
    layer = ann.SeparableConv2d(2, 3, (3, 5), rank=2, padding=(1, 2), stride=(2, 1))

    class Passes(nn.Module):
        def forward(self, x):
            return separable_conv(x, tuple(layer.factors), stride=(2, 1), padding=(1, 2))

    x_shape = (2, 8, 9)
    mine = summary(nn.Sequential(layer), x_shape)[0]["macs"]
    passes = summary(Passes(), x_shape)[0]["macs"]  # F.conv calls, counted one by one
    assert mine == passes > 0
    # by hand: padded 10x13, output 4x9; the axis-0 pass makes C*O*r = 12 maps of 4x13
    # with 3 taps, the last pass sums C*r = 4 maps into each of 3x4x9 outputs, 5 taps each
    assert mine == 12 * 4 * 13 * 3 + 3 * 4 * 9 * 4 * 5


def test_functional_calls_in_a_container_get_their_own_row():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(4, 1, 3, 3))

        def forward(self, x):
            return nn.functional.conv2d(x, self.w)

    rows = summary(Net(), (1, 6, 6))
    assert rows[0]["name"] == "(model)" and rows[0]["macs"] == 4 * 16 * 9
    assert rows[-1]["parameters"] == 36


def test_bad_arguments():
    with pytest.raises(TypeError, match="input_shape"):
        summary(nn.Conv2d(1, 1, 3), [1.0, 8, 8])
    with pytest.raises(ValueError, match="input_shape"):
        summary(nn.Conv2d(1, 1, 3), (1, 0, 8))


# -- against torchinfo ---------------------------------------------------------------

torchinfo = pytest.importorskip("torchinfo")


def _torchinfo_macs(model, shape):
    """torchinfo's mult-adds per module, less the bias terms it counts (anyconv's MACs do
    not include the bias): ``bias.numel()`` per output position of a conv, per output row
    of a linear layer."""
    names = {m: n for n, m in model.named_modules()}
    stats = torchinfo.summary(model, input_size=(1, *shape), verbose=0, device="cpu")
    found: dict[str, int] = {}
    for info in stats.summary_list:
        m = info.module
        if not isinstance(getattr(m, "weight", None), torch.Tensor) or m not in names:
            continue
        if not (isinstance(m, nn.Linear) or "Conv" in type(m).__name__):
            continue
        macs = info.macs
        if getattr(m, "bias", None) is not None:
            out = info.output_size
            if isinstance(m, nn.Linear):
                macs -= m.bias.numel() * math.prod(out[:-1])
            else:
                macs -= m.bias.numel() * out[0] * math.prod(out[2:])
        found[names[m]] = found.get(names[m], 0) + macs
    return found


def _check_against_torchinfo(model, shape):
    rows = {}
    for r in summary(model, shape):
        rows[r["name"]] = rows.get(r["name"], 0) + r["macs"]
    theirs = _torchinfo_macs(model, shape)
    assert theirs
    for name, macs in theirs.items():
        assert rows[name] == macs, name


# torchinfo counts a tiled layer's weights (kernel x tiles) once per output, i.e. tiles
# times the products it does, and a Gabor layer's parameters are not its kernel.
_TORCHINFO_MISCOUNTS = {"tiled_net"}


@pytest.mark.parametrize("name", sorted(set(list_models()) - _TORCHINFO_MISCOUNTS))
def test_macs_agree_with_torchinfo_on_every_model(name):
    shape = default_input_shape(name)
    shape = (shape[0], *(min(n, 16) for n in shape[1:]))
    model = create_model(name, in_channels=shape[0], num_classes=5, input_size=shape[1:])
    _check_against_torchinfo(model, shape)


def _alexnet():
    return nn.Sequential(
        nn.Conv2d(3, 8, 11, stride=4, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, stride=2),
        nn.Conv2d(8, 12, 5, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, stride=2),
        nn.Conv2d(12, 16, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, stride=2),
        nn.AdaptiveAvgPool2d((2, 2)),
        nn.Flatten(),
        nn.Dropout(),
        nn.Linear(64, 10),
    )


def _vgg():
    layers, c = [], 3
    for width in (4, 8, 8):
        layers += [nn.Conv2d(c, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
        layers += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        c = width
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(8 * 4 * 4, 10))


class _Res(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.conv1 = nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.short = nn.Conv2d(8, 16, 1, stride=2, bias=False)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = torch.relu(self.stem(x))
        y = self.conv2(torch.relu(self.bn(self.conv1(x)))) + self.short(x)
        return self.fc(torch.flatten(self.pool(torch.relu(y)), 1))


@pytest.mark.parametrize(
    ("build", "shape"), [(_alexnet, (3, 127, 127)), (_vgg, (3, 32, 32)), (_Res, (3, 16, 16))]
)
def test_macs_agree_with_torchinfo_on_plain_pytorch_stacks(build, shape):
    torch.manual_seed(0)
    _check_against_torchinfo(build(), shape)


def test_a_printed_summary_is_a_table_and_still_the_rows():
    """Item 15: ``print(summary(model, shape))`` was one unreadable line of dicts."""
    model = create_model("lenet5")
    rows = summary(model, (1, 28, 28))
    assert isinstance(rows, list) and rows[-1]["macs"] == 416_520
    assert rows == [dict(r) for r in rows]  # the rows are plain dicts, as before
    text = str(rows)
    assert repr(rows) == text
    lines = text.splitlines()
    assert lines[0] == "LeNet5 on input (1, 28, 28)"
    assert lines[2].split() == ["layer", "type", "output", "params", "MACs", "RF", "jump"]
    for row in rows:  # every row, its numbers whole (never "82,8…")
        line = next(line for line in lines if line.split()[:1] == [row["name"]])
        assert f"{row['parameters']:,}" in line.split() and f"{row['macs']:,}" in line.split()
    assert "…" not in text and "61,706 parameters; 416,520 MACs per sample" in text
    assert max(len(line) for line in lines) <= max(len(lines[1]), 72)  # the rules' width


def test_a_printed_summary_rounds_fractional_fields():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Upsample(scale_factor=3, mode="bilinear"))
    text = str(summary(net, (1, 8, 8)))
    assert "0.33x0.33" in text and "0.333" not in text  # the jump after upsampling
    assert "note: after resampling" in text
