"""``folder:DIR``: images sorted into one sub-folder per class.

Layout: ``DIR/train/<class>/...`` and ``DIR/test/<class>/...``. A class folder's images
are found recursively (sub-folders and symbolic links are followed, as torchvision's
ImageFolder does; a link leading back to a folder above it is an error, not an endless
walk). Image files are those of :data:`~anyconv.data.images.IMAGE_SUFFIXES` in any case;
other files and hidden entries are ignored. Class names are the train sub-folder names,
sorted; the test classes must be among them (a test class folder may be absent or empty).
Every image must have the same width and height: nothing is resized, and the first odd
image is named in the error. Channels come from the images: 1 when every image is grey,
else 3 (each image converted to RGB); pixel values are scaled by their mode's range (see
:mod:`anyconv.data.images`).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import numpy as np

from anyconv.data._common import check_finite, check_memory, need_dir, path_argument, to_splits
from anyconv.data.base import Splits, register_dataset
from anyconv.data.images import IMAGE_SUFFIXES, channels_of, image_info, read_image

__all__ = ["list_images", "load_folder", "read_image"]


def list_images(folder: str | Path) -> list[Path]:
    """The image files under ``folder``, recursively, in sorted order.

    Hidden entries (names starting with ``.``) and files of other types are skipped;
    symbolic links are followed. Raises a ``ValueError`` naming the link for a symbolic
    link loop (a link to itself, or to a folder above it) and for a broken link named like
    an image.

    Example:
        >>> import tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     (pathlib.Path(tmp) / "b").mkdir()
        ...     for name in ("b/2.PNG", "1.jpg", "notes.txt"):
        ...         _ = (pathlib.Path(tmp) / name).write_bytes(b"")
        ...     [p.relative_to(tmp).as_posix() for p in list_images(tmp)]
        ['1.jpg', 'b/2.PNG']
    """
    folder = Path(folder)
    found: list[Path] = []
    ancestors = {}
    for above in (folder, *folder.absolute().parents):  # a link to any of them is a loop
        info = above.stat()
        ancestors.setdefault((info.st_dev, info.st_ino), above)
    _walk(folder, ancestors, found)
    return found


def _walk(folder: Path, ancestors: dict[tuple[int, int], Path], found: list[Path]) -> None:
    for name in sorted(os.listdir(folder)):
        if name.startswith("."):
            continue
        path = folder / name
        try:
            info = path.stat()
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise ValueError(f"{path}: symbolic link loop (it leads to itself)") from None
            if path.is_symlink() and path.suffix.lower() in IMAGE_SUFFIXES:
                raise ValueError(
                    f"{path}: broken symbolic link (to {os.readlink(path)}, which does not exist)"
                ) from None
            if path.is_symlink():
                continue
            raise ValueError(f"{path}: cannot be read ({e.strerror})") from None
        if stat.S_ISDIR(info.st_mode):
            key = (info.st_dev, info.st_ino)
            if key in ancestors:
                raise ValueError(
                    f"{path}: symbolic link loop: it leads back to {ancestors[key]}, a folder "
                    "it is in"
                )
            _walk(path, {**ancestors, key: path}, found)
        elif stat.S_ISREG(info.st_mode) and path.suffix.lower() in IMAGE_SUFFIXES:
            found.append(path)


def _classes(part: Path) -> dict[str, list[Path]]:
    """Class name -> its image files, for every visible sub-folder of ``part``."""
    out = {}
    for name in sorted(os.listdir(part)):
        path = part / name
        if name.startswith(".") or not path.is_dir():
            continue
        out[name] = list_images(path)
    return out


@register_dataset(
    "folder",
    "images in DIR/train/<class>/... and DIR/test/<class>/... (one sub-folder per class)",
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
        p: _classes(need_dir(root / p, f"folder:DIR needs {p}/<class>/ sub-folders"))
        for p in ("train", "test")
    }
    classes = list(parts["train"])
    if not classes:
        raise ValueError(
            f"{root / 'train'}: no class sub-folders (expected {root / 'train'}/<class>/ "
            "holding images)"
        )
    for name, files in parts["train"].items():
        if not files:
            raise ValueError(f"{root / 'train' / name}: no images ({', '.join(IMAGE_SUFFIXES)})")
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
    infos = [image_info(f) for f, _ in files]
    first, (_, size) = files[0][0], infos[0]
    for (f, _), (_, s) in zip(files, infos, strict=True):
        if s != size:
            raise ValueError(
                f"{f}: {s[0]}x{s[1]} pixels (width x height), but {first} is "
                f"{size[0]}x{size[1]}; all images must have the same size "
                "(resize them first)"
            )
    channels = max(channels_of(mode) for mode, _ in infos)
    n_train = sum(len(v) for v in parts["train"].values())
    check_memory(len(files) * channels * size[0] * size[1] * 4, str(root), "the images")
    x = np.empty((len(files), channels, size[1], size[0]), np.float32)
    for i, ((f, _), (mode, _)) in enumerate(zip(files, infos, strict=True)):
        x[i] = read_image(f, channels)
        if mode == "F":  # the one mode that can hold NaN or infinity
            check_finite(x[i : i + 1], str(f), None)
    y = np.array([label for _, label in files], np.int64)
    return to_splits(
        x[:n_train],
        y[:n_train],
        x[n_train:],
        y[n_train:],
        kind="image",
        name=f"folder:{argument}",
        class_names=classes,
        where={"train": str(root / "train"), "test": str(root / "test")},
    )
