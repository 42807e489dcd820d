"""Convolution arithmetic animations and the matrix picture: frames checked against the
window formula, from the rectangles actually drawn."""

from __future__ import annotations

import math

import pytest
import torch
from PIL import Image

from anyconv import output_shape, resolve_padding
from anyconv.viz import animate_conv, conv_windows, plot_conv_matrix


def _formula(size, kernel, stride, padding, dilation):
    """Input cells read by each output position, from the output-size rule directly."""
    nd = len(size)
    pads = resolve_padding(size, kernel, stride=stride, padding=padding, dilation=dilation)
    out = output_shape(size, kernel, stride=stride, padding=padding, dilation=dilation)
    k = (kernel,) * nd if isinstance(kernel, int) else kernel
    s = (stride,) * nd if isinstance(stride, int) else stride
    d = (dilation,) * nd if isinstance(dilation, int) else dilation
    frames = []
    positions = [()]
    for o in out:
        positions = [(*p, j) for p in positions for j in range(o)]
    for pos in positions:
        cells = [()]
        for axis in range(nd):
            start = pos[axis] * s[axis] - pads[axis][0]
            cells = [(*c, start + t * d[axis]) for c in cells for t in range(k[axis])]
        frames.append(sorted(cells))
    return out, frames


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "padding", "dilation"),
    [
        ((5, 5), 3, 2, "same", 1),  # odd size: (lo, hi) = (1, 1)
        ((6, 6), 3, 2, "same", 1),  # even size: (0, 1), the padding only at the end
        ((7,), 3, 1, "causal", 2),  # all the padding at the start, dilated taps
        ((3, 4), (2, 3), (1, 2), ("causal", "full"), 1),
        ((6,), 4, 2, "same", 1),
    ],
)
def test_frames_highlight_exactly_the_cells_the_formula_reads(
    tmp_path, size, kernel, stride, padding, dilation
):
    anim = animate_conv(
        size,
        kernel,
        stride=stride,
        padding=padding,
        dilation=dilation,
        out=tmp_path / "a.gif",
        dpi=30,  # the drawing is what is checked, not its resolution
    )
    out, expected = _formula(size, kernel, stride, padding, dilation)
    assert anim.output_size == out
    assert len(anim.frames) == math.prod(out)
    for frame, cells in zip(anim.frames, expected):
        assert sorted(frame.drawn) == cells  # read back from the drawn rectangles
        assert sorted(frame.taps) == cells
    with Image.open(anim.path) as gif:
        assert gif.n_frames == len(anim.frames)


def test_same_with_stride_puts_the_odd_padding_at_the_end():
    assert conv_windows((6,), 3, stride=2, padding="same").padding == ((0, 1),)
    assert conv_windows((5,), 3, stride=2, padding="same").padding == ((1, 1),)
    assert conv_windows((5,), 3, padding="causal").padding == ((2, 0),)


def test_frames_as_a_png_strip(tmp_path):
    anim = animate_conv((4, 4), 3, out=tmp_path / "s.png", strip=True, dpi=40)
    with Image.open(anim.path) as png:
        assert png.format == "PNG" and png.size[0] > png.size[1] > 100


def test_3d_and_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="one slice"):
        animate_conv((4, 5, 5), 3)
    with pytest.raises(ValueError, match="padding"):
        animate_conv((5,), 3, padding="wide")
    with pytest.raises(ValueError, match="kernel is larger"):
        animate_conv((2,), 5)


def test_matrix_picture(tmp_path):
    w = torch.arange(1.0, 10.0).view(1, 1, 3, 3)
    for mode in ("zeros", "circular"):
        path = plot_conv_matrix(
            w, (1, 4, 4), tmp_path / f"{mode}.png", padding="same", padding_mode=mode
        )
        with Image.open(path) as png:
            assert png.format == "PNG" and min(png.size) > 300
    plot_conv_matrix(torch.randn(2, 2, 3), (2, 8), tmp_path / "1d.png", padding="causal")
    with pytest.raises(ValueError, match="at most 4096"):
        plot_conv_matrix(torch.randn(1, 1, 3, 3), (1, 80, 80), tmp_path / "big.png")


def test_receptive_field_and_equivariance_pictures(tmp_path):
    import anyconv.nn as ann
    from anyconv.analysis import layer_equivariance, shift_consistency
    from anyconv.viz import plot_equivariance, plot_receptive_field

    for shape in ((1, 24), (1, 12, 12), (1, 6, 8, 8)):
        nd = len(shape) - 1
        net = torch.nn.Sequential(
            ann.ConvNd(1, 2, 3, ndim=nd), ann.ConvNd(2, 2, 3, stride=2, ndim=nd)
        )
        path = plot_receptive_field(net, shape, tmp_path / f"rf{nd}.png", title="test")
        with Image.open(path) as png:
            assert png.format == "PNG"
    net = torch.nn.Sequential(
        ann.Conv2d(1, 2, 3, padding="same"), ann.MaxPool2d(2), ann.GlobalAvgPool()
    )
    x = torch.randn(4, 1, 12, 12)
    errors = layer_equivariance(net, x, range(-2, 3))
    assert list(errors) == ["0", "1"] and errors["1"][0]["stride"] == (2, 2)
    path = plot_equivariance(
        errors,
        tmp_path / "e.png",
        consistency=shift_consistency(net, x, range(-2, 3)),
        title="test",
    )
    with Image.open(path) as png:
        assert png.format == "PNG"
    with pytest.raises(ValueError, match="layers"):
        plot_equivariance({}, tmp_path / "x.png")


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "padding", "output_padding", "dilation", "draw"),
    [
        ((2, 2), 3, 2, 1, 0, 1, True),  # 9 frames, drawn
        ((2, 2), 3, 2, "valid", 0, 1, False),  # Dumoulin & Visin's figure 4.5: padded by 2
        ((3, 3), 4, 2, 1, 1, 1, False),  # windows start inside the padding of 2
        ((5,), 3, 2, "same", 0, 1, True),  # 5 -> 10, the extra padding at the end
        ((4,), 2, 3, 0, 0, 2, False),  # dilation and a stride above the kernel: empty outputs
        ((3, 4), (2, 3), (1, 2), ("causal", (3, 0)), 0, 1, False),  # windows start inside
    ],
)
def test_transposed_frames_compute_conv_transpose(
    tmp_path, size, kernel, stride, padding, output_padding, dilation, draw
):
    """Each frame's taps (read back from the drawn rectangles where the case is drawn),
    with the flipped kernel over the zero-inserted grid, give anyconv.conv_transpose's
    output at that position."""
    import anyconv

    anim = animate_conv(
        size,
        kernel,
        stride=stride,
        padding=padding,
        dilation=dilation,
        out=tmp_path / "t.gif" if draw else None,
        dpi=30,
        transpose=True,
        output_padding=output_padding,
    )
    nd = len(size)
    y = torch.randn(1, 1, *size, dtype=torch.float64)
    k = (kernel,) * nd if isinstance(kernel, int) else kernel
    w = torch.randn(1, 1, *k, dtype=torch.float64)
    want = anyconv.conv_transpose(
        y, w, stride=stride, padding=padding, output_padding=output_padding, dilation=dilation
    )[0, 0]
    assert anim.output_size == tuple(want.shape) and len(anim.frames) == want.numel()
    s = anim.inserted
    flipped = w[0, 0].flip(tuple(range(nd)))
    for frame in anim.frames:
        assert sorted(frame.drawn) == (sorted(frame.taps) if draw else [])
        total = 0.0
        for q, cell in zip(_tap_indices(k), frame.taps):
            inside = all(0 <= c < g for c, g in zip(cell, anim.input_size))
            if inside and all(c % p == 0 for c, p in zip(cell, s)):
                total += float(flipped[q] * y[(0, 0, *(c // p for c, p in zip(cell, s)))])
        assert abs(total - float(want[frame.output])) < 1e-12
    if draw:
        with Image.open(anim.path) as gif:
            assert gif.n_frames == len(anim.frames)


def _tap_indices(kernel):
    taps = [()]
    for k in kernel:
        taps = [(*t, q) for t in taps for q in range(k)]
    return taps


def test_transposed_matrix_is_drawn_beside_the_matrix(tmp_path):
    w = torch.arange(1.0, 10.0).view(1, 1, 3, 3)
    path = plot_conv_matrix(w, (1, 5, 5), tmp_path / "t.png", stride=2, transpose=True)
    with Image.open(path) as png:
        assert png.format == "PNG" and png.size[0] > png.size[1] > 300
    with pytest.raises(ValueError, match="'zeros' with transpose=True"):
        plot_conv_matrix(w, (1, 4, 4), tmp_path / "c.png", padding_mode="circular", transpose=True)
