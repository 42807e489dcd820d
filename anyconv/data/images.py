"""Image files read with Pillow: headers, decoding to arrays, and every way a file can be
bad (empty, not an image, truncated, a header claiming billions of pixels).

Pixel values are scaled by the real range of the image's mode, never clipped:

==============================  ===========================  ==========================
PIL mode                        stored as                    scaled to [0, 1] by
==============================  ===========================  ==========================
``1``, ``L``, ``P``, ``RGB``,   uint8 (grey or RGB)          1/255
``RGBA``, ``LA``, ``CMYK`` ...
``I;16``, ``I;16B`` ...         float32 (16-bit grey)        1/65535
``I``                           float32 (integer grey)       1/65535; values outside
                                                             0..65535 are refused
``F``                           float32 (float grey)         1 (used as they are)
==============================  ===========================  ==========================

Alpha channels are dropped. 16-bit colour PNGs are decoded by Pillow at 8 bits per
channel (the high byte of each value).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

# The file types torchvision's ImageFolder accepts, and GIF; compared in lower case.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".ppm", ".pgm", ".tif", ".tiff", ".webp")
GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
INT_MODE_MAX = 65535  # mode "I": PNG and most TIFF integer images hold at most 16 bits


@contextlib.contextmanager
def open_image(path: str | Path) -> Iterator[Any]:
    """``PIL.Image.open(path)`` whose every failure is a ``ValueError`` naming the file:
    an empty file, a file Pillow cannot identify, and a header claiming more pixels than
    ``PIL.Image.MAX_IMAGE_PIXELS`` (a possible decompression bomb; Pillow only warns up to
    twice that limit, anyconv refuses from the limit on). Decoding errors inside the
    ``with`` block are the caller's to translate (see :func:`decode_image`)."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ValueError(
            f"{path}: refused as a possible decompression bomb: {e} (the limit is "
            f"PIL.Image.MAX_IMAGE_PIXELS = {Image.MAX_IMAGE_PIXELS:,} pixels)"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as e:
        empty = path.is_file() and path.stat().st_size == 0
        reason = "an empty file (0 bytes)" if empty else f"not a readable image ({e})"
        raise ValueError(f"{path}: {reason}") from None
    with img:
        yield img


def image_info(path: str | Path) -> tuple[str, tuple[int, int]]:
    """The PIL mode and ``(width, height)`` of an image file, from its header alone.

    Example:
        >>> import tempfile, pathlib
        >>> from PIL import Image
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     Image.new("I;16", (5, 4)).save(pathlib.Path(tmp) / "a.png")
        ...     image_info(pathlib.Path(tmp) / "a.png")
        ('I;16', (5, 4))
    """
    with open_image(path) as img:
        return img.mode, img.size


def channels_of(mode: str) -> int:
    """1 for a grey PIL mode, else 3."""
    return 1 if mode in GREY_MODES else 3


def decode_image(path: str | Path, channels: int | None = None) -> np.ndarray:
    """Decode an image file to ``(H, W, C)``: uint8 for 8-bit images (values 0..255), or
    float32 already scaled to [0, 1] for 16-bit, integer and float grey images.

    ``channels`` is 1 (grey) or 3 (RGB; a grey image is repeated), default that of the
    image's mode. A colour image asked for as grey is a ``ValueError``: folders decide
    their channels from every image's mode, so this means a mixed-up call.

    Example:
        >>> import tempfile, pathlib
        >>> from PIL import Image
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     Image.fromarray(np.array([[40000, 100]], np.uint16)).save(f"{tmp}/a.png")
        ...     a = decode_image(f"{tmp}/a.png")
        >>> a.dtype, a.shape, [round(float(v), 4) for v in a.ravel()]
        (dtype('float32'), (1, 2, 1), [0.6104, 0.0015])
    """
    path = Path(path)
    with open_image(path) as img:
        mode = img.mode
        if channels is None:
            channels = channels_of(mode)
        if channels not in (1, 3):
            raise ValueError(f"decode_image(): argument 'channels' must be 1 or 3; got {channels}")
        if channels == 1 and mode not in GREY_MODES:
            raise ValueError(f"{path}: a colour image (mode {mode}), but grey was asked for")
        try:
            img.load()
            if mode in GREY_MODES and mode not in ("1", "L", "LA", "La"):
                a = _deep_grey(np.asarray(img), mode, path)
            else:
                a = np.asarray(img.convert("L" if channels == 1 else "RGB"))
        except (OSError, SyntaxError, ValueError, EOFError) as e:
            if isinstance(e, ValueError) and str(e).startswith(str(path)):
                raise
            raise ValueError(f"{path}: not a readable image ({e})") from None
    if a.ndim == 2:
        a = a[:, :, None]
    if channels == 3 and a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    return a


def _deep_grey(a: np.ndarray, mode: str, path: Path) -> np.ndarray:
    """A 16-bit, integer or float grey image as float32 scaled by its mode's range."""
    if mode == "F":
        return a.astype(np.float32)
    if mode == "I" and a.size and (a.min() < 0 or a.max() > INT_MODE_MAX):
        raise ValueError(
            f"{path}: integer image (mode I) with values {int(a.min())}..{int(a.max())}; "
            f"anyconv reads integer images as 16-bit (0..{INT_MODE_MAX})"
        )
    return a.astype(np.float32) / np.float32(INT_MODE_MAX)


def to_chw(a: np.ndarray) -> np.ndarray:
    """A decoded ``(H, W, C)`` image (uint8, or float32 in [0, 1]) as float32 ``(C, H, W)``
    in [0, 1].

    Example:
        >>> to_chw(np.full((2, 3, 1), 255, np.uint8)).tolist()
        [[[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]]
    """
    out = a.transpose(2, 0, 1).astype(np.float32)
    if a.dtype == np.uint8:
        out /= np.float32(255)
    return out


def read_image(path: str | Path, channels: int | None = None) -> np.ndarray:
    """One image file as float32 ``(C, H, W)`` in [0, 1]; ``channels`` 1 (grey), 3 (RGB) or
    None (1 for a grey image, else 3). Unreadable files raise a ``ValueError`` naming them.

    Example:
        >>> import tempfile, pathlib
        >>> from PIL import Image
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     Image.new("RGB", (5, 4), (255, 0, 0)).save(pathlib.Path(tmp) / "red.png")
        ...     a = read_image(pathlib.Path(tmp) / "red.png")
        >>> a.shape, a[:, 0, 0].tolist()
        ((3, 4, 5), [1.0, 0.0, 0.0])
    """
    return to_chw(decode_image(path, channels))
