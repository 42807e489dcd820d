"""``folder:DIR``: images sorted into one sub-folder per class.

Layout: ``DIR/train/<class>/*.png|jpg|jpeg`` and ``DIR/test/<class>/...`` (extensions in
any case; other files and hidden entries are ignored). Class names are the train
sub-folder names, sorted; the test classes must be among them (a test class folder may be
absent or empty). Every image must have the same width and height: nothing is resized, and
the first odd image is named in the error. Channels come from the images: 1 when every
image is grey (PIL modes 1, L, LA, I, I;16, F), else 3 (each image converted to RGB);
an alpha channel is dropped. Pixels are 8-bit, scaled to [0, 1].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from anyconv.data._common import need_dir, path_argument, to_splits
from anyconv.data.base import Splits, register_dataset

EXTENSIONS = (".png", ".jpg", ".jpeg")
GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")


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
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            if channels is None:
                channels = 1 if img.mode in GREY_MODES else 3
            a = np.asarray(img.convert("L" if channels == 1 else "RGB"), dtype=np.float32)
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise ValueError(f"{path}: not a readable image ({e})") from None
    a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
    return a / np.float32(255)


def _listing(part: Path) -> dict[str, list[Path]]:
    return {
        c.name: sorted(
            f
            for f in c.iterdir()
            if f.is_file() and not f.name.startswith(".") and f.suffix.lower() in EXTENSIONS
        )
        for c in sorted(part.iterdir())
        if c.is_dir() and not c.name.startswith(".")
    }


def _image_info(path: Path) -> tuple[str, tuple[int, int]]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:  # reads the header only
            return img.mode, img.size
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise ValueError(f"{path}: not a readable image ({e})") from None


@register_dataset(
    "folder",
    "images in DIR/train/<class>/*.png|jpg and DIR/test/<class>/... (one sub-folder per class)",
)
def load_folder(argument: str | None, *, seed: int = 0) -> Splits:
    """Images ``(N, C, H, W)`` float32 in [0, 1] from ``DIR/train/<class>/`` and
    ``DIR/test/<class>/`` (``folder:DIR``); labels index the sorted train class names.
    ``seed`` is unused.

    Example:
        >>> import tempfile, pathlib
        >>> from PIL import Image
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     for part, cls in [("train", "cat"), ("train", "dog"), ("test", "dog")]:
        ...         (pathlib.Path(tmp) / part / cls).mkdir(parents=True)
        ...         Image.new("L", (6, 5)).save(pathlib.Path(tmp) / part / cls / "a.png")
        ...     d = load_folder(tmp)
        >>> tuple(d.x_train.shape), d.y_test.tolist(), d.class_names
        ((2, 1, 5, 6), [1], ['cat', 'dog'])
    """
    root = need_dir(path_argument("folder", argument, "DIR"), "folder:DIR")
    parts = {
        p: _listing(need_dir(root / p, f"folder:DIR needs {p}/<class>/ sub-folders"))
        for p in ("train", "test")
    }
    classes = list(parts["train"])
    if not classes:
        raise ValueError(
            f"{root / 'train'}: no class sub-folders (expected "
            f"{root / 'train'}/<class>/*.png|jpg|jpeg)"
        )
    for name, files in parts["train"].items():
        if not files:
            raise ValueError(f"{root / 'train' / name}: no .png/.jpg/.jpeg images")
    extra = sorted(set(parts["test"]) - set(classes))
    if extra:
        raise ValueError(
            f"{root / 'test' / extra[0]}: test class {extra[0]!r} has no train "
            f"folder; the train classes are {classes}"
        )
    files = [
        (f, label)
        for p in ("train", "test")
        for label, c in enumerate(classes)
        for f in parts[p].get(c, [])
    ]
    infos = [_image_info(f) for f, _ in files]
    first, (_, size) = files[0][0], infos[0]
    for (f, _), (_, s) in zip(files, infos, strict=True):
        if s != size:
            raise ValueError(
                f"{f}: {s[0]}x{s[1]} pixels (width x height), but {first} is "
                f"{size[0]}x{size[1]}; all images must have the same size "
                "(resize them first)"
            )
    channels = 1 if all(mode in GREY_MODES for mode, _ in infos) else 3
    n_train = sum(len(v) for v in parts["train"].values())
    x = np.empty((len(files), channels, size[1], size[0]), np.float32)
    for i, (f, _) in enumerate(files):
        x[i] = read_image(f, channels)
    y = np.array([label for _, label in files], np.int64)
    return to_splits(
        x[:n_train],
        y[:n_train],
        x[n_train:],
        y[n_train:],
        kind="image",
        name=f"folder:{argument}",
        class_names=classes,
    )
