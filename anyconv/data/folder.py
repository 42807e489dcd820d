"""``folder:DIR``: images sorted into one sub-folder per class.

Layout: ``DIR/train/<class>/...`` and ``DIR/test/<class>/...``, or the ImageFolder layout
``DIR/<class>/...`` (or ``DIR/train/<class>/...`` alone) whose test split is a stratified,
seeded part of each class (``test_fraction``). A class folder's images
are found recursively (sub-folders and symbolic links are followed, as torchvision's
ImageFolder does; a link leading back to a folder above it is an error, not an endless
walk). Image files are those of :data:`~anyconv.data.images.IMAGE_SUFFIXES` in any case;
other files and hidden entries are ignored. Class names are the train sub-folder names,
sorted; the test classes must be among them (a test class folder may be absent or empty).
Without ``image_size`` every image must have the same width and height (the first odd
image is named in the error); with it, images of any size are resized and cropped (see
:func:`load_folder`). Channels come from the images: 1 when every image is grey,
else 3 (each image converted to RGB); pixel values are scaled by their mode's range (see
:mod:`anyconv.data.images`).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from anyconv._checks import check_bool, fail
from anyconv.data._common import (
    check_finite,
    check_not_empty,
    need_dir,
    path_argument,
    to_splits,
)
from anyconv.data.base import Splits, register_dataset
from anyconv.data.batches import check_workers
from anyconv.data.holdout import stratified_split
from anyconv.data.image_folder import FolderImages, ImageFolderSplits, channel_statistics
from anyconv.data.images import (
    GREY_MODES,
    IMAGE_SUFFIXES,
    channels_of,
    decode_image,
    image_info,
    read_image,
)
from anyconv.data.transforms import ImageTransform
from anyconv.functional.algorithms import memory

__all__ = ["hold_out", "list_images", "load_folder", "read_image"]

TEST_FOLDERS = ("test", "val", "valid", "validation")
TEST_FRACTION = 0.2  # held out of each class when a folder has no test split
IN_MEMORY_FRACTION = 0.25  # of the memory available: above, images are streamed from disk
DEEP_MODES = GREY_MODES - {"1", "L", "LA", "La"}  # decoded as float32, 4 bytes a value


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
    # Depth first in sorted order, with a stack rather than recursion: a folder nested
    # 1,100 deep is an ordinary (if odd) tree, not a RecursionError.
    stack = [(iter(_entries(folder)), ancestors)]
    while stack:
        entries, above = stack[-1]
        path = next(entries, None)
        if path is None:
            stack.pop()
            continue
        info = _stat(path)
        if info is None:
            continue
        if stat.S_ISDIR(info.st_mode):
            key = (info.st_dev, info.st_ino)
            if key in above:
                raise ValueError(
                    f"{path}: symbolic link loop: it leads back to {above[key]}, a folder it is in"
                )
            stack.append((iter(_entries(path)), {**above, key: path}))
        elif stat.S_ISREG(info.st_mode) and path.suffix.lower() in IMAGE_SUFFIXES:
            found.append(path)
    return found


def _entries(folder: Path) -> list[Path]:
    """The visible entries of ``folder``, sorted by name."""
    try:
        names = sorted(os.listdir(folder))
    except OSError as e:
        raise ValueError(f"{folder}: cannot be read ({e.strerror})") from None
    return [folder / name for name in names if not name.startswith(".")]


def _stat(path: Path) -> os.stat_result | None:
    """``path``'s status, links followed; None for a broken link that is not named like an
    image (skipped); a loop, a broken image link or an unreadable entry is an error."""
    try:
        return path.stat()
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise ValueError(f"{path}: symbolic link loop (it leads to itself)") from None
        if path.is_symlink() and path.suffix.lower() in IMAGE_SUFFIXES:
            raise ValueError(
                f"{path}: broken symbolic link (to {os.readlink(path)}, which does not exist)"
            ) from None
        if path.is_symlink():
            return None
        raise ValueError(f"{path}: cannot be read ({e.strerror})") from None


def _classes(part: Path) -> dict[str, list[Path]]:
    """Class name -> its image files, for every visible sub-folder of ``part``."""
    out = {}
    for name in sorted(os.listdir(part)):
        path = part / name
        if name.startswith(".") or not path.is_dir():
            continue
        out[name] = list_images(path)
    return out


def _check_classes(folder: Path, classes: dict[str, list[Path]]) -> None:
    if not classes:
        raise ValueError(
            f"{folder}: no class sub-folders (expected {folder}/<class>/ holding images)"
        )
    for name, files in classes.items():
        if not files:
            raise ValueError(f"{folder / name}: no images ({', '.join(IMAGE_SUFFIXES)})")


def hold_out(
    classes: dict[str, list[Path]], fraction: float, seed: int
) -> tuple[dict[str, list[Path]], dict[str, list[Path]]]:
    """Split each class's files at random (``seed``) into ``1 - fraction`` and
    ``fraction`` of them, by :func:`~anyconv.data.holdout.stratified_split` (rounded; at
    least one file on each side for a class of two or more, none held out of a class of
    one).

    Example:
        >>> kept, held = hold_out({"a": list("abcdefghij"), "b": ["x"]}, 0.2, seed=0)
        >>> {c: len(v) for c, v in kept.items()}, {c: len(v) for c, v in held.items()}
        ({'a': 8, 'b': 1}, {'a': 2, 'b': 0})
    """
    labels = torch.tensor([k for k, files in enumerate(classes.values()) for _ in files])
    held_index = set(stratified_split(labels, fraction, seed)[1].tolist())
    kept: dict[str, list[Path]] = {}
    held: dict[str, list[Path]] = {}
    i = 0
    for name, files in classes.items():
        kept[name], held[name] = [], []
        for f in files:
            (held if i in held_index else kept)[name].append(f)
            i += 1
    return kept, held


def _is_class_folder(path: Path) -> bool:
    """A folder that holds image files itself and no visible sub-folder: a class, whatever
    its name (``train``, ``valid``, ``invalid`` ...), never a split of class folders."""
    entries = _entries(path)
    if any(p.is_dir() for p in entries):
        return False
    return any(p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() for p in entries)


def _layout(
    root: Path, test_fraction: float, seed: int
) -> tuple[dict[str, list[Path]], dict[str, list[Path]], dict[str, str]]:
    """Train and test files per class, and what each split is called in messages.

    ``train/`` and a test folder (``test/``, ``val/``, ``valid/``, ``validation/``) are
    splits when they hold class sub-folders; one that holds images directly is a class
    of the ImageFolder layout like any other."""
    train_dir = root / "train"
    splits = [root / n for n in TEST_FOLDERS if (root / n).is_dir()]
    test_dir = next((d for d in splits if not _is_class_folder(d)), None)
    train_is_class = train_dir.is_dir() and _is_class_folder(train_dir)
    if train_dir.exists() and not train_is_class:
        train_dir = need_dir(train_dir, "folder:DIR holds train/<class>/ sub-folders")
        train = _classes(train_dir)
        _check_classes(train_dir, train)
        if test_dir is None:
            train, test = hold_out(train, test_fraction, seed)
            where = f"{test_fraction:.0%} held out of {train_dir} (stratified, seed {seed})"
            return train, test, {"train": str(train_dir), "test": where}
        test = _classes(test_dir)
        extra = sorted(set(test) - set(train))
        if extra:
            raise ValueError(
                f"{test_dir / extra[0]}: {test_dir.name} class {extra[0]!r} has no train "
                f"folder; the train classes are {list(train)}"
            )
        return train, test, {"train": str(train_dir), "test": str(test_dir)}
    if test_dir is not None:
        held = (
            f"{train_dir} holds images but no class sub-folders"
            if train_is_class
            else f"{train_dir}: no such folder"
        )
        raise FileNotFoundError(
            f"{held}; {root} has {test_dir.name}/ but no train/ ({test_dir.name}/ holds "
            "sub-folders, so it is read as the test split; a folder holding images directly "
            "is read as a class)"
        )
    classes = _classes(root)
    _check_classes(root, classes)
    train, test = hold_out(classes, test_fraction, seed)
    where = f"{test_fraction:.0%} held out of {root} (stratified, seed {seed})"
    return train, test, {"train": str(root), "test": where}


@register_dataset(
    "folder",
    "images in DIR/train/<class>/... and DIR/test/<class>/..., or DIR/<class>/... with "
    "a stratified held-out part (any size and mode with --image-size; streamed when large)",
)
def load_folder(
    argument: str | None,
    *,
    seed: int = 0,
    image_size: int | Sequence[int] | None = None,
    flip: bool = False,
    crop_scale: float = 0.08,
    test_fraction: float | None = None,
    stream: bool | None = None,
    workers: int | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    channels: int | None = None,
) -> Splits | ImageFolderSplits:
    """Images from ``folder:DIR``, labels the indices of the sorted class names.

    Layouts: ``DIR/train/<class>/`` with ``DIR/test/<class>/`` (or ``val/``, ``valid/``,
    ``validation/``); or the ImageFolder layout ``DIR/<class>/`` (and ``DIR/train/<class>/``
    alone), whose test split is ``test_fraction`` of each class held out at random
    (``seed``, the data seed).

    Without ``image_size`` or ``flip``, and small enough for memory, the result is a
    :class:`~anyconv.data.base.Splits` of float32 tensors in [0, 1] as before: every image
    must then have the same size. Otherwise it is an
    :class:`~anyconv.data.image_folder.ImageFolderSplits`, read in batches through worker
    processes.

    Args:
        argument: ``DIR``.
        seed: the seed of the held-out split (and of the images the normalisation
            statistics are estimated from).
        image_size: ``H`` or ``(H, W)``: test images are resized (shorter side) and
            centre-cropped to it, training images random-resized-cropped (area
            ``crop_scale`` to 1 of the image, aspect 3/4 to 4/3); then every channel is
            normalised by the training set's mean and standard deviation (estimated from
            up to 5,000 images), or by ``mean`` and ``std`` when given.
        flip: mirror training images left-right at random.
        crop_scale: smallest area of a random crop, as a fraction of the image.
        test_fraction: fraction of each class held out as the test split when there is
            no test folder (default 0.2).
        stream: True to decode from disk in every epoch, False to hold the decoded images
            in memory; default: stream when they would take more than a quarter of the
            memory available.
        workers: decoding processes (default: CPUs - 1, at most 4; 0 decodes in the
            training process).
        mean, std: per-channel normalisation to use instead of the training set's.
        channels: 1 or 3 to convert every image to grey (a colour image's luma, as
            torchvision's ``Grayscale``) or RGB (grey repeated, alpha dropped); default 3
            when any image is in colour, else 1. ``evaluate`` passes the run's.

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
    func = "load_folder"
    root = need_dir(path_argument("folder", argument, "DIR"), "folder:DIR")
    if test_fraction is None:
        test_fraction = TEST_FRACTION
    if (
        not isinstance(test_fraction, int | float)
        or isinstance(test_fraction, bool)
        or not 0 < test_fraction < 1
    ):
        raise fail(func, "test_fraction", "a fraction strictly between 0 and 1", test_fraction)
    if stream not in (None, True, False):
        raise fail(func, "stream", "True, False or None (decide by size)", stream, TypeError)
    workers = check_workers(workers, func)
    transform = ImageTransform(
        size=image_size,
        flip=check_bool(flip, "flip", func),
        scale=(_fraction(crop_scale, "crop_scale", func), 1.0),
    )
    train, test, where = _layout(root, test_fraction, seed)
    classes = list(train)
    files = {
        part: [(f, label) for label, c in enumerate(classes) for f in split.get(c, [])]
        for part, split in (("train", train), ("test", test))
    }
    for part in ("train", "test"):
        check_not_empty(len(files[part]), part, where[part])
    every = [(f, image_info(f)) for part in files for f, _ in files[part]]
    if channels is None:
        channels = max(channels_of(mode) for _, (mode, _) in every)
    elif channels not in (1, 3):
        raise fail(func, "channels", "1 (grey) or 3 (RGB), or None (from the images)", channels)
    for f, (mode, _) in every:
        if mode == "F":  # the one mode that can hold NaN or infinity: checked now
            check_finite(read_image(f, channels)[None], str(f), None)
    if transform.size is None:
        _check_one_size(every)
    deep = {f for f, (mode, _) in every if mode in DEEP_MODES}
    decoded_bytes = sum(w * h * channels * (4 if f in deep else 1) for f, (_, (w, h)) in every)
    if stream is None:
        stream = not memory.fits_in_memory(decoded_bytes, IN_MEMORY_FRACTION)
    name = f"folder:{argument}"
    if not stream and transform.size is None and not transform.flip:
        return _tensors(files, every, channels, name, classes, where)
    if not stream:
        memory.check_allocation(decoded_bytes, f"{root}: the decoded images")
    splits = {
        part: FolderImages(
            [f for f, _ in files[part]],
            np.array([label for _, label in files[part]], np.int64),
            channels,
            transform,
            None if stream else [decode_image(f, channels) for f, _ in files[part]],
        )
        for part in files
    }
    if transform.size is not None:
        if mean is None and std is None:
            mean, std = channel_statistics(splits["train"], workers, seed)
        transform = replace(
            transform,
            mean=_per_channel(mean, channels, "mean"),
            std=_per_channel(std, channels, "std"),
        )
        for split in splits.values():
            split.transform = transform
    elif mean is not None or std is not None:
        raise fail(func, "mean", "given only with image_size", mean)
    return ImageFolderSplits(
        splits["train"],
        splits["test"],
        num_classes=len(classes),
        name=name,
        class_names=classes,
        streamed=stream,
        workers=workers,
    )


def _fraction(value: Any, arg: str, func: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= 1:
        raise fail(func, arg, "a fraction 0 < f <= 1", value)
    return float(value)


def _per_channel(values: Any, channels: int, arg: str) -> tuple[float, ...]:
    values = tuple(float(v) for v in values)
    if len(values) == 1 and channels > 1:
        values = values * channels
    if len(values) != channels:
        raise fail("load_folder", arg, f"{channels} numbers, one per channel", values)
    return values


def _check_one_size(every: list[tuple[Path, tuple[str, tuple[int, int]]]]) -> None:
    first, (_, size) = every[0]
    for f, (_, s) in every:
        if s != size:
            raise ValueError(
                f"{f}: {s[0]}x{s[1]} pixels (width x height), but {first} is "
                f"{size[0]}x{size[1]}; images of different sizes need --image-size "
                "(image_size=) to be resized"
            )


def _tensors(
    files: dict[str, list[tuple[Path, int]]],
    every: list[tuple[Path, tuple[str, tuple[int, int]]]],
    channels: int,
    name: str,
    classes: list[str],
    where: dict[str, str],
) -> Splits:
    """The whole folder as float32 tensors in [0, 1] (images of one size)."""
    w, h = every[0][1][1]
    nbytes = len(every) * channels * w * h * 4
    memory.check_allocation(nbytes, f"{where['train']}: the images as float32")
    arrays = {}
    for part, items in files.items():
        x = np.empty((len(items), channels, h, w), np.float32)
        for i, (f, _) in enumerate(items):
            x[i] = read_image(f, channels)
        arrays[part] = x, np.array([label for _, label in items], np.int64)
    return to_splits(
        *arrays["train"],
        *arrays["test"],
        kind="image",
        name=name,
        class_names=classes,
        where=where,
    )
