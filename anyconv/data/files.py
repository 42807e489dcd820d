"""Inputs for prediction from files: images and NumPy arrays, shaped for a model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from anyconv.data.images import IMAGE_SUFFIXES, decode_image, read_image
from anyconv.data.transforms import ImageTransform


def _image(
    path: Path, input_shape: tuple[int, ...], transform: ImageTransform | None
) -> np.ndarray:
    from PIL import Image

    if len(input_shape) != 3:
        raise ValueError(
            f"{path}: an image, but the model takes inputs of shape "
            f"{input_shape} (C, H, W expected for images)"
        )
    channels = 1 if input_shape[0] == 1 else 3
    if transform is not None:  # the geometry of the run's test transform
        return transform(decode_image(path, channels))[None]
    a = read_image(path, channels=channels)
    if a.shape[1:] != input_shape[1:]:
        # A different size is resized (bilinear) to what the model was trained on.
        h, w = input_shape[1:]
        planes = [np.asarray(Image.fromarray(p).resize((w, h), Image.BILINEAR)) for p in a]
        a = np.stack(planes).astype(np.float32)
    if a.shape[0] != input_shape[0]:
        raise ValueError(
            f"{path}: image has {a.shape[0]} channels, the model takes {input_shape[0]}"
        )
    return a[None]


def _array(path: Path, input_shape: tuple[int, ...]) -> np.ndarray:
    try:
        a = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: not a readable .npy array ({e})") from None
    a = np.asarray(a, dtype=np.float32)
    if a.shape == input_shape:
        return a[None]
    if a.shape[1:] == input_shape:
        return a
    if input_shape[0] == 1 and a.shape == input_shape[1:]:
        return a[None, None]
    if input_shape[0] == 1 and a.shape[1:] == input_shape[1:]:
        return a[:, None]
    raise ValueError(
        f"{path}: array of shape {a.shape} fits neither one input "
        f"{input_shape} nor a batch (N, *{input_shape})"
    )


def load_inputs(
    paths: Sequence[str | Path],
    input_shape: Sequence[int],
    options: Mapping[str, Any] | None = None,
) -> torch.Tensor:
    """Read images (PNG, JPEG, ...) and ``.npy`` arrays into one batch for a model.

    Images are converted to the model's channel count (grey or RGB), scaled to [0, 1] and
    resized (bilinear) to its spatial size. When ``options`` (a run's ``data_options``)
    name an ``image_size``, images get the geometry of the run's test transform instead:
    resized by the shorter side, then centre-cropped. Arrays must hold one input
    ``(C, *spatial)`` (``(*spatial)`` when ``C == 1``) or a batch of them. Values are not
    normalised here: :func:`anyconv.train.inputs.read_inputs` applies the run's input
    normalisation.

    Args:
        paths: files to read.
        input_shape: ``(C, *spatial)`` the model takes.
        options: a run's ``data_options`` (``config.json``), or None.

    Returns:
        float32 ``(N, *input_shape)``, the files' inputs in order.

    Example:
        >>> import tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     np.save(pathlib.Path(tmp) / "a.npy", np.zeros((8, 8)))
        ...     load_inputs([pathlib.Path(tmp) / "a.npy"], (1, 8, 8)).shape
        torch.Size([1, 1, 8, 8])
    """
    input_shape = tuple(input_shape)
    transform = None
    if options and options.get("image_size"):
        transform = ImageTransform(size=options["image_size"])  # resize and crop only
    batches = []
    for path in map(Path, paths):
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
        suffix = path.suffix.lower()
        if suffix in IMAGE_SUFFIXES:
            batches.append(_image(path, input_shape, transform))
        elif suffix == ".npy":
            batches.append(_array(path, input_shape))
        else:
            raise ValueError(
                f"{path}: unknown file type {suffix!r}; expected an image "
                f"({', '.join(sorted(IMAGE_SUFFIXES))}) or a .npy array"
            )
    if not batches:
        raise ValueError("load_inputs(): argument 'paths' must name at least one file; got []")
    return torch.from_numpy(np.concatenate(batches))
