"""Checks every picture test shares: nothing drawn is cut at the border of the image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def ink_at_border(path: str | Path, frame: int = 0, margin: int = 2) -> dict[str, int]:
    """How many pixels of the outermost ``margin`` rows and columns are not background,
    per side of frame ``frame`` of the picture at ``path``: text, an axis or a grid cut by
    the image's border leaves ink there. The background is the colour of the top-left
    corner (white, or the near-white of a GIF palette).

    Example:
        >>> import tempfile
        >>> image = np.full((10, 10, 3), 255, np.uint8); image[4:6, 0:3] = 0
        >>> with tempfile.TemporaryDirectory() as d:
        ...     Image.fromarray(image).save(f"{d}/a.png")
        ...     ink_at_border(f"{d}/a.png")
        {'top': 0, 'bottom': 0, 'left': 2, 'right': 0}
    """
    with Image.open(path) as image:
        image.seek(frame)
        pixels = np.asarray(image.convert("L"), dtype=np.int16)
    background = pixels[0, 0]
    ink = np.abs(pixels - background) > 40
    return {
        "top": int(ink[:margin].any(0).sum()),
        "bottom": int(ink[-margin:].any(0).sum()),
        "left": int(ink[:, :margin].any(1).sum()),
        "right": int(ink[:, -margin:].any(1).sum()),
    }


def assert_nothing_cut(path: str | Path, frame: int = 0) -> None:
    """No ink in the outermost pixels of the picture: its labels and grids are whole."""
    ink = ink_at_border(path, frame)
    assert not any(ink.values()), f"{path}: drawn up to the border ({ink})"
