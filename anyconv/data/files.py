"""Inputs for prediction from files: images and NumPy arrays, shaped for a model.

A ``.npy`` file is checked from its header before it is loaded, as ``npz:`` archives are:
a file that is no ``.npy`` array (text, an ``.npz`` archive renamed), arrays of Python
objects, strings or complex numbers, a header declaring more data than the file holds or
than memory allows, and an array of no inputs are refused with one line naming the file;
nothing is ever unpickled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from anyconv.data.images import CHANNELS, IMAGE_SUFFIXES, decode_image, read_image
from anyconv.data.npz import npy_header
from anyconv.data.transforms import ImageTransform
from anyconv.functional.algorithms import memory

NPY_MAGIC = b"\x93NUMPY"


def _image(
    path: Path, input_shape: tuple[int, ...], transform: ImageTransform | None
) -> np.ndarray:
    from PIL import Image

    if len(input_shape) != 3:
        raise ValueError(
            f"{path}: an image, but the model takes inputs of shape "
            f"{input_shape} (C, H, W expected for images)"
        )
    channels = input_shape[0]
    if channels not in CHANNELS:
        raise ValueError(
            f"{path}: an image, but the model takes {channels} channels; images convert to "
            + ", ".join(f"{c} ({name})" for c, name in CHANNELS.items())
            + ": give a .npy array of shape "
            + str(input_shape)
        )
    if transform is not None:  # the geometry of the run's test transform
        return transform(decode_image(path, channels))[None]
    a = read_image(path, channels=channels)
    if a.shape[1:] != input_shape[1:]:
        # A different size is resized (bilinear) to what the model was trained on.
        h, w = input_shape[1:]
        planes = [np.asarray(Image.fromarray(p).resize((w, h), Image.BILINEAR)) for p in a]
        a = np.stack(planes).astype(np.float32)
    return a[None]


def read_npy(path: str | Path) -> np.ndarray:
    """A ``.npy`` file's array of real numbers (bool, integers or floats), checked from its
    header first, never unpickled; every refusal is a ``ValueError`` naming the file.

    Example:
        >>> import tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     np.save(f"{tmp}/a.npy", np.array(["cat"]))
        ...     read_npy(f"{tmp}/a.npy")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ValueError: .../a.npy: holds strings (dtype <U3); inputs must be numbers
    """
    path = Path(path)
    with path.open("rb") as f:
        start = f.read(len(NPY_MAGIC))
        if start != NPY_MAGIC:
            if start.startswith(b"PK"):
                raise ValueError(
                    f"{path}: a zip archive (an .npz file?), not a .npy array; give one "
                    "array saved by np.save, or train and evaluate on the .npz with npz:FILE"
                )
            raise ValueError(
                f"{path}: not a .npy array (a .npy file starts with \\x93NUMPY; this one with "
                f"the bytes {start.hex(' ') or 'of nothing: it is empty'}); save arrays with "
                "np.save"
            )
        f.seek(0)
        shape, dtype, offset = npy_header(f, str(path))
    if dtype.hasobject:
        raise ValueError(
            f"{path}: holds Python objects (dtype {dtype}), which anyconv never loads; "
            "store numbers"
        )
    if dtype.kind == "c":
        raise ValueError(
            f"{path}: holds complex numbers (dtype {dtype}); a model takes real inputs "
            "(save x.real, or np.abs(x) for magnitudes)"
        )
    if dtype.kind in "USV" or dtype.fields:
        raise ValueError(f"{path}: holds {_what(dtype)} (dtype {dtype}); inputs must be numbers")
    nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
    size = path.stat().st_size
    if offset + nbytes != size:
        raise ValueError(
            f"{path}: its header declares shape {shape} of {dtype} ({nbytes:,} bytes), but "
            f"the file holds {max(size - offset, 0):,} bytes of data"
        )
    copy = 0 if dtype == np.float32 else 4 * (nbytes // dtype.itemsize)  # as float32
    memory.check_allocation(nbytes + copy, f"{path}: an array of shape {shape} ({dtype})")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise ValueError(f"{path}: not a readable .npy array ({e})") from None


def _what(dtype: np.dtype) -> str:
    if dtype.kind == "V":
        return "raw bytes or records"
    return "strings" if dtype.kind in "US" else "records"


def _array(path: Path, input_shape: tuple[int, ...]) -> np.ndarray:
    a = read_npy(path)
    if a.size == 0:
        raise ValueError(
            f"{path}: holds no inputs (shape {a.shape}); give at least one input {input_shape}"
        )
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

    Images are turned by their EXIF orientation, converted to the model's channels as
    torchvision converts them (grey: the luma of a colour image, as ``Grayscale``; RGB: a
    grey image repeated, a palette expanded, alpha dropped; RGBA for 4 channels), scaled
    to [0, 1] and resized (bilinear) to its spatial size. When ``options`` (a run's
    ``data_options``) name an ``image_size``, images get the geometry of the run's test
    transform instead: resized by the shorter side, then centre-cropped. Arrays must hold
    one input ``(C, *spatial)`` (``(*spatial)`` when ``C == 1``) or a batch of them, of real
    numbers (:func:`read_npy`). Values are not normalised here:
    :func:`anyconv.train.inputs.read_inputs` applies the run's input normalisation.

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
            if path.is_dir():
                raise IsADirectoryError(
                    f"{path}: is a folder; give image or .npy files, e.g. {path / '*.png'}"
                )
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
