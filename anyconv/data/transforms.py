"""Image transforms with Pillow: resize and centre-crop for testing, random-resized-crop
and flip for training, per-channel normalisation.

Each transform takes a decoded image ``(H, W, C)`` (uint8, or float32 in [0, 1]; see
:func:`anyconv.data.images.decode_image`) and returns float32 ``(C, H', W')``. The random
choices of a training transform come from a ``numpy.random.Generator`` that the caller
seeds per sample and epoch, so a sample is transformed the same way whichever process
decodes it and whether it came from memory or disk.

Crops are resampled in one step: Pillow's ``resize(..., box=...)`` reads the crop box
from the original image and filters with a support scaled to the reduction (bilinear with
antialiasing), as torchvision's ``RandomResizedCrop`` does on PIL images.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from anyconv._checks import fail

Box = tuple[float, float, float, float]  # left, top, right, bottom in pixels


def max_pixels() -> int | None:
    """The most pixels an image may have: Pillow's decompression-bomb limit
    ``PIL.Image.MAX_IMAGE_PIXELS`` (89,478,485 unless the user changed it; None: no
    limit). Files with more are refused as they are opened, and a model input larger than
    any file may be is refused too (``image_size``)."""
    from PIL import Image

    return Image.MAX_IMAGE_PIXELS


def image_size(value: Any, func: str = "image_size") -> tuple[int, int] | None:
    """``H``, ``(H,)`` or ``(H, W)`` (positive ints) as ``(H, W)``; None stays None. At most
    :func:`max_pixels` pixels: one image of ``--image-size 40000`` would take 4.8 GB in
    every decoding process, and one of 2**70 cannot be made.

    Example:
        >>> image_size(32), image_size([24, 32]), image_size((8,)), image_size(None)
        ((32, 32), (24, 32), (8, 8), None)
        >>> image_size(40000)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ValueError: image_size(): argument 'image_size' must be ... at most 89,478,485 pixels ...
    """
    if value is None:
        return None
    values = [value] * 2 if isinstance(value, int) else list(value) if _seq(value) else None
    if values is not None and len(values) == 1:
        values = values * 2
    limit = max_pixels()
    allowed = "a positive int H or a pair (H, W)"
    if limit:
        allowed += (
            f" of at most {limit:,} pixels (H x W; Pillow's decompression-bomb limit, "
            "PIL.Image.MAX_IMAGE_PIXELS)"
        )
    if (
        values is None
        or len(values) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values)
        or (limit and values[0] * values[1] > limit)
    ):
        raise fail(func, "image_size", allowed, value)
    return values[0], values[1]


def _seq(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str)


def centre_box(width: int, height: int, size: tuple[int, int]) -> Box:
    """The largest box of the aspect ratio of ``size`` ``(H, W)`` centred in a
    ``width x height`` image: resizing it to ``size`` is "resize the shorter side, then
    centre-crop".

    Example:
        >>> centre_box(40, 20, (10, 10))
        (10.0, 0.0, 30.0, 20.0)
    """
    h, w = size
    scale = max(h / height, w / width)
    # The side that fills the image is its whole extent; computed as ``w / scale`` it can
    # come out an ulp above it (47 / (24 / 47) * 24), and the box then starts at -3.6e-15.
    crop_w, crop_h = min(w / scale, width), min(h / scale, height)
    left, top = (width - crop_w) / 2, (height - crop_h) / 2
    return clamp_box((left, top, left + crop_w, top + crop_h), width, height)


def clamp_box(box: Box, width: int, height: int) -> Box:
    """``box`` moved inside a ``width x height`` image (Pillow refuses a box that starts
    below 0 or ends beyond the image, by as little as one rounding error).

    Example:
        >>> clamp_box((-3.5e-15, 0.0, 47.000000000000004, 20.0), 47, 20)
        (0.0, 0.0, 47.0, 20.0)
    """
    left, top, right, bottom = box
    left, top = min(max(left, 0.0), float(width)), min(max(top, 0.0), float(height))
    return left, top, min(max(right, left), float(width)), min(max(bottom, top), float(height))


def random_box(
    width: int,
    height: int,
    rng: np.random.Generator,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> Box:
    """A random crop box covering ``scale`` of the image's area with aspect ratio (width
    over height) in ``ratio``, drawn log-uniformly: torchvision's ``RandomResizedCrop``
    rule, 10 tries and then the whole image cropped to the nearest allowed ratio.

    Example:
        >>> box = random_box(64, 48, np.random.default_rng(0))
        >>> all(0 <= v for v in box) and box[2] <= 64 and box[3] <= 48
        True
    """
    area = width * height
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(*log_ratio))
        w = round(math.sqrt(target * aspect))
        h = round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            top = int(rng.integers(0, height - h + 1))
            left = int(rng.integers(0, width - w + 1))
            return float(left), float(top), float(left + w), float(top + h)
    aspect = width / height
    if aspect < ratio[0]:
        w, h = width, round(width / ratio[0])
    elif aspect > ratio[1]:
        w, h = round(height * ratio[1]), height
    else:
        w, h = width, height
    left, top = (width - w) / 2, (height - h) / 2
    return left, top, left + w, top + h


def resize_box(image: np.ndarray, box: Box, size: tuple[int, int]) -> np.ndarray:
    """The ``box`` of ``image`` ``(H, W, C)`` resampled to ``size`` ``(H', W')``
    (bilinear, antialiased when shrinking), of the same dtype.

    Example:
        >>> a = np.arange(16, dtype=np.uint8).reshape(4, 4, 1) * 10
        >>> resize_box(a, (1, 1, 3, 3), (2, 2))[:, :, 0].tolist()  # a crop, no scaling
        [[50, 60], [90, 100]]
        >>> resize_box(a, (0, 0, 4, 4), (2, 2)).shape  # halved, antialiased
        (2, 2, 1)
    """
    from PIL import Image

    h, w = size
    box = clamp_box(box, image.shape[1], image.shape[0])
    if image.dtype == np.uint8 and image.shape[2] in (1, 3):
        plane = image[:, :, 0] if image.shape[2] == 1 else image
        out = np.asarray(Image.fromarray(plane).resize((w, h), Image.BILINEAR, box=box))
        return out.reshape(h, w, image.shape[2])
    planes = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(image[:, :, c], np.float32), "F").resize(
                (w, h), Image.BILINEAR, box=box
            )
        )
        for c in range(image.shape[2])
    ]
    return np.stack(planes, axis=2).astype(image.dtype, copy=False)


@dataclass(frozen=True)
class ImageTransform:
    """What becomes of a decoded image before the model sees it.

    Attributes:
        size: ``(H, W)`` of the model's input, or None to keep every image's own size
            (then all images must have one size).
        mean, std: per-channel normalisation ``(x - mean) / std`` after scaling to
            [0, 1]; None for none.
        flip: mirror training images left-right with probability 1/2.
        scale: area range of the training crops, as a fraction of the image.
        ratio: aspect-ratio range (width / height) of the training crops.

    Calling it with ``rng=None`` gives the test transform (resize the shorter side and
    centre-crop to ``size``); with a generator, the training one (random-resized-crop to
    ``size``, then the flip). Without ``size`` there is no crop: only the flip.

    Example:
        >>> t = ImageTransform(size=(2, 2), mean=(0.5,), std=(0.5,))
        >>> t(np.full((4, 6, 1), 255, np.uint8)).tolist()
        [[[1.0, 1.0], [1.0, 1.0]]]
    """

    size: tuple[int, int] | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    flip: bool = False
    scale: tuple[float, float] = (0.08, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)

    def __post_init__(self) -> None:
        func = "ImageTransform"
        object.__setattr__(self, "size", image_size(self.size, func))
        lo, hi = self.scale
        if not 0 < lo <= hi <= 1:
            raise fail(func, "scale", "a pair 0 < lo <= hi <= 1", self.scale)
        if (self.mean is None) != (self.std is None):
            raise fail(func, "mean", "given together with std", self.mean)
        if self.std is not None and not all(s > 0 for s in self.std):
            raise fail(func, "std", "positive numbers", self.std)

    def geometry(self, width: int, height: int, rng: np.random.Generator | None) -> Box | None:
        """The crop box for a ``width x height`` image (None: the whole image, kept)."""
        if self.size is None:
            return None
        if rng is None:
            return centre_box(width, height, self.size)
        return random_box(width, height, rng, self.scale, self.ratio)

    def __call__(self, image: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """``image`` ``(H, W, C)`` -> float32 ``(C, *size)``; random when ``rng`` is given."""
        height, width = image.shape[:2]
        box = self.geometry(width, height, rng)
        if box is not None:
            image = resize_box(image, box, self.size)
        out = image.transpose(2, 0, 1).astype(np.float32)
        if image.dtype == np.uint8:
            out /= np.float32(255)
        if rng is not None and self.flip and rng.random() < 0.5:
            out = np.ascontiguousarray(out[:, :, ::-1])
        if self.mean is not None:
            mean = np.asarray(self.mean, np.float32)[:, None, None]
            std = np.asarray(self.std, np.float32)[:, None, None]
            out = (out - mean) / std
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings (for a run's ``config.json``); inverse :meth:`from_dict`."""
        return {
            "image_size": list(self.size) if self.size else None,
            "mean": list(self.mean) if self.mean is not None else None,
            "std": list(self.std) if self.std is not None else None,
            "flip": self.flip,
            "crop_scale": self.scale[0],
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ImageTransform:
        """The transform :meth:`to_dict` describes.

        Example:
            >>> t = ImageTransform(size=(8, 8), mean=(0.1,), std=(0.2,), flip=True)
            >>> ImageTransform.from_dict(t.to_dict()) == t
            True
        """
        mean, std = values.get("mean"), values.get("std")
        return cls(
            size=image_size(values.get("image_size")),
            mean=tuple(mean) if mean is not None else None,
            std=tuple(std) if std is not None else None,
            flip=bool(values.get("flip", False)),
            scale=(float(values.get("crop_scale", 0.08)), 1.0),
        )
