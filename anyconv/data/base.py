"""What every dataset loader returns, and the registry of loaders by name."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from anyconv._checks import fail, register_unique


@dataclass
class Splits:
    """A classification dataset held in memory as tensors.

    Attributes:
        x_train, x_test: float32 inputs ``(N, C, *spatial)``: images ``(N, C, H, W)``,
            sequences ``(N, C, L)``, videos ``(N, C, T, H, W)``; scaled to about [0, 1] or
            standardised, as each loader documents.
        y_train, y_test: int64 labels ``(N,)`` in ``[0, num_classes)``.
        num_classes: number of classes.
        kind: ``"image"``, ``"sequence"`` or ``"video"`` (which augmentations apply).
        name: the spec it was loaded from, e.g. ``"digits"`` or ``"idx:/data/mnist"``.
        class_names: one label per class, for pictures and predictions.
        normalization: how the loader turned the raw values of its files into ``x``, so
            that raw arrays given to a trained model later get the same treatment:
            ``"per_sample": "znorm"`` (each sample z-normalised first), ``"divide": d``
            (then divided by ``d``, e.g. 16 for digits' grey levels, 255 for bytes),
            ``"mean"``/``"std"`` (then per channel ``(x - mean) / std``). Empty: ``x``
            holds the files' values as they are.
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

    augments = False  # the trainer's own augmentation applies (see ImageFolderSplits)

    def options(self) -> dict[str, Any]:
        """Settings that evaluation and prediction must repeat: none for tensors."""
        return {}

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
        ``indices``, as :meth:`ImageFolderSplits.batches
        <anyconv.data.image_folder.ImageFolderSplits.batches>` gives them (``epoch``,
        ``seed`` and ``pin_memory`` do nothing here).

        Example:
            >>> x, y = torch.arange(5.0).view(5, 1, 1), torch.arange(5)
            >>> d = Splits(x, y, x, y, num_classes=5, kind="sequence", name="toy")
            >>> [b.tolist() for _, b in d.batches("test", [4, 0, 2], 2)]
            [[4, 0], [2]]
        """
        x, y = (self.x_train, self.y_train) if split == "train" else (self.x_test, self.y_test)
        indices = torch.as_tensor(indices, dtype=torch.int64)
        for start in range(0, len(indices), batch_size):
            index = indices[start : start + batch_size]
            yield x[index], y[index]


Loader = Callable[..., Splits]
DATASETS: dict[str, tuple[Loader, str]] = {}


def register_dataset(name: str, help: str) -> Callable[[Loader], Loader]:
    """Decorator: make ``loader(argument: str | None, *, seed: int) -> Splits`` reachable
    as ``name`` (no argument) or ``name:ARG`` (e.g. ``idx:DIR``). A name can be registered
    once: a second loader under the same name is a ``ValueError``."""

    def wrap(loader: Loader) -> Loader:
        register_unique(DATASETS, name, (loader, help), "register_dataset")
        return loader

    return wrap


def load_dataset(spec: str, *, seed: int = 0, **options: Any) -> Splits:
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
    if not isinstance(spec, str):
        raise fail("load_dataset", "spec", "a dataset spec string", spec, TypeError)
    name, _, argument = spec.partition(":")
    if name not in DATASETS:
        raise fail(
            "load_dataset",
            "spec",
            "one of "
            + ", ".join(f"'{n}'" for n in DATASETS)
            + " (with ':ARG' where the loader takes one)",
            spec,
        )
    options = {k: v for k, v in options.items() if v is not None}
    taken = loader_options(spec)
    for option in options:
        if option not in taken:
            takers = [n for n in DATASETS if option in loader_options(n)]
            allowed = " or ".join(f"'{n}:'" for n in takers) or "no"
            raise fail("load_dataset", option, f"given only with {allowed} data", spec)
    return DATASETS[name][0](argument or None, seed=seed, **options)


def loader_options(spec: str) -> set[str]:
    """The keyword options (beyond ``seed``) that the loader of data spec ``spec`` takes;
    none for a spec no loader reads.

    Example:
        >>> sorted(loader_options("digits")), "image_size" in loader_options("folder:photos")
        ([], True)
    """
    entry = DATASETS.get(spec.partition(":")[0]) if isinstance(spec, str) else None
    if entry is None:
        return set()
    return set(inspect.signature(entry[0]).parameters) - {"argument", "seed"}


def first_samples(data: Any, split: str, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``count`` samples ``x (n, C, *spatial)``, ``y (n,)`` of ``split``
    (``"train"`` or ``"test"``) of any data set: sliced from its tensors, or read through
    its ``batches`` with the test-time transform (a streamed image folder).

    Example:
        >>> x, y = torch.arange(5.0).view(5, 1, 1), torch.arange(5)
        >>> first_samples(Splits(x, y, x, y, num_classes=5, kind="sequence", name="t"),
        ...               "test", 2)[1].tolist()
        [0, 1]
    """
    x = getattr(data, f"x_{split}", None)
    if x is not None:
        return x[:count], getattr(data, f"y_{split}")[:count]
    n = min(count, len(getattr(data, f"y_{split}")))
    return next(iter(data.batches(split, torch.arange(n), max(n, 1))))


def list_datasets() -> dict[str, str]:
    """Names of the registered loaders and a line of help each."""
    return {name: help for name, (_, help) in DATASETS.items()}
