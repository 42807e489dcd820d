"""The written interface of a data set, its in-memory form, and the registry of loaders.

Every loader returns a :class:`Dataset`: :class:`Splits` when the samples are tensors in
memory, :class:`~anyconv.data.image_folder.ImageFolderSplits` when they are read sample by
sample (streamed or transformed image folders). The trainer, evaluation, the pictures and
the command line ask a data set through this interface only; a new format, streamed or
not, is one more implementation of it.
"""

from __future__ import annotations

import abc
import hashlib
import inspect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from anyconv._checks import choice, fail, register_unique, unknown_name
from anyconv.data.spec import DataSpec

SPLITS = ("train", "test")


class Dataset(abc.ABC):
    """A classification data set with a training and a test split.

    Attributes:
        name: the spec it was loaded from, e.g. ``"digits"`` or ``"idx:/data/mnist"``
            (:attr:`spec` parses it).
        kind: ``"image"``, ``"sequence"`` or ``"video"`` (which augmentations apply).
        num_classes: number of classes; labels are in ``[0, num_classes)``.
        class_names: one name per class, for pictures and predictions.
        normalization: how the loader turned the raw values of its files into the inputs,
            so that raw arrays given to a trained model later get the same treatment:
            ``"per_sample": "znorm"`` (each sample z-normalised first), ``"divide": d``
            (then divided by ``d``, e.g. 16 for digits' grey levels, 255 for bytes),
            ``"mean"``/``"std"`` (then per channel ``(x - mean) / std``). Empty: the
            inputs hold the files' values as they are.
        augments: True when the data set's own training transform draws at random (random
            crops), so the trainer adds no random shifts of its own.

    Subclasses implement :attr:`input_shape`, :meth:`labels`, :meth:`tensors`,
    :meth:`batches` and :meth:`fingerprint`, and may override :meth:`options`.
    """

    name: str
    kind: str
    num_classes: int
    class_names: list[str]
    normalization: dict[str, Any]
    augments: bool = False

    @property
    @abc.abstractmethod
    def input_shape(self) -> tuple[int, ...]:
        """``(C, *spatial)`` of one sample as a model sees it."""

    @abc.abstractmethod
    def labels(self, split: str) -> torch.Tensor:
        """The int64 labels ``(N,)`` of ``split`` (``"train"`` or ``"test"``)."""

    @abc.abstractmethod
    def tensors(self, split: str) -> tuple[torch.Tensor, torch.Tensor] | None:
        """``(x, y)`` of ``split`` when it is held in memory as tensors, ``x`` float32
        ``(N, *input_shape)`` and ``y`` int64 ``(N,)``; None when its samples are read
        through :meth:`batches` only (streamed, or transformed on the fly)."""

    @abc.abstractmethod
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
        """``(x, y)`` batches of ``split`` in the order of ``indices``: ``x`` float32
        ``(B, *input_shape)``, ``y`` int64 ``(B,)``. ``seed`` None gives the test-time
        transform; an int, the random training transform of ``epoch`` (each sample's
        choices seeded by ``(seed, epoch, index)``). ``pin_memory`` pins the batches for a
        faster copy to CUDA."""

    @abc.abstractmethod
    def fingerprint(self) -> dict[str, Any]:
        """What identifies the contents: ``train`` and ``test`` sizes, ``input_shape``,
        ``num_classes``, ``class_names`` and a ``digest`` (a resumed run compares it)."""

    def options(self) -> dict[str, Any]:
        """The settings that evaluation and prediction must repeat to see the data as
        training did (e.g. an image transform); none by default."""
        return {}

    @property
    def spec(self) -> DataSpec:
        """:attr:`name` parsed."""
        return DataSpec.parse(self.name)

    def first_samples(self, split: str, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The first ``count`` samples ``x (n, *input_shape)``, ``y (n,)`` of ``split``:
        sliced from its tensors, or read through :meth:`batches` with the test-time
        transform.

        Example:
            >>> x, y = torch.arange(5.0).view(5, 1, 1), torch.arange(5)
            >>> Splits(x, y, x, y, num_classes=5, kind="sequence", name="t").first_samples(
            ...     "test", 2)[1].tolist()
            [0, 1]
        """
        held = self.tensors(split)
        if held is not None:
            return held[0][:count], held[1][:count]
        n = min(count, len(self.labels(split)))
        return next(iter(self.batches(split, torch.arange(n), max(n, 1))))


def check_split(split: Any, func: str) -> str:
    """``"train"`` or ``"test"``, else anyconv's ``ValueError`` naming ``split``."""
    return choice(split, SPLITS, "split", func)


@dataclass
class Splits(Dataset):
    """A classification data set held in memory as tensors.

    Attributes:
        x_train, x_test: float32 inputs ``(N, C, *spatial)``: images ``(N, C, H, W)``,
            sequences ``(N, C, L)``, videos ``(N, C, T, H, W)``; scaled to about [0, 1] or
            standardised, as each loader documents.
        y_train, y_test: int64 labels ``(N,)`` in ``[0, num_classes)``.
        num_classes, kind, name, class_names, normalization: as :class:`Dataset` says;
            ``class_names`` defaults to ``"0"``, ``"1"``, ...

    Example:
        >>> x, y = torch.zeros(4, 1, 2, 2), torch.tensor([0, 1, 0, 1])
        >>> d = Splits(x, y, x, y, num_classes=2, kind="image", name="toy")
        >>> d.input_shape, d.class_names, d.tensors("test")[1].tolist()
        ((1, 2, 2), ['0', '1'], [0, 1, 0, 1])
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    kind: str
    name: str
    class_names: list[str] = field(default_factory=list)
    normalization: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.class_names:
            self.class_names = [str(i) for i in range(self.num_classes)]

    @property
    def input_shape(self) -> tuple[int, ...]:
        """``(C, *spatial)`` of one sample."""
        return tuple(self.x_train.shape[1:])

    def labels(self, split: str) -> torch.Tensor:
        return self.y_train if check_split(split, "Splits.labels") == "train" else self.y_test

    def tensors(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        if check_split(split, "Splits.tensors") == "train":
            return self.x_train, self.y_train
        return self.x_test, self.y_test

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
        """``(x, y)`` batches of ``split`` in the order of ``indices`` (:meth:`Dataset.batches`;
        ``epoch``, ``seed`` and ``pin_memory`` do nothing here: tensors have no random
        transform of their own).

        Example:
            >>> x, y = torch.arange(5.0).view(5, 1, 1), torch.arange(5)
            >>> d = Splits(x, y, x, y, num_classes=5, kind="sequence", name="toy")
            >>> [b.tolist() for _, b in d.batches("test", [4, 0, 2], 2)]
            [[4, 0], [2]]
        """
        x, y = self.tensors(split)
        indices = torch.as_tensor(indices, dtype=torch.int64)
        for start in range(0, len(indices), batch_size):
            index = indices[start : start + batch_size]
            yield x[index], y[index]

    def fingerprint(self) -> dict[str, Any]:
        """Sizes, shape, classes and a BLAKE2b digest of the four tensors.

        Example:
            >>> x, y = torch.zeros(4, 1, 2, 2), torch.tensor([0, 1, 0, 1])
            >>> a = Splits(x, y, x, y, num_classes=2, kind="image", name="a").fingerprint()
            >>> b = Splits(x + 1, y, x, y, num_classes=2, kind="image", name="a").fingerprint()
            >>> a["train"], a["digest"] == b["digest"]
            (4, False)
        """
        digest = hashlib.blake2b(digest_size=16)
        for t in (self.x_train, self.y_train, self.x_test, self.y_test):
            array = t.detach().cpu().contiguous().numpy()
            digest.update(str((array.dtype, array.shape)).encode())
            digest.update(memoryview(array).cast("B"))
        return {
            "train": len(self.y_train),
            "test": len(self.y_test),
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "class_names": list(self.class_names),
            "digest": digest.hexdigest(),
        }


Loader = Callable[..., Dataset]
DATASETS: dict[str, tuple[Loader, str]] = {}


def register_dataset(name: str, help: str) -> Callable[[Loader], Loader]:
    """Decorator: make ``loader(argument: str | None, *, seed: int) -> Dataset`` reachable
    as ``name`` (no argument) or ``name:ARG`` (e.g. ``idx:DIR``). A name can be registered
    once: a second loader under the same name is a ``ValueError``."""

    def wrap(loader: Loader) -> Loader:
        register_unique(DATASETS, name, (loader, help), "register_dataset")
        return loader

    return wrap


def load_dataset(spec: str | DataSpec, *, seed: int = 0, **options: Any) -> Dataset:
    """Load a dataset from its spec: ``"digits"``, ``"mnist1d"``, ``"moving-digits"``,
    ``"idx:DIR"``, ``"folder:DIR"``, ``"npz:FILE"``, ``"ucr:PREFIX"``.

    ``options`` go to the loaders that take them (``folder:`` takes ``image_size``,
    ``flip``, ``stream``, ``workers`` ...; see each loader); an option that a loader does
    not take is an error rather than silently ignored. Options that are None count as not
    given.

    Example:
        >>> d = load_dataset("digits")
        >>> d.input_shape, d.num_classes
        ((1, 8, 8), 10)
    """
    parsed = DataSpec.parse(spec)
    if parsed.name not in DATASETS:
        raise unknown_name(
            "load_dataset",
            "spec",
            str(spec),
            DATASETS,
            " (with ':ARG' where the loader takes one; anyconv datasets)",
            key=parsed.name,
        )
    options = {k: v for k, v in options.items() if v is not None}
    taken = loader_options(parsed)
    for option in options:
        if option not in taken:
            takers = [n for n in DATASETS if option in loader_options(n)]
            allowed = " or ".join(f"'{n}:'" for n in takers) or "no"
            raise fail("load_dataset", option, f"given only with {allowed} data", spec)
    return DATASETS[parsed.name][0](parsed.argument, seed=seed, **options)


def loader_options(spec: str | DataSpec) -> set[str]:
    """The keyword options (beyond ``seed``) that the loader of data spec ``spec`` takes;
    none for a spec no loader reads.

    Example:
        >>> sorted(loader_options("digits")), "image_size" in loader_options("folder:photos")
        ([], True)
    """
    if not isinstance(spec, str | DataSpec):
        return set()
    entry = DATASETS.get(DataSpec.parse(spec).name)
    if entry is None:
        return set()
    return set(inspect.signature(entry[0]).parameters) - {"argument", "seed"}


def list_datasets() -> dict[str, str]:
    """Names of the registered loaders and a line of help each."""
    return {name: help for name, (_, help) in DATASETS.items()}
