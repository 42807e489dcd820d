"""Default recipes: the epochs, learning rate, batch size and augmentation a run takes when
no flag sets them, per data set and per model family.

Each entry is what the README's results table was measured with, so
``anyconv train MODEL --data SPEC`` with no other flag reproduces its row. A setting
given explicitly (a flag, or a :class:`~anyconv.train.TrainConfig` argument) always wins.
Precedence, lowest first: :data:`FALLBACK`, the data set's recipe, the model family's.
"""

from __future__ import annotations

from typing import Any

RECIPE_KEYS = ("epochs", "batch_size", "lr", "augment")
"""The settings a recipe decides; every other setting has one fixed default."""

FALLBACK: dict[str, Any] = {"epochs": 20, "batch_size": 64, "lr": 3e-3, "augment": True}
"""For data sets without a recipe of their own (your ``npz:``, ``folder:`` or ``ucr:`` data)."""

DATA_RECIPES: dict[str, dict[str, Any]] = {
    # 1437 training images: many short epochs; cosine to zero over 50 epochs.
    "digits": {"epochs": 50, "batch_size": 64, "lr": 5e-3, "augment": True},
    # 60,000 images: three epochs reach 99%.
    "idx": {"epochs": 3, "batch_size": 64, "lr": 3e-3, "augment": True},
    # The MNIST-1D paper's CNN set-up: 30 epochs, batch 100, lr 1e-2 (no shifts for sequences).
    "mnist1d": {"epochs": 30, "batch_size": 100, "lr": 1e-2, "augment": False},
    # The first epoch of c3d already reaches 100%; five make it certain.
    "moving-digits": {"epochs": 5, "batch_size": 64, "lr": 5e-3, "augment": True},
}
"""Per data set, by the spec's name (``"idx"`` for ``idx:DIR``)."""

EXAMPLE_DATA = {"image": "digits", "sequence": "mnist1d", "video": "moving-digits"}
"""A built-in data set of each kind, proposed when a model is given data of another kind."""

MODEL_RECIPES: dict[str, dict[str, Any]] = {}
"""Per model family, for settings that belong to the network rather than the data; no
built-in model needs one on the built-in data sets (all were run with their data set's)."""


def recipe(model: str, data: str) -> dict[str, Any]:
    """The default settings (:data:`RECIPE_KEYS`) of ``model`` trained on data spec ``data``.

    Example:
        >>> recipe("cnn1d", "mnist1d")
        {'epochs': 30, 'batch_size': 100, 'lr': 0.01, 'augment': False}
        >>> recipe("lenet5", "idx:/data/mnist")["epochs"]
        3
    """
    name = data.partition(":")[0] if isinstance(data, str) else ""
    return {**FALLBACK, **DATA_RECIPES.get(name, {}), **MODEL_RECIPES.get(model, {})}


def describe(settings: dict[str, Any]) -> str:
    """A recipe in one line: ``"50 epochs, batch 64, lr 5e-3, shifts"``.

    Example:
        >>> describe(recipe("lenet5", "digits"))
        '50 epochs, batch 64, lr 0.005, shifts on'
    """
    parts = []
    if "epochs" in settings:
        parts.append(f"{settings['epochs']} epochs")
    if "batch_size" in settings:
        parts.append(f"batch {settings['batch_size']}")
    if "lr" in settings:
        parts.append(f"lr {settings['lr']:g}")
    if "augment" in settings:
        parts.append("shifts " + ("on" if settings["augment"] else "off"))
    parts += [f"{k} {v}" for k, v in settings.items() if k not in RECIPE_KEYS]
    return ", ".join(parts)
