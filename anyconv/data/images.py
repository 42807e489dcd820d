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

Alpha channels are dropped (unless RGBA is asked for). Images are turned as their EXIF
orientation says they are shown (a portrait phone photo stored sideways), as
``PIL.ImageOps.exif_transpose`` does (torchvision's loader does not). 16-bit colour PNGs
are decoded by Pillow at 8 bits per channel (the high byte of each value).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from anyconv._checks import fail

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
    """The PIL mode and ``(width, height)`` of an image file as it is shown, from its
    header alone: a photo whose EXIF orientation turns it (5 to 8) has its sides swapped.

    Example:
        >>> import tempfile, pathlib
        >>> from PIL import Image
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     Image.new("I;16", (5, 4)).save(pathlib.Path(tmp) / "a.png")
        ...     image_info(pathlib.Path(tmp) / "a.png")
        ('I;16', (5, 4))
    """
    with open_image(path) as img:
        width, height = img.size
        if orientation(img) in TURNED and not _turned_on_open(img):
            width, height = height, width
        return img.mode, (width, height)


def _turned_on_open(img: Any) -> bool:
    """Whether Pillow reports the size as shown already (its TIFF reader turns images by
    their orientation itself, from Pillow 11 on): the size differs from the stored one."""
    tags = getattr(img, "tag_v2", None)
    if img.format != "TIFF" or tags is None:
        return False
    return img.size != (tags.get(256), tags.get(257))


EXIF_ORIENTATION = 0x0112
TURNED = frozenset({5, 6, 7, 8})  # orientations that swap width and height


def orientation(img: Any) -> int:
    """The EXIF orientation (1..8; 1 = as stored) of an opened, not yet decoded image, as
    ``PIL.ImageOps.exif_transpose`` reads it. Read from the header only: a PNG's ``eXIf``
    chunk counts when it comes before the pixels (where the PNG specification puts it),
    so that a folder's sizes, read from headers, agree with the decoded images."""
    if img.format == "PNG" and "exif" not in img.info:
        return 1  # PngImageFile.getexif() would decode the whole image to look further
    try:
        value = int(img.getexif().get(EXIF_ORIENTATION, 1))
    except (OSError, SyntaxError, ValueError, TypeError, EOFError, KeyError):
        return 1  # an unreadable EXIF block: shown as stored, as viewers do
    return value if 1 <= value <= 8 else 1


def exif_transpose(a: np.ndarray, value: int) -> np.ndarray:
    """An ``(H, W, C)`` array turned as EXIF orientation ``value`` says it is shown: the
    transposition ``PIL.ImageOps.exif_transpose`` applies (2 mirrored, 3 turned half
    round, 4 flipped, 5 transposed, 6 turned a quarter clockwise, 7 transversed, 8 a
    quarter anticlockwise).

    Example:
        >>> a = np.arange(6).reshape(2, 3, 1)
        >>> exif_transpose(a, 6)[:, :, 0].tolist()  # a phone held upright
        [[3, 0], [4, 1], [5, 2]]
    """
    if value == 2:
        a = a[:, ::-1]
    elif value == 3:
        a = a[::-1, ::-1]
    elif value == 4:
        a = a[::-1]
    elif value == 5:
        a = a.transpose(1, 0, 2)
    elif value == 6:
        a = np.rot90(a, -1)
    elif value == 7:
        a = a.transpose(1, 0, 2)[::-1, ::-1]
    elif value == 8:
        a = np.rot90(a, 1)
    return np.ascontiguousarray(a)


def channels_of(mode: str) -> int:
    """1 for a grey PIL mode, else 3."""
    return 1 if mode in GREY_MODES else 3


CHANNELS = {1: "grey", 3: "RGB", 4: "RGBA"}
"""The channel counts an image converts to, and what each is."""


def decode_image(path: str | Path, channels: int | None = None) -> np.ndarray:
    """Decode an image file to ``(H, W, C)``, turned as its EXIF orientation says it is
    shown (as ``PIL.ImageOps.exif_transpose``): uint8 for 8-bit images (values 0..255), or
    float32 already scaled to [0, 1] for 16-bit, integer and float grey images.

    ``channels`` (default: 1 for a grey mode, else 3) converts as torchvision's
    transforms and ``PIL.Image.convert`` do: 1 is grey, a colour image's luma ``L = 0.299
    R + 0.587 G + 0.114 B`` (ITU-R 601-2, ``transforms.Grayscale``); 3 is RGB (a grey
    image repeated, a palette image expanded, alpha dropped); 4 is RGBA (alpha 255 where
    the image has none).

    Example:
        >>> import tempfile, pathlib
        >>> from PIL import Image
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     Image.fromarray(np.array([[40000, 100]], np.uint16)).save(f"{tmp}/a.png")
        ...     Image.new("RGB", (1, 1), (255, 0, 0)).save(f"{tmp}/red.png")
        ...     a = decode_image(f"{tmp}/a.png")
        ...     red = decode_image(f"{tmp}/red.png", channels=1)
        >>> a.dtype, a.shape, [round(float(v), 4) for v in a.ravel()], red.ravel().tolist()
        (dtype('float32'), (1, 2, 1), [0.6104, 0.0015], [76])
    """
    path = Path(path)
    if channels is not None and channels not in CHANNELS:
        raise fail("decode_image", "channels", "1 (grey), 3 (RGB) or 4 (RGBA)", channels)
    with open_image(path) as img:
        mode = img.mode
        turn = orientation(img)
        if channels is None:
            channels = channels_of(mode)
        try:
            img.load()
            if img.format != "PNG":  # a reader that turns the image as it loads drops the tag
                turn = orientation(img)
            if mode in GREY_MODES and mode not in ("1", "L", "LA", "La"):
                a = _deep_grey(np.asarray(img), mode, path)
            else:
                if mode == "P" and "transparency" in img.info:  # as Pillow asks, no warning
                    img = img.convert("RGBA")
                a = np.asarray(img.convert({1: "L", 3: "RGB", 4: "RGBA"}[channels]))
        except (OSError, SyntaxError, ValueError, EOFError) as e:
            if isinstance(e, ValueError) and str(e).startswith(str(path)):
                raise
            raise ValueError(f"{path}: not a readable image ({e})") from None
    if a.ndim == 2:
        a = a[:, :, None]
    if channels > 1 and a.shape[2] == 1:  # a deep grey image (float32 in [0, 1])
        a = np.repeat(a, 3, axis=2)
        if channels == 4:
            a = np.concatenate([a, np.ones_like(a[:, :, :1])], axis=2)
    return exif_transpose(a, turn)


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
    """One image file as float32 ``(C, H, W)`` in [0, 1]; ``channels`` 1 (grey), 3 (RGB), 4
    (RGBA) or None (1 for a grey image, else 3), converted as :func:`decode_image` says.
    Unreadable files raise a ``ValueError`` naming them.

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
