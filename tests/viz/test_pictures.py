"""What a student sees in each picture: nothing cut at the border, every label whole, keys
that describe what is drawn (issue 26, item 16), and pictures written atomically (L3)."""

from __future__ import annotations

import errno
import importlib

import numpy as np
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from pictures import assert_nothing_cut, ink_at_border
from PIL import Image

from anyconv.data import Splits
from anyconv.viz import (
    animate_conv,
    plot_conv_matrix,
    plot_feature_maps,
    plot_filters,
    plot_history,
    write_network_pictures,
)
from anyconv.viz.animate import LEGEND_SIZE, _Painter, conv_windows


@pytest.fixture
def figures(monkeypatch):
    """The matplotlib figures the pictures are drawn on, by file name, as they are saved."""
    drawn = {}
    from anyconv.viz import _figure

    real = _figure.save

    def keep(fig, path, *args, **kwargs):
        written = real(fig, path, *args, **kwargs)
        drawn[written.name] = fig
        return written

    for module in ("maps", "matrix", "filters", "curves", "samples"):
        monkeypatch.setattr(importlib.import_module(f"anyconv.viz.{module}"), "save", keep)
    return drawn


def _inside(fig, artists, margin=0.0):
    """Whether every artist's drawn extent lies inside the figure (by ``margin`` pixels)."""
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    box = fig.bbox
    for artist in artists:
        if not artist.get_visible() or (hasattr(artist, "get_text") and not artist.get_text()):
            continue
        extent = artist.get_window_extent(renderer)
        assert box.x0 + margin <= extent.x0 and extent.x1 <= box.x1 - margin, artist
        assert box.y0 + margin <= extent.y0 and extent.y1 <= box.y1 - margin, artist
    return True


# -- the animation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "kwargs"),
    [((5, 5), dict(stride=2, padding="same")), ((7,), dict(padding="causal", dilation=2))],
)
def test_animation_frames_are_whole_and_the_output_grid_is_not_cut(tmp_path, size, kwargs):
    """Before, the output grid's right column touched the axes' edge, which cut it; the
    legend was 7 pt at 80 dpi (8 pixels), too small for a projector."""
    anim = animate_conv(size, 3, out=tmp_path / "a.gif", **kwargs)
    with Image.open(anim.path) as gif:
        frames = gif.n_frames
    for frame in (0, frames - 1):
        assert_nothing_cut(anim.path, frame)
    painter = _Painter(conv_windows(size, 3, **kwargs), kwargs["padding"], 100)
    painter.frame(0)
    renderer = painter.canvas.get_renderer()
    for ax in (painter.ax_in, painter.ax_out):
        inside = ax.get_window_extent(renderer)
        for path in ax.collections[0].get_paths():  # every cell strictly inside its axes
            cell = ax.transData.transform(path.vertices)
            assert inside.x0 < cell[:, 0].min() and cell[:, 0].max() < inside.x1
            assert inside.y0 < cell[:, 1].min() and cell[:, 1].max() < inside.y1
    legend = painter.fig.legends[0]
    assert all(t.get_fontsize() >= LEGEND_SIZE >= 11 for t in legend.get_texts())
    assert LEGEND_SIZE * 100 / 72 >= 15  # pixels tall at the default 100 dpi
    assert _inside(painter.fig, [legend, painter.caption, painter.fig._suptitle])


def test_animation_frames_are_capped_by_count_and_grid(tmp_path):
    """A 16x16 output is 256 frames, the most allowed; one more is refused before any
    drawing, as is a grid too large to draw."""
    assert len(conv_windows((16, 16), 1).frames) == 256
    with pytest.raises(ValueError, match="at most 256 output positions"):
        animate_conv((17, 16), 1, out=tmp_path / "over.gif")
    with pytest.raises(ValueError, match="at most 64 output positions"):
        animate_conv((9, 8), 1, out=tmp_path / "s.png", strip=True)
    with pytest.raises(ValueError, match="at most 64 cells a side"):
        animate_conv((3,), 3, stride=10**8, padding=10**8, out=tmp_path / "wide.gif")
    assert not (tmp_path / "over.gif").exists() and not (tmp_path / "wide.gif").exists()


# -- the matrix -------------------------------------------------------------------------


def test_matrix_picture_labels_whole_and_colour_bar_one_colour_per_weight(tmp_path, figures):
    """Before, the y label was cut (longer than the figure was high) and the colour bar of
    the weights 1..9 ran from -9 to 9 on a diverging scale, half of it for no weight."""
    w = torch.arange(1.0, 10.0).view(1, 1, 3, 3)
    path = plot_conv_matrix(w, (1, 4, 4), tmp_path / "m.png")
    assert_nothing_cut(path)
    fig = figures["m.png"]
    main, bar = fig.axes
    assert _inside(fig, [main.yaxis.label, main.xaxis.label, bar.yaxis.label])
    assert [float(t) for t in bar.get_yticks()] == [float(v) for v in range(1, 10)]
    lo, hi = bar.get_ylim()
    assert 0 < lo < 1 and 9 < hi < 10  # no colour for a weight that is not there
    # a border sums weights into entries: the bar shows the entries, not the kernel
    plot_conv_matrix(w, (1, 4, 4), tmp_path / "r.png", padding="same", padding_mode="replicate")
    entries = figures["r.png"].axes[1].get_yticks()
    assert max(entries) > 9 and 28 in [round(float(t)) for t in entries]
    # signed weights on a scale symmetric around zero
    plot_conv_matrix(torch.randn(2, 2, 3, 3), (2, 5, 5), tmp_path / "s.png")
    lo, hi = figures["s.png"].axes[1].get_ylim()
    assert lo < 0 < hi


# -- feature maps -----------------------------------------------------------------------


class _LongNames(torch.nn.Module):
    def __init__(self, ndim: int) -> None:
        super().__init__()
        conv = {1: torch.nn.Conv1d, 2: torch.nn.Conv2d, 3: torch.nn.Conv3d}[ndim]
        self.first_convolution_block_with_a_very_long_descriptive_name = conv(1, 4, 3)
        self.second_stage_named_by_someone_who_likes_long_names = conv(4, 20, 1)

    def forward(self, x):
        x = self.first_convolution_block_with_a_very_long_descriptive_name(x)
        return self.second_stage_named_by_someone_who_likes_long_names(x)


@pytest.mark.parametrize("shape", [(1, 40), (1, 12, 12), (1, 10, 8, 8)])
def test_feature_map_row_labels_are_never_cut(tmp_path, figures, shape):
    """Before, a row's label was a text left of its axes, which ran out of the figure on
    long layer names (and on the widest row of a 2-D picture)."""
    torch.manual_seed(0)
    path = plot_feature_maps(
        _LongNames(len(shape) - 1),
        torch.randn(*shape),
        tmp_path / "f.png",
        title="a network with long layer names, trained on a data set with a long name too",
    )
    assert_nothing_cut(path)
    fig = figures["f.png"]
    texts = [t for ax in fig.axes for t in ax.texts] + [fig._suptitle]
    assert _inside(fig, texts)
    words = " ".join(t.get_text() for t in texts)
    if len(shape) == 4:  # videos: all 10 time steps are shown, not "every 10"
        assert "all 10 time steps" in words and "every" not in words.replace("every conv", "")


# -- filters, history, samples ----------------------------------------------------------


def test_rgb_filters_explain_their_colours_instead_of_a_weight_colour_bar(tmp_path, figures):
    """A colour bar of the weight does not describe RGB tiles (each channel's weight is one
    colour's intensity); grey tiles keep theirs."""
    plot_filters(torch.randn(8, 3, 3, 3), tmp_path / "rgb.png")
    plot_filters(torch.randn(8, 2, 3, 3), tmp_path / "grey.png")
    rgb, grey = figures["rgb.png"], figures["grey.png"]
    assert len(rgb.axes) == 1 and "red, green and blue" in rgb._supxlabel.get_text()
    assert len(grey.axes) == 2 and grey.axes[1].get_ylabel() == "weight"
    assert_nothing_cut(tmp_path / "rgb.png")


@pytest.mark.parametrize("steps", [None, [[1.0, 0.8], [0.6, 0.5], [0.5, 0.4]]])
def test_history_panels_share_one_epoch_axis(tmp_path, figures, steps):
    rows = [
        {"epoch": e, "loss": 1 / e, "accuracy": 0.5 + e / 10, "val_accuracy": 0.5 + e / 11}
        for e in (1, 2, 3)
    ]
    plot_history(rows, tmp_path / "h.png", steps=steps, test=(3, 0.4, 0.8))
    loss, accuracy = figures["h.png"].axes
    assert loss.get_xlim() == accuracy.get_xlim()
    assert list(loss.get_xticks()) == list(accuracy.get_xticks())


def test_samples_show_every_class_of_a_folder_listed_class_by_class(tmp_path, figures):
    """An image folder lists its samples class by class: the first 24 of them were all of
    the first class."""
    from anyconv.data import load_dataset

    rng = np.random.default_rng(0)
    for part, count in (("train", 30), ("test", 2)):
        for name in ("ant", "bee", "cat"):
            folder = tmp_path / "imgs" / part / name
            folder.mkdir(parents=True)
            for i in range(count):
                Image.fromarray((rng.random((6, 6)) * 255).astype(np.uint8)).save(
                    folder / f"{i}.png"
                )
    for options in ({}, {"image_size": 6, "stream": True}):
        data = load_dataset(f"folder:{tmp_path / 'imgs'}", **options)
        net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten())
        write_network_pictures(tmp_path / "out", net, data)
        fig = figures["samples.png"]
        labels = [t.get_text() for t in fig.axes[0].texts]
        assert [labels.count(name) for name in ("ant", "bee", "cat")] == [8, 8, 8]
        assert "8 per class, 24 of 90 samples" in fig._suptitle.get_text()


def test_samples_of_many_classes_one_each(tmp_path, figures):
    x, y = torch.rand(60, 1, 4, 4), torch.arange(60) % 30
    data = Splits(x, y, x, y, num_classes=30, kind="image", name="many")
    write_network_pictures(tmp_path, torch.nn.Sequential(torch.nn.Flatten()), data)
    labels = [t.get_text() for t in figures["samples.png"].axes[0].texts]
    assert labels == [str(k) for k in range(24)]


# -- atomic writes (L3) -----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["png", "gif"])
def test_a_failed_write_keeps_the_earlier_picture_and_names_the_file(tmp_path, monkeypatch, kind):
    """Before, a picture written onto a full disk was left truncated over the good one,
    and the error ("[Errno 28] No space left on device") named no file."""
    from anyconv.train import checkpoint

    path = tmp_path / f"picture.{kind}"

    def draw():
        if kind == "gif":
            return animate_conv((4, 4), 3, out=path, dpi=30).path
        return plot_filters(torch.randn(4, 1, 3, 3), path)

    draw()
    before = path.read_bytes()

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint.os, "fsync", full_disk)
    with pytest.raises(OSError) as caught:
        draw()
    assert str(caught.value) == (
        f"no space left on {tmp_path}: {path.name} could not be written (the earlier "
        f"{path.name} is kept); free some space and draw it again"
    )
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary left


def test_border_check_finds_cut_ink(tmp_path):
    image = np.full((20, 30, 3), 255, np.uint8)
    Image.fromarray(image).save(tmp_path / "clean.png")
    image[5:9, -1] = 0
    Image.fromarray(image).save(tmp_path / "cut.png")
    assert not any(ink_at_border(tmp_path / "clean.png").values())
    assert ink_at_border(tmp_path / "cut.png")["right"] == 4


@pytest.mark.parametrize(
    "accuracies",
    [(0.9778, 0.9778, 0.9778), (0.9910, 0.9746, 0.9828)],  # digits, MNIST
)
def test_dense_vs_conv_labels_never_print_on_top_of_each_other(accuracies):
    """Item 11: LeNet-5 and the MLP of its size (82,826 and 82,810 parameters, both at
    97.78% on the digits) printed their labels on top of each other."""
    from matplotlib.text import Text

    from anyconv.experiments.dense_vs_conv import parameters_panel
    from anyconv.viz._figure import new_figure, separate_labels

    table = [
        {"model": name, "parameters": p, "macs": m, "test_accuracy": a}
        for name, p, m, a in zip(
            ("LeNet-5", "MLP 1104 (~1x)", "MLP 873-873 (~10x)"),
            (82_826, 82_810, 828_487),
            (512_040, 81_696, 826_731),
            accuracies,
            strict=True,
        )
    ]
    fig = new_figure(10, 3.8)
    _, ax = fig.subplots(1, 2)
    labels = parameters_panel(ax, table)
    separate_labels(fig, labels)
    renderer = fig.canvas.get_renderer()
    boxes = [Text.get_window_extent(label, renderer) for label in labels]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    assert all(ax.bbox.y0 <= b.y0 and b.y1 <= ax.bbox.y1 for b in boxes)
    assert all(fig.bbox.x0 <= b.x0 and b.x1 <= fig.bbox.x1 for b in boxes)


def test_a_log_axis_labels_its_ticks_as_plain_numbers(tmp_path):
    # the figures draw texts as written (no mathtext, for users' '$'): a log axis' default
    # labels ($\mathdefault{10^{2}}$) would show as code; they read 0.1, 1, 10, 100
    from anyconv.viz._figure import new_figure

    fig = new_figure(4, 3)
    ax = fig.add_subplot()
    ax.loglog([0.05, 200], [1, 1e7])
    fig.savefig(tmp_path / "log.png")
    labels = [t.get_text() for t in [*ax.get_xticklabels(), *ax.get_yticklabels()]]
    assert {"0.1", "1", "10", "100", "1e+06"} <= set(labels)
    assert not any("$" in label or "mathdefault" in label for label in labels)
