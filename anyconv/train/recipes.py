"""Default recipes: the epochs, learning rate, batch size and augmentation a run takes when
no flag sets them, per data set and per model family.

Each entry is what the README's results table was measured with, so
``anyconv train MODEL --data SPEC`` with no other flag reproduces its row. A setting
given explicitly (a flag, or a :class:`~anyconv.train.TrainConfig` argument) always wins.
Precedence, lowest first: :data:`FALLBACK`, the data set's recipe, the model's recipe for
any data, the model's recipe for this data set.
"""

from __future__ import annotations

import math
from typing import Any

from anyconv.data.spec import DataSpec

RECIPE_KEYS = ("epochs", "batch_size", "lr", "augment")
"""The settings every data set's recipe decides. A model's recipe may also decide
``weight_decay`` (from :data:`FALLBACK` otherwise) and ``val_fraction`` (the trainer's
default otherwise); every other setting has one fixed default."""

FALLBACK: dict[str, Any] = {
    "epochs": 20,  # at least MIN_STEPS optimiser steps on small data: epochs_for_steps
    "batch_size": 64,
    "lr": 3e-3,
    "augment": True,
    "weight_decay": 1e-4,
}
"""For data sets without a recipe of their own (your ``npz:``, ``folder:`` or ``ucr:``
data), and the weight decay of every recipe that sets none. Its epochs grow on small data
so that a run takes at least :data:`~anyconv.train.advice.MIN_STEPS` optimiser steps
(:func:`epochs_for_steps`): 20 epochs of 93 images in batches of 64 are 40 steps, which
left ``allcnn`` at chance."""

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

# The recipe of Wang, Yan and Oates (2017) for their FCN and ResNet (Adam at 1e-3, batches
# of min(N/10, 16), 2,000 epochs, the rate halved when the training loss stalls for 50
# epochs; the whole training split, no validation), adapted to a budget of minutes on a
# CPU: far fewer epochs, so the default cosine decay to zero replaces the plateau rule
# (which would rarely fire), and AdamW without weight decay is Adam. UCR training splits
# are tiny (36 series for ArrowHead): a tenth held out would cost accuracy and validate on
# a handful of series, so the published protocol (train on all, keep the last) stays.
TSC_RECIPE: dict[str, Any] = {
    "epochs": 100,
    "batch_size": 16,
    "lr": 1e-3,
    "augment": False,
    "weight_decay": 0.0,
    "val_fraction": 0.0,
}

# A model fitted without epochs (minirocket): its one pass is the run's only epoch; no
# validation split (its ridge classifier cross-validates its own regularisation).
FITTED_RECIPE: dict[str, Any] = {
    "epochs": 1,
    "augment": False,
    "weight_decay": 0.0,
    "val_fraction": 0.0,
}

MODEL_RECIPES: dict[str, dict[str, dict[str, Any]]] = {
    "fcn": {"ucr": TSC_RECIPE},
    "resnet1d": {"ucr": TSC_RECIPE},
    # InceptionTime's own (Adam at 1e-3, batches of min(N/10, 64), 1,500 epochs, the rate
    # halved on a 50-epoch plateau of the training loss, no validation) is FCN's but for the
    # batch cap and the epochs: adapted to a CPU budget the same way.
    "inception_time": {"ucr": TSC_RECIPE},
    "minirocket": {"*": FITTED_RECIPE},
}
"""Per model and data set name (``"*"``: any data), for settings that belong to the
network rather than the data: the time-series baselines on UCR/UEA data. The other
built-in models train with their data set's recipe."""


def recipe(model: str, data: str | DataSpec) -> dict[str, Any]:
    """The default settings (:data:`RECIPE_KEYS` and any other a model's recipe decides)
    of ``model`` trained on data spec ``data``.

    Example:
        >>> recipe("cnn1d", "mnist1d")
        {'epochs': 30, 'batch_size': 100, 'lr': 0.01, 'augment': False, 'weight_decay': 0.0001}
        >>> recipe("lenet5", "idx:/data/mnist")["epochs"], recipe("fcn", "ucr:ECG200")["epochs"]
        (3, 100)
    """
    name = DataSpec.parse(data).name if isinstance(data, str | DataSpec) else ""
    own = MODEL_RECIPES.get(model, {})
    return {**FALLBACK, **DATA_RECIPES.get(name, {}), **own.get("*", {}), **own.get(name, {})}


def fallback_keys(model: str, data: str | DataSpec) -> set[str]:
    """The settings that :func:`recipe` takes from :data:`FALLBACK` for ``model`` on
    ``data`` (none of the data set's or model's recipes sets them).

    Example:
        >>> sorted(fallback_keys("allcnn", "folder:photos"))
        ['augment', 'batch_size', 'epochs', 'lr', 'weight_decay']
        >>> fallback_keys("lenet5", "digits"), sorted(fallback_keys("fcn", "ucr:ECG200"))
        ({'weight_decay'}, [])
    """
    name = DataSpec.parse(data).name if isinstance(data, str | DataSpec) else ""
    own = MODEL_RECIPES.get(model, {})
    decided = {*DATA_RECIPES.get(name, {}), *own.get("*", {}), *own.get(name, {})}
    return set(FALLBACK) - decided


def epochs_for_steps(epochs: int, steps_per_epoch: int) -> int:
    """``epochs``, or more where they give fewer than
    :data:`~anyconv.train.advice.MIN_STEPS` optimiser steps of ``steps_per_epoch``: the
    fallback recipe's epochs scaled to small data.

    Example:
        >>> epochs_for_steps(20, 2), epochs_for_steps(20, 100)
        (150, 20)
    """
    from anyconv.train.advice import MIN_STEPS

    return max(epochs, math.ceil(MIN_STEPS / max(steps_per_epoch, 1)))


def describe(settings: dict[str, Any]) -> str:
    """A recipe in one line: ``"50 epochs, batch 64, lr 5e-3, shifts"``.

    Example:
        >>> describe(recipe("lenet5", "digits"))
        '50 epochs, batch 64, lr 0.005, shifts on, weight decay 0.0001'
        >>> describe(TSC_RECIPE)
        '100 epochs, batch 16, lr 0.001, shifts off, weight decay 0, no validation split'
    """
    parts = []
    if "epochs" in settings:
        epochs = settings["epochs"]
        parts.append(f"{epochs} epoch" + ("s" if epochs != 1 else ""))
    if "batch_size" in settings:
        parts.append(f"batch {settings['batch_size']}")
    if "lr" in settings:
        parts.append(f"lr {settings['lr']:g}")
    if "augment" in settings:
        parts.append("shifts " + ("on" if settings["augment"] else "off"))
    if "weight_decay" in settings:
        parts.append(f"weight decay {settings['weight_decay']:g}")
    if "val_fraction" in settings:
        fraction = settings["val_fraction"]
        parts.append(f"validation {fraction:.0%}" if fraction else "no validation split")
    shown = (*RECIPE_KEYS, "weight_decay", "val_fraction")
    parts += [f"{k} {v}" for k, v in settings.items() if k not in shown]
    return ", ".join(parts)
