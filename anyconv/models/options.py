"""What a registered model takes: its own options (read from its signature) and the kind of
input it is built for, checked against a data set before anything is built."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from anyconv.models.registry import MODELS, default_input_shape

FROM_DATA = ("in_channels", "num_classes", "input_size")
"""Arguments every model takes and the trainer fills in from the data."""

KINDS = {1: "sequence", 2: "image", 3: "video"}
SHAPES = {"sequence": "(C, L)", "image": "(C, H, W)", "video": "(C, T, H, W)"}
PLURAL = {"sequence": "sequences", "image": "images", "video": "videos"}


def model_options(name: str) -> dict[str, Any]:
    """A model's own keyword arguments and their defaults (those the data does not set).

    Example:
        >>> model_options("c3d")["causal_time"]
        False
    """
    default_input_shape(name)  # the registry's error for an unknown name
    factory = MODELS[name][0]
    target = factory.__init__ if inspect.isclass(factory) else factory
    options = {}
    for p in inspect.signature(target).parameters.values():
        if p.name in FROM_DATA or p.name == "self":
            continue
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD):
            options[p.name] = None if p.default is p.empty else p.default
    return options


def model_kind(name: str) -> str:
    """``"sequence"``, ``"image"`` or ``"video"``: what ``name`` is built for.

    Example:
        >>> model_kind("cnn1d"), model_kind("lenet5"), model_kind("c3d")
        ('sequence', 'image', 'video')
    """
    return KINDS[len(default_input_shape(name)) - 1]


def models_for(kind: str) -> list[str]:
    """Registered models built for inputs of ``kind``."""
    return [name for name in MODELS if model_kind(name) == kind]


def check_model_options(name: str, options: dict[str, Any]) -> None:
    """Refuse options ``name`` does not take, listing those it does.

    Example:
        >>> check_model_options("lenet5", {"widht": 2})
        Traceback (most recent call last):
        ...
        ValueError: model 'lenet5' has no option 'widht'; its options are pool, activation, padding
    """
    known = model_options(name)
    for key in options:
        if key in FROM_DATA:
            raise ValueError(
                f"model option '{key}' comes from the data and cannot be set; "
                f"{name}'s options are {', '.join(known) or 'none'}"
            )
        if key not in known:
            raise ValueError(
                f"model '{name}' has no option '{key}'; its options are "
                f"{', '.join(known) or 'none'}"
            )


def check_model_fits(
    name: str,
    input_shape: Sequence[int],
    data: str,
    suggest: dict[str, str] | None = None,
) -> None:
    """Refuse data whose kind (rank) ``name`` is not built for, in the user's terms.

    Args:
        name: a registered model.
        input_shape: ``(C, *spatial)`` of one sample of the data.
        data: how to call the data in the message (its spec).
        suggest: a data spec to propose per kind (``{"sequence": "mnist1d", ...}``).

    Example:
        >>> check_model_fits("cnn1d", (1, 40), "mnist1d")  # fits: nothing happens
        >>> check_model_fits("cnn1d", (1, 8, 8), "digits", {"sequence": "mnist1d"})
        ... # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: cnn1d takes sequences (C, L); digits gives images (1, 8, 8); try --data ...
    """
    wanted = model_kind(name)
    spatial = len(input_shape) - 1
    if KINDS.get(spatial) == wanted:
        return
    given = KINDS.get(spatial)
    gives = (
        f"{PLURAL[given]} {tuple(input_shape)}"
        if given
        else f"samples of shape {tuple(input_shape)} ({spatial} spatial axes)"
    )
    hints = []
    if suggest and wanted in suggest:
        hints.append(f"--data {suggest[wanted]}")
    if given and models_for(given):
        hints.append(f"a model for {PLURAL[given]}: {', '.join(models_for(given))}")
    raise ValueError(
        f"{name} takes {PLURAL[wanted]} {SHAPES[wanted]}; {data} gives {gives}"
        + (f"; try {', or '.join(hints)}" if hints else "")
    )
