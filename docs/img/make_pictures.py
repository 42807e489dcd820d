"""Regenerate the README's pictures of the analysis tools.

    anyconv train lenet5 --data idx:DIR --epochs 1 --lr 3e-3 --out runs/lenet5-mnist
    python docs/img/make_pictures.py runs/lenet5-mnist

(DIR holds MNIST's IDX files; the README's pictures come from one epoch, 98.5% test
accuracy.)

Writes into docs/img/: receptive_fields.png, equivariance.png, blurpool.png, conv.gif,
matrix.png, feature_maps.png, filters.png, samples.png, and the transposed convolution's
conv_transpose.gif and matrix_transpose.png (alone: ``python docs/img/make_pictures.py
--transposed``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

import anyconv.nn as ann
from anyconv.analysis import layer_equivariance, receptive_field_stages, shift_consistency
from anyconv.models import create_model
from anyconv.train import load_run
from anyconv.train.run import load_run_data
from anyconv.viz import (
    animate_conv,
    plot_conv_matrix,
    plot_equivariance,
    plot_receptive_field,
    write_network_pictures,
)

OUT = Path(__file__).parent


def shrink(path: Path, colours: int = 96, method: str = "MEDIANCUT") -> None:
    """A palette PNG: plots have few colours, and the README's pictures stay small.

    ``method`` names a ``PIL.Image.Quantize`` member; ``"FASTOCTREE"`` keeps the colours of
    thin lines that median cut merges into their neighbours."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colours, method=Image.Quantize[method])
    small.save(path, optimize=True)


def main(run_dir: str) -> None:
    torch.manual_seed(0)
    plot_receptive_field(
        create_model("lenet5", input_size=(28, 28)),
        (1, 28, 28),
        OUT / "receptive_fields.png",
        title="lenet5 on 28x28 images",
    )

    model, config = load_run(run_dir)
    data = load_run_data(config)
    trained = f"{config['model']} trained on {data.spec.label}"
    x = data.first_samples("test", 128)[0]
    shifts = range(-4, 5)
    names = receptive_field_stages(model, tuple(config["input_shape"]))
    errors = layer_equivariance(model, x, shifts, mode="crop", layers=names)
    modules = dict(model.named_modules())
    errors = {f"{n} {type(modules[n]).__name__}": rows for n, rows in errors.items()}
    plot_equivariance(
        errors,
        OUT / "equivariance.png",
        consistency=shift_consistency(model, x, shifts, mode="zeros"),
        title=f"{trained}, {len(x)} test samples",
    )
    write_network_pictures(OUT, model, data, title=trained)

    # aliasing: stride-2 max pooling against its blurred version, circular borders so that
    # only the subsampling differs
    images = torch.rand(16, 8, 32, 32, generator=torch.Generator().manual_seed(0))
    pools = {
        "MaxPool2d(2)": ann.MaxPool2d(2),
        "MaxBlurPool2d(2), filter 3": ann.MaxBlurPool2d(2, padding_mode="circular"),
        "MaxBlurPool2d(2), filter 5": ann.MaxBlurPool2d(2, filter_size=5, padding_mode="circular"),
    }
    rows = {
        name: layer_equivariance(
            torch.nn.Sequential(pool), images, shifts, mode="circular", layers=["0"]
        )["0"]
        for name, pool in pools.items()
    }
    plot_equivariance(
        rows,
        OUT / "blurpool.png",
        title="anti-aliased pooling on random 32x32 maps",
        mode="circular",
    )

    animate_conv((5, 5), 3, stride=2, padding="same", out=OUT / "conv.gif")
    plot_conv_matrix(
        torch.arange(1.0, 10.0).view(1, 1, 3, 3),
        (1, 4, 4),
        OUT / "matrix.png",
        padding="same",
        padding_mode="circular",
    )
    transposed()
    for png in OUT.glob("*.png"):
        shrink(png)


def transposed() -> None:
    """The transposed convolution's pictures: after Dumoulin & Visin's figures (2x2 input,
    3x3 kernel, stride 2, padding 1: a 3x3 output, 9 frames), and M^T beside M."""
    animate_conv(
        (2, 2), 3, stride=2, padding=1, transpose=True, out=OUT / "conv_transpose.gif", dpi=75
    )
    plot_conv_matrix(
        torch.arange(1.0, 10.0).view(1, 1, 3, 3),
        (1, 4, 4),
        OUT / "matrix_transpose.png",
        stride=2,
        padding=1,
        transpose=True,
    )
    shrink(OUT / "matrix_transpose.png")


if __name__ == "__main__":
    if sys.argv[1:] == ["--transposed"]:
        transposed()
    else:
        main(sys.argv[1])
