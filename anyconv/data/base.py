"""What every dataset loader returns, and the registry of loaders by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from anyconv._spec import fail, register_unique


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
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    kind: str
    name: str
    class_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.class_names:
            self.class_names = [str(i) for i in range(self.num_classes)]

    @property
    def input_shape(self) -> tuple[int, ...]:
        """``(C, *spatial)`` of one sample."""
        return tuple(self.x_train.shape[1:])


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


def load_dataset(spec: str, *, seed: int = 0) -> Splits:
    """Load a dataset from its spec: ``"digits"``, ``"mnist1d"``, ``"moving-digits"``,
    ``"idx:DIR"``, ``"folder:DIR"``, ``"npz:FILE"``, ``"ucr:PREFIX"``.

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
    return DATASETS[name][0](argument or None, seed=seed)


def list_datasets() -> dict[str, str]:
    """Names of the registered loaders and a line of help each."""
    return {name: help for name, (_, help) in DATASETS.items()}
