"""Image folders served sample by sample: decoded from disk on every access (streamed) or
held decoded in memory, and transformed on the fly (resizing, random crops, flips).

:class:`ImageFolderSplits` is what ``folder:DIR`` returns when the images are resized
(``image_size``), flipped, or streamed: a :class:`~anyconv.data.base.Dataset` whose
samples are read through :meth:`ImageFolderSplits.batches` only (:meth:`tensors` is None).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from anyconv.data.base import Dataset, check_split
from anyconv.data.batches import Key, key_batches, load_batches
from anyconv.data.images import decode_image
from anyconv.data.transforms import ImageTransform
from anyconv.functional.algorithms import memory

IN_FLIGHT_FRACTION = 0.25  # of the memory available, for the batches decoded ahead

# Images drawn (seeded) from the training split to estimate the per-channel mean and
# standard deviation; all of them when there are fewer.
STATISTICS_IMAGES = 5000


class FolderImages(torch.utils.data.Dataset):
    """The images of one split, each read as ``(transform(image), label)``.

    Keys are ``(index, epoch, seed)``: with ``seed`` None the test transform is applied;
    else the training transform draws from a generator seeded by ``(seed, epoch, index)``,
    the same in any process.

    Args:
        files: the image files.
        labels: int64 ``(N,)``.
        channels: 1 or 3; every image is decoded to that many.
        transform: what each decoded image becomes.
        images: the decoded images ``(H, W, C)``, one per file, when held in memory;
            None to decode from disk on every access.
    """

    def __init__(
        self,
        files: Sequence[Path],
        labels: np.ndarray,
        channels: int,
        transform: ImageTransform,
        images: list[np.ndarray] | None = None,
    ) -> None:
        self.files = list(files)
        self.labels = np.asarray(labels, np.int64)
        self.channels = channels
        self.transform = transform
        self.images = images

    def __len__(self) -> int:
        return len(self.files)

    def decoded(self, index: int) -> np.ndarray:
        """Image ``index`` decoded, ``(H, W, C)``."""
        if self.images is not None:
            return self.images[index]
        return decode_image(self.files[index], self.channels)

    def __getitem__(self, key: Key) -> tuple[torch.Tensor, int]:
        index, epoch, seed = key
        rng = None if seed is None else np.random.default_rng([seed, epoch, index])
        try:
            x = self.transform(self.decoded(index), rng)
        except MemoryError as e:
            raise MemoryError(
                f"{self.files[index]}: not enough memory to decode it ({e})"
            ) from None
        except (ValueError, TypeError, OSError, ArithmeticError) as e:
            if str(e).startswith(str(self.files[index])):
                raise
            raise ValueError(f"{self.files[index]}: {e}") from None
        return torch.from_numpy(x), int(self.labels[index])


@dataclass
class ImageFolderSplits(Dataset):
    """A classification dataset of image files, read through worker processes.

    Attributes:
        train, test: the two splits.
        num_classes, kind, name, class_names: as :class:`~anyconv.data.base.Dataset` says.
        streamed: True when images are decoded from disk on every access, False when they
            are held decoded in memory.
        workers: decoding processes for :meth:`batches` (0: the calling process).
        y_train, y_test: int64 labels ``(N,)``.
    """

    train: FolderImages
    test: FolderImages
    num_classes: int
    name: str
    class_names: list[str]
    streamed: bool
    workers: int
    kind: str = "image"
    y_train: torch.Tensor = field(init=False)
    y_test: torch.Tensor = field(init=False)

    def __post_init__(self) -> None:
        self.y_train = torch.from_numpy(self.train.labels)
        self.y_test = torch.from_numpy(self.test.labels)

    def labels(self, split: str) -> torch.Tensor:
        return (
            self.y_train
            if check_split(split, "ImageFolderSplits.labels") == "train"
            else self.y_test
        )

    def tensors(self, split: str) -> None:
        """None: the samples are read through :meth:`batches` only."""
        check_split(split, "ImageFolderSplits.tensors")
        return None

    @property
    def transform(self) -> ImageTransform:
        return self.train.transform

    @property
    def input_shape(self) -> tuple[int, ...]:
        """``(C, H, W)`` of one sample as the model sees it."""
        size = self.transform.size
        if size is None:
            size = self.train.decoded(0).shape[:2]
        return (self.train.channels, *size)

    @property
    def augments(self) -> bool:
        """True when the training transform crops at random (the trainer then adds no
        shifts of its own)."""
        return self.transform.size is not None

    def options(self) -> dict[str, Any]:
        """The settings that ``evaluate`` and ``predict`` must apply the same way."""
        return self.transform.to_dict()

    @property
    def normalization(self) -> dict[str, Any]:
        """The per-channel ``mean`` and ``std`` applied after scaling pixels to [0, 1]
        (empty without ``image_size``), in the form of ``Splits.normalization``."""
        t = self.transform
        return {} if t.mean is None else {"mean": list(t.mean), "std": list(t.std)}

    def fingerprint(self) -> dict[str, Any]:
        """What identifies the data without decoding it: sizes, shape, classes, and a
        BLAKE2b digest of every file's path, size, modification time and label, and of
        the transform.

        Example:
            >>> import tempfile, pathlib
            >>> from PIL import Image
            >>> with tempfile.TemporaryDirectory() as tmp:
            ...     Image.new("L", (4, 4)).save(f"{tmp}/a.png")
            ...     files = [pathlib.Path(tmp) / "a.png"]
            ...     split = FolderImages(files, np.zeros(1), 1, ImageTransform(size=(2, 2)))
            ...     d = ImageFolderSplits(split, split, 1, "toy", ["a"], False, 0)
            ...     sorted(d.fingerprint())
            ['class_names', 'digest', 'input_shape', 'num_classes', 'test', 'train']
        """
        digest = hashlib.blake2b(digest_size=16)
        digest.update(json.dumps(self.options(), sort_keys=True).encode())
        for split in (self.train, self.test):
            for path, label in zip(split.files, split.labels.tolist(), strict=True):
                info = path.stat()
                digest.update(f"{path}\0{info.st_size}\0{info.st_mtime_ns}\0{label}\n".encode())
        return {
            "train": len(self.train),
            "test": len(self.test),
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "class_names": list(self.class_names),
            "digest": digest.hexdigest(),
        }

    def batches(
        self,
        split: str,
        indices: Sequence[int] | torch.Tensor,
        batch_size: int,
        *,
        epoch: int = 0,
        seed: int | None = None,
        pin_memory: bool = False,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """``(x, y)`` batches of ``split`` (``"train"`` or ``"test"``) in the order of
        ``indices``; ``x`` float32 ``(B, *input_shape)``, ``y`` int64 ``(B,)``.

        ``seed`` None gives the test transform; an int the random training transform of
        ``epoch`` (each sample's choices seeded by ``(seed, epoch, index)``).
        """
        dataset = (
            self.train if check_split(split, "ImageFolderSplits.batches") == "train" else self.test
        )
        keys = key_batches(indices, batch_size, epoch, seed)
        prefetch = self.prefetch(min(batch_size, len(keys[0]) if keys else 0))
        return load_batches(
            dataset, keys, workers=self.workers, pin_memory=pin_memory, prefetch=prefetch
        )

    def prefetch(self, batch_size: int) -> int:
        """How many batches each worker prepares ahead: 4, fewer when the batches in
        flight (``workers x prefetch`` and the one in use) would take more than a quarter
        of the memory available. Refused, with the estimate, when even one batch per
        worker does not fit in the memory available (``--image-size`` or
        ``--batch-size`` too large for the machine)."""
        batch = batch_size * 4 * int(np.prod(self.input_shape))
        workers = max(self.workers, 1)
        for ahead in (4, 3, 2, 1):
            if memory.fits_in_memory(batch * (workers * ahead + 1), IN_FLIGHT_FRACTION):
                return ahead
        shape = "x".join(map(str, self.input_shape))
        memory.check_allocation(
            batch * (workers + 1),
            f"{self.name}: {workers + 1} batches of {batch_size} images of {shape} (float32; "
            f"one per decoding worker, {self.workers}, and the one in use)",
        )
        return 1


def channel_statistics(
    images: FolderImages, workers: int, seed: int = 0
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation of ``images`` after their test transform
    (which must not normalise), over all pixels of up to :data:`STATISTICS_IMAGES` images
    drawn with ``seed`` (all of them when there are fewer).

    Example:
        >>> import tempfile, pathlib
        >>> from PIL import Image
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     for v in (0, 255):
        ...         Image.new("L", (4, 4), v).save(f"{tmp}/{v}.png")
        ...     files = sorted(pathlib.Path(tmp).iterdir())
        ...     split = FolderImages(files, np.zeros(2), 1, ImageTransform(size=(2, 2)))
        ...     channel_statistics(split, workers=0)
        ((0.5,), (0.5,))
    """
    n = len(images)
    chosen = np.arange(n)
    if n > STATISTICS_IMAGES:
        chosen = np.sort(np.random.default_rng(seed).choice(n, STATISTICS_IMAGES, replace=False))
    total = sumsq = count = 0
    for x, _ in load_batches(images, key_batches(chosen, 256, 0, None), workers=workers):
        x64 = x.double()
        total = total + x64.sum((0, 2, 3))
        sumsq = sumsq + (x64 * x64).sum((0, 2, 3))
        count += x.shape[0] * x.shape[2] * x.shape[3]
    mean = total / count
    std = (sumsq / count - mean * mean).clamp_min(0).sqrt()
    std = torch.where(std > 0, std, torch.ones_like(std))  # a constant channel stays as is
    return tuple(mean.tolist()), tuple(std.tolist())
