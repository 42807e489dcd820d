"""Receptive fields: hand-derived values for classic stacks, and the analytic fields against
the gradient-measured ones on every registered model."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import anyconv.nn as ann
from anyconv.analysis import receptive_field
from anyconv.models import create_model, list_models
from anyconv.viz import conv_layers


def _field(fields, name):
    f = fields[name]
    return f.size, f.jump, f.start


def test_lenet5_by_hand():
    # 28x28: conv5 pad 2 -> pool2 -> conv5 valid -> pool2 (all ceil_mode pools, even sizes)
    net = create_model("lenet5", in_channels=1, num_classes=10, input_size=(28, 28))
    f = receptive_field(net, (1, 28, 28))
    assert _field(f, "features.1") == ((5, 5), (1, 1), (0, 0))  # centre 0: (2 - 2) * 1
    assert _field(f, "features.3") == ((6, 6), (2, 2), (0.5, 0.5))
    assert _field(f, "features.4") == ((14, 14), (2, 2), (4.5, 4.5))  # 6 + 4*2; 0.5 + 2*2
    assert _field(f, "features.6") == ((16, 16), (4, 4), (5.5, 5.5))
    assert _field(f, "features") == _field(f, "features.6")  # containers are keyed too
    assert "classifier.1" not in f  # not a spatial map
    # 32x32 (the paper's size): no padding, so the first centre is 2
    f = receptive_field(create_model("lenet5", input_size=(32, 32)), (1, 32, 32))
    assert _field(f, "features.6") == ((16, 16), (4, 4), (7.5, 7.5))


@pytest.mark.parametrize(("levels", "kernel"), [(1, 3), (3, 2), (4, 3)])
def test_dilated_tcn_stack(levels, kernel):
    net = create_model(
        "tcn", in_channels=1, num_classes=2, input_size=(64,), levels=levels, kernel_size=kernel
    )
    f = receptive_field(net, (1, 64))
    size = 1 + 2 * (kernel - 1) * (2**levels - 1)
    # causal: the field of output t is [t - size + 1, t], so the first centre is -(size-1)/2
    assert _field(f, f"blocks.{levels - 1}") == ((size,), (1,), (-(size - 1) / 2,))
    assert f["blocks"].size == (net.receptive_field,)


def test_causal_3d_stack():
    net = nn.Sequential(
        *(ann.Conv3d(2, 2, 3, padding=("causal", "same", "same")) for _ in range(3)),
        ann.MaxPool3d((1, 2, 2)),
    )
    f = receptive_field(net, (2, 8, 8, 8))
    # three 3x3x3 layers: 7 samples per axis; in time they end at t (centre t - 3)
    assert _field(f, "2") == ((7, 7, 7), (1, 1, 1), (-3, 0, 0))
    assert _field(f, "3") == ((7, 8, 8), (1, 2, 2), (-3, 0.5, 0.5))


def test_alexnet_style_stack():
    c = 4  # channel counts do not change the geometry; small ones keep the test fast
    net = nn.Sequential(
        nn.Conv2d(3, c, 11, stride=4, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, stride=2),
        nn.Conv2d(c, c, 5, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, stride=2),
        nn.Conv2d(c, c, 3, padding=1),
        nn.Conv2d(c, c, 3, padding=1),
        nn.Conv2d(c, c, 3, padding=1),
        nn.MaxPool2d(3, stride=2),
        nn.AdaptiveAvgPool2d((6, 6)),
        nn.Flatten(),
        nn.Linear(c * 36, 10),
    )
    f = receptive_field(net, (3, 224, 224))
    # by hand: r += (k-1) j; j *= s; start += ((k-1)/2 - pad) j
    assert _field(f, "0") == ((11, 11), (4, 4), (3, 3))  # (5 - 2) * 1
    assert _field(f, "2") == ((19, 19), (8, 8), (7, 7))  # 11 + 2*4; 3 + 1*4
    assert _field(f, "3") == ((51, 51), (8, 8), (7, 7))  # 19 + 4*8; (2 - 2)
    assert _field(f, "5") == ((67, 67), (16, 16), (15, 15))
    assert _field(f, "8") == ((163, 163), (16, 16), (15, 15))  # 67 + 3 * 2*16
    assert _field(f, "9") == ((195, 195), (32, 32), (31, 31))  # AlexNet's pool5: 195
    assert _field(f, "10") == ((195, 195), (32, 32), (31, 31))  # 6 -> 6: a 1x1 window


def test_vgg_style_stack():
    layers, c_in = [], 3
    for convs in (2, 2, 3, 3, 3):
        for _ in range(convs):
            layers += [nn.Conv2d(c_in, 2, 3, padding=1), nn.ReLU()]
            c_in = 2
        layers.append(nn.MaxPool2d(2))
    f = receptive_field(nn.Sequential(*layers), (3, 32, 32))
    names = [n for n, m in nn.Sequential(*layers).named_children() if isinstance(m, nn.MaxPool2d)]
    # by hand, stage by stage: conv3s add 2j each, the pool adds j and doubles j
    expected = [(6, 2, 0.5), (16, 4, 1.5), (44, 8, 3.5), (100, 16, 7.5), (212, 32, 15.5)]
    for name, (size, jump, start) in zip(names, expected):
        assert _field(f, name) == ((size,) * 2, (jump,) * 2, (start,) * 2)
    assert f[str(int(names[-1]) - 2)].size == (196, 196)  # VGG-16's conv5_3


class _Block(nn.Module):
    """A ResNet basic block that halves the size, with a 1x1 stride-2 shortcut."""

    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.down = nn.Conv2d(c_in, c_out, 1, stride=2)

    def forward(self, x):
        out = self.conv2(self.relu(self.conv1(x)))
        out += self.down(x)
        return self.relu(out)


def test_resnet_style_residual_merge_and_global_pooling():
    net = nn.Sequential(
        nn.Conv2d(3, 4, 7, stride=2, padding=3),
        nn.MaxPool2d(3, stride=2, padding=1),
        _Block(4, 8),
        _Block(8, 8),
        nn.AdaptiveAvgPool2d(1),
    )
    f = receptive_field(net, (3, 64, 64))
    assert _field(f, "0") == ((7, 7), (2, 2), (0, 0))
    assert _field(f, "1") == ((11, 11), (4, 4), (0, 0))
    # main path: conv3 s2 (+2*4, j 8), conv3 (+2*8); the 1x1 shortcut adds nothing and
    # has the same jump, so the union is the main path, centred alike
    assert _field(f, "2") == ((35, 35), (8, 8), (0, 0))
    assert _field(f, "2.down") == ((11, 11), (8, 8), (0, 0))
    assert _field(f, "3") == ((83, 83), (16, 16), (0, 0)) and f["3"].note == ""
    # global pooling of the 4x4 map: one position that sees all 4 fields 16 apart
    assert _field(f, "4") == ((83 + 3 * 16,) * 2, (64, 64), (24, 24))


def test_paths_that_disagree_in_jump_take_the_largest_field_and_say_so():
    class Gate(nn.Module):  # squeeze-and-excitation: a global branch gates every position
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 2, 3, padding=1)

        def forward(self, x):
            y = self.conv(x)
            return y * torch.sigmoid(y.mean((2, 3), keepdim=True))

    f = receptive_field(nn.Sequential(Gate()), (2, 10, 10))
    assert f["0.conv"].size == (3, 3)
    assert f["0"].size == (12, 12)  # the whole input plus the border the 3x3 reads
    assert "largest field" in f["0"].note


def test_concatenated_branches_take_the_largest_field():
    f = receptive_field(
        create_model("inception_tiny", in_channels=1, num_classes=10, input_size=(16, 16)),
        (1, 16, 16),
    )
    branches = [f[f"features.3.{b}"].size for b in ("branch1", "branch3", "branch5")]
    assert f["features.3"].size == max(branches)


def test_per_axis_rules_dilation_stride_and_anyconv_layers():
    net = nn.Sequential(
        ann.Conv2d(1, 2, 3, padding=("causal", "same"), dilation=(2, 1)),
        ann.LocallyConnected2d(2, 2, 3, input_size=(9, 9), stride=2, padding="same"),
        ann.TiledConv2d(2, 2, 3, tiles=2, padding="valid"),
        ann.SeparableConv2d(2, 2, (3, 5), rank=1, padding="full"),
        ann.DepthwiseConv(2, 3, padding="same", stride=2),
    )
    f = receptive_field(net, (1, 9, 9))
    # causal with dilation 2 in rows (k_eff 5, lo 4), same in columns (lo 1)
    assert _field(f, "0") == ((5, 3), (1, 1), (-2, 0))
    # same with stride 2 on 9: 5 outputs, total padding 2, lo 1
    assert _field(f, "1") == ((7, 5), (2, 2), (-2, 0))
    assert _field(f, "2") == ((11, 9), (2, 2), (0, 2))
    # full: lo = k - 1, so the first centre moves back by (k-1)/2 positions
    assert _field(f, "3") == ((15, 17), (2, 2), (-2, -2))
    assert _field(f, "4") == ((19, 21), (4, 4), (-2, -2))


def test_adaptive_and_global_pooling_cover_the_whole_input():
    for pool in (nn.AdaptiveAvgPool2d(1), ann.GlobalAvgPool(keepdim=True)):
        f = receptive_field(nn.Sequential(nn.Conv2d(1, 2, 3), pool), (1, 16, 16))
        assert f["1"].size == (16, 16) and f["1"].start == (7.5, 7.5)


def test_frames_folded_into_the_batch_keep_a_one_frame_field():
    net = create_model("frame2d", in_channels=1, num_classes=4, input_size=(4, 8, 8))
    f = receptive_field(net, (1, 4, 8, 8))
    assert f["body.0"].size == (1, 3, 3)
    assert f["body"].size[0] == 1


def test_unknown_shape_changes_name_the_module():
    class Shuffle(nn.Module):
        def forward(self, x):
            return nn.functional.pixel_shuffle(x, 2)

    class Keep(nn.Module):  # an unknown op that keeps the shape: pointwise
        def forward(self, x):
            return torch.roll(x, 1, dims=2)

    f = receptive_field(nn.Sequential(nn.Conv2d(1, 4, 3), Keep()), (1, 8, 8))
    assert f["1"].size == (3, 3)
    with pytest.raises(ValueError, match=r"module '1' \(Shuffle\)"):
        receptive_field(nn.Sequential(nn.Conv2d(1, 4, 3), Shuffle()), (1, 8, 8))


def test_bad_arguments():
    net = nn.Conv2d(1, 1, 3)
    with pytest.raises(ValueError, match="method"):
        receptive_field(net, (1, 8, 8), method="exact")
    with pytest.raises(TypeError, match="input_shape"):
        receptive_field(net, "1,8,8")
    with pytest.raises(TypeError, match="model"):
        receptive_field(lambda x: x, (1, 8, 8))


SMALL = {1: (1, 24), 2: (1, 12, 12), 3: (1, 4, 8, 8)}


@pytest.mark.parametrize("name", sorted(set(list_models()) - {"minirocket"}))
def test_gradient_field_equals_the_analytic_one_on_every_registered_model(name):
    # minirocket is left out: its PPV pooling compares each output with B thresholds along a
    # new axis, which the layout tracer has no rule for (its convolutions' fields are those
    # of single dilated Conv1d layers, which the other models test)
    from anyconv.models import default_input_shape

    torch.manual_seed(0)
    shape = SMALL[len(default_input_shape(name)) - 1]
    net = create_model(name, in_channels=1, num_classes=3, input_size=shape[1:])
    analytic = receptive_field(net, shape)
    measured = receptive_field(net, shape, method="gradient")
    assert measured.keys() == analytic.keys()
    # a network without convolutions (the MLP flattens its input first) has no feature map
    assert bool(analytic) == bool(conv_layers(net))
    compared = 0
    for key, a in analytic.items():
        m = measured[key]
        if "clipped by" in m.note or "upper bound" in a.note:  # clipped, or resampled
            assert all(s <= t for s, t in zip(m.size, a.size)), key
        elif m.note:  # the field fits, its neighbours' do not: only the size is exact
            assert m.size == a.size, key
        else:
            assert m.size == a.size and m.jump == a.jump and m.start == a.start, key
            compared += 1
    # at 12x12 lenet5 upsamples first; a network without feature maps has nothing to compare
    assert compared >= 1 or name == "lenet5" or not analytic


def test_gradient_field_of_lenet5_at_28x28_without_upsampling():
    net = create_model("lenet5", in_channels=1, num_classes=10, input_size=(28, 28))
    analytic = receptive_field(net, (1, 28, 28))
    measured = receptive_field(net, (1, 28, 28), method="gradient")
    for key in ("features.1", "features.3", "features.4", "features.6"):
        assert measured[key].size == analytic[key].size, key


def test_field_maps_and_stages():
    from anyconv.analysis import field_maps, receptive_field_stages

    net = nn.Sequential(
        nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(2, 2, 1), nn.Conv2d(2, 2, 3)
    )
    assert receptive_field_stages(net, (1, 16, 16)) == ["0", "2", "4"]
    (m,) = field_maps(net, (1, 16, 16), ["4"])
    rows = (m.gradient.sum(1) > 0).nonzero().flatten()
    (lo, hi), _ = m.box()
    assert (int(rows[0]), int(rows[-1])) == (lo, hi) and hi - lo + 1 == m.analytic.size[0] == 8
    assert m.measured.size == (8, 8) and m.gradient.min() >= 0
    with pytest.raises(ValueError, match="layers"):
        field_maps(net, (1, 16, 16), ["nosuch"])
