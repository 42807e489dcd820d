"""The analysis subcommands: summary, equivariance, animate, matrix."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from anyconv.cli import main


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main(["train", "lenet5", "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    return out


def test_summary_table_has_macs_and_fields(capsys, tmp_path):
    picture = tmp_path / "rf.png"
    assert main(["summary", "lenet5", "--fields", str(picture)]) == 0
    out = capsys.readouterr().out
    assert "MACs" in out and "416,520" in out and "16x16" in out and "FLOPs" in out
    assert picture.stat().st_size > 0


def test_summary_json(capsys):
    assert main(["summary", "tcn", "--input-shape", "1,40", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    total = report["rows"][-1]
    assert total["name"] == "total" and total["flops"] == 2 * total["macs"] > 0
    assert report["rows"][0]["receptive_field"]["size"] == [5]


def test_summary_and_equivariance_of_a_run_folder(run_dir, capsys):
    assert main(["summary", str(run_dir)]) == 0
    assert "lenet5 trained on digits" in capsys.readouterr().out
    assert main(["equivariance", str(run_dir), "--shifts", "-2..2", "--samples", "8"]) == 0
    out = capsys.readouterr().out
    assert "same class" in out and "Consistency" in out
    with Image.open(run_dir / "equivariance.png") as png:
        assert png.format == "PNG"
    assert (run_dir / "samples.png").stat().st_size > 0  # the run folder's sample grid


def test_equivariance_of_a_model_name(tmp_path, capsys):
    out = tmp_path / "e.png"
    assert (
        main(
            [
                "equivariance",
                "cnn1d",
                "--shifts",
                "0,1,2",
                "--samples",
                "4",
                "--mode",
                "circular",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "features.0" in capsys.readouterr().out and out.stat().st_size > 0


def test_animate_gif_and_frames(tmp_path, capsys):
    gif = tmp_path / "conv.gif"
    assert (
        main(
            [
                "animate",
                "--input",
                "5,5",
                "--kernel",
                "3",
                "--stride",
                "2",
                "--padding",
                "same",
                "--dilation",
                "1",
                "--out",
                str(gif),
            ]
        )
        == 0
    )
    assert "9 frames" in capsys.readouterr().out
    with Image.open(gif) as image:
        assert image.n_frames == 9
    strip = tmp_path / "conv.png"
    assert (
        main(
            [
                "animate",
                "--input",
                "6",
                "--kernel",
                "3",
                "--padding",
                "causal",
                "--frames",
                "--out",
                str(strip),
            ]
        )
        == 0
    )
    assert "(2, 0)" in capsys.readouterr().out and strip.stat().st_size > 0


def test_matrix(tmp_path, capsys):
    out = tmp_path / "m.png"
    assert (
        main(
            [
                "matrix",
                "--input",
                "4,4",
                "--kernel",
                "3",
                "--padding",
                "circular",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "16 x 16 with 144 nonzeros" in capsys.readouterr().out
    assert main(["matrix", "--input", "4,4", "--kernel", "5", "--out", str(out)]) == 2
    assert "kernel is larger" in capsys.readouterr().err


def test_animate_and_matrix_transposed(tmp_path, capsys):
    gif = tmp_path / "t.gif"
    argv = ["animate", "--transpose", "--input", "2,2", "--kernel", "3", "--stride", "2"]
    assert main([*argv, "--out", str(gif)]) == 0
    text = " ".join(capsys.readouterr().out.split())  # the console wraps at 80 columns
    assert "25 frames" in text and "padded by (2, 2), (2, 2)" in text and "(5, 5)" in text
    with Image.open(gif) as image:
        assert image.n_frames == 25
    png = tmp_path / "m.png"
    argv = ["matrix", "--transpose", "--input", "4,4", "--stride", "2", "--padding", "1"]
    assert main([*argv, "--out", str(png)]) == 0
    assert "M^T (16 x 4)" in " ".join(capsys.readouterr().out.split())
    assert png.stat().st_size > 0
    argv = ["animate", "--transpose", "--input", "4", "--stride", "2", "--output-padding", "2"]
    assert main([*argv, "--out", str(tmp_path / "x.gif")]) == 2
    assert "output_padding" in capsys.readouterr().err


def test_equivariance_of_a_run_on_resized_folder_images(tmp_path, capsys):
    """The run's test split is read with its own transform (``data_options``): images of
    mixed sizes, resized for training, used to be loaded as they are and refused."""
    import numpy as np

    rng = np.random.default_rng(0)
    for part, n in (("train", 6), ("test", 2)):
        for c in ("a", "b"):
            folder = tmp_path / "images" / part / c
            folder.mkdir(parents=True)
            for i in range(n):
                w, h = (int(v) for v in rng.integers(12, 30, 2))
                pixels = rng.integers(0, 256, (h, w), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.png")
    run = tmp_path / "run"
    argv = ["--image-size", "16", "--epochs", "1", "--quiet", "--no-plots", "--workers", "0"]
    data = f"folder:{tmp_path / 'images'}"
    assert main(["train", "lenet5", "--data", data, "--out", str(run), *argv]) == 0
    out = tmp_path / "eq.png"
    assert (
        main(["equivariance", str(run), "--samples", "4", "--shifts", "0,1", "--out", str(out)])
        == 0
    )
    assert "4 test samples" in capsys.readouterr().out and out.stat().st_size > 0


OWN_MODEL = """
import torch
import anyconv.nn as ann


class Small(torch.nn.Module):
    def __init__(self, in_channels=1, num_classes=10):
        super().__init__()
        self.conv = ann.Conv2d(in_channels, 4, 3, stride=2)
        self.head = torch.nn.Linear(4, num_classes)

    def forward(self, x):
        return self.head(self.conv(x).mean((2, 3)))


def build(num_classes: int = 10) -> torch.nn.Module:
    head = torch.nn.LazyLinear(num_classes)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 2, 5), torch.nn.Flatten(), head)
"""


def test_summary_of_your_own_model_by_module_or_file(tmp_path, capsys, monkeypatch, request):
    """Item 15: ``anyconv summary module:Name`` (or ``file.py:Name``) builds your model,
    with the arguments it takes, and prints the library's counts."""
    import sys

    from anyconv.analysis import summary
    from anyconv.cli.analysis import import_model

    (tmp_path / "summarised_nets.py").write_text(OWN_MODEL)
    monkeypatch.chdir(tmp_path)
    request.addfinalizer(lambda: sys.modules.pop("summarised_nets", None))
    assert (
        main(["summary", "summarised_nets:Small", "--input-shape", "3,9,9", "--num-classes", "5"])
        == 0
    )
    out = capsys.readouterr().out
    model, shape, _ = import_model("summarised_nets:Small", (3, 9, 9), 5)
    total = summary(model, shape)[-1]
    assert model.head.out_features == 5 and model.conv.in_channels == 3
    assert f"{total['macs']:,}" in out and f"{total['parameters']:,}" in out
    assert "Small (summarised_nets) on input (3, 9, 9)" in out
    assert (
        main(["summary", str(tmp_path / "summarised_nets.py") + ":build", "--input-shape", "1,8,8"])
        == 0
    )
    assert "Conv2d" in capsys.readouterr().out
    for argv, message in (
        (["summary", "summarised_nets:Small"], "needs --input-shape"),
        (["summary", "summarised_nets:Nothing", "--input-shape", "1,8,8"], "has no 'Nothing'"),
        (["summary", "nosuch:Net", "--input-shape", "1,8,8"], "cannot be imported"),
    ):
        assert main(argv) == 2
        assert message in capsys.readouterr().err
