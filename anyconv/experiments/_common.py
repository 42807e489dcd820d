"""What the experiments share: data subsets, training through the trainer, a cache of
trained models, shifted images, mean and spread over seeds."""

from __future__ import annotations

import copy
import functools
import json
import math
import re
import statistics
from collections.abc import Callable, Sequence
from typing import Any

import torch
from rich.console import Console

from anyconv.data import DataSpec, Splits, load_dataset
from anyconv.train import TrainConfig, evaluate, train
from anyconv.train.augment import random_shift
from anyconv.train.run import scratch_folder

_TRAINED: dict[str, tuple[dict[str, torch.Tensor], dict[str, Any]]] = {}

QUICK_TRAINING = dict(data="digits", train_size=3000, test_size=1000, steps=300, lr=5e-3)
"""Training settings of the quick runs: the 8x8 digits by default, at most 3,000 training
and 1,000 test samples of a bigger set (MNIST with ``--data idx:DIR``), 300 steps."""
FULL_TRAINING = dict(data="digits", train_size=None, test_size=None, steps=3000, lr=5e-3)
"""Training settings of the full runs: whole splits, 3,000 steps (3 epochs of MNIST)."""


@functools.lru_cache(maxsize=4)
def _load(spec: str) -> Splits:
    return load_dataset(spec, seed=0)


def dataset(config: dict[str, Any], key: str = "data") -> Splits:
    """``config[key]`` (a dataset spec) cut to ``config["train_size"]`` / ``["test_size"]``
    samples.

    The subsets are drawn once with a fixed generator (not the training seed), so every
    seed and every model of an experiment meets the same samples; ``None`` keeps a split
    whole. The name records the cut: ``"digits[500/200]"``.

    The experiments' networks take images ``(C, H, W)`` (``key="data"``) or videos
    ``(C, T, H, W)`` (``"clips"``): a data set of another kind is refused here, naming the
    spec, before any network is built for it.
    """
    data = _load(config[key])
    kind, axes = ("video", 4) if key == "clips" else ("image", 3)
    if data.kind != kind or len(data.input_shape) != axes:
        raise ValueError(
            f"run_experiment(): argument '{key}' must be a data set of {kind}s "
            f"({'C, T, H, W' if axes == 4 else 'C, H, W'}), as the experiment's networks take; "
            f"got {config[key]!r}, {data.kind}s of shape {tuple(data.input_shape)}"
        )
    sizes = (config.get("train_size"), config.get("test_size"))
    parts = []
    for (x, y), n in zip(
        ((data.x_train, data.y_train), (data.x_test, data.y_test)), sizes, strict=True
    ):
        if n is not None and n < len(x):
            pick = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:n]
            x, y = x[pick], y[pick]
        parts += [x, y]
    return Splits(
        *parts,
        num_classes=data.num_classes,
        kind=data.kind,
        name=f"{data.name}[{len(parts[0])}/{len(parts[2])}]",
        class_names=data.class_names,
    )


def data_label(data: Splits) -> str:
    """A short name of ``data`` for titles: its spec's label
    (:attr:`DataSpec.label <anyconv.data.DataSpec.label>`), then the sizes of the subsets
    and what else :func:`dataset` and the experiments added to its name.

    Example:
        >>> x, y = torch.zeros(2, 1, 1, 1), torch.zeros(2, dtype=torch.long)
        >>> data_label(Splits(x, y, x, y, num_classes=1, kind="image", name="idx:/data/mnist[2/2]"))
        'idx:mnist (2 train / 2 test)'
        >>> data_label(Splits(x, y, x, y, num_classes=1, kind="image", name="digits[2/2], rotated"))
        'digits (2 train / 2 test), rotated'
    """
    match = re.fullmatch(r"([^\[]*)(?:\[(\d+)/(\d+)\])?(.*)", data.name)
    spec, train, test, rest = match.groups()
    sizes = f" ({train} train / {test} test)" if train else ""
    return f"{DataSpec.parse(spec).label}{sizes}{rest}"


BATCH = 64


def epochs_for(steps: int, data: Splits) -> int:
    """Whole epochs closest to ``steps`` optimiser steps of :data:`BATCH` samples (at least 1).

    A budget in steps fits every dataset: 3000 steps are 3 epochs of MNIST's 60,000 images
    and 134 of the 1,437 training digits.

    Example:
        >>> x, y = torch.zeros(6400, 1, 2, 2), torch.zeros(6400, dtype=torch.long)
        >>> epochs_for(250, Splits(x, y, x, y, num_classes=1, kind="image", name="z"))
        2
    """
    return max(1, round(steps * BATCH / len(data.x_train)))


MAX_EVALUATIONS = 150
"""Most test evaluations (and checkpoints) of one training in an experiment: a budget of
steps on a tiny data set is hundreds of one-step epochs, each of which would be tested and
checkpointed (a 20-sample set ran past 200 s in fsyncs). The default runs stay below it."""


def evaluated(history: list[dict[str, Any]], key: str = "test_accuracy") -> list[dict[str, Any]]:
    """The epochs of ``history`` that were evaluated (``key`` recorded): all of them, but
    every few on data so small that :func:`fit` evaluates only every few epochs."""
    return [row for row in history if row.get(key) is not None]


def fit(
    model: torch.nn.Module, data: Splits, *, steps: int, lr: float, seed: int, label: str
) -> dict[str, Any]:
    """Train ``model`` in place with :func:`anyconv.train.train` for about ``steps`` steps
    (:func:`epochs_for`; AdamW, cosine schedule, batch 64, no augmentation) in a throw-away
    run folder; returns the metrics, with the per-epoch ``history``.

    No validation split is held out (``val_fraction=0``): an experiment trains for a fixed
    budget and selects nothing, so every training sample is used, the last model is kept
    and the history holds the test accuracy of every epoch (the curves of the figures), or
    of every few epochs beyond :data:`MAX_EVALUATIONS` of them (:func:`evaluated`)."""
    epochs = epochs_for(steps, data)
    config = dict(
        model=label,
        epochs=epochs,
        eval_every=max(1, math.ceil(epochs / MAX_EVALUATIONS)),
        batch_size=BATCH,
        lr=lr,
        seed=seed,
        augment=False,
        quiet=True,
        pictures=False,
        val_fraction=0.0,
    )
    with scratch_folder() as out:  # removed on exit; a killed run's, by the next one
        return train(TrainConfig(**config, out=str(out)), data, model, console=Console(quiet=True))


def trained(
    label: str,
    build: Callable[[], torch.nn.Module],
    data: Splits,
    *,
    steps: int,
    lr: float,
    seed: int,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """A model from ``build()`` (initialised under ``torch.manual_seed(seed)``), trained by
    :func:`fit`, and its metrics.

    Trained weights are cached in the process by ``(label, data.name, steps, lr, seed)``:
    experiments that need the same network (``lenet5`` on the same data) train it once, in
    ``anyconv experiment all`` and in the tests. Each call returns a fresh copy in eval mode.
    """
    key = json.dumps([label, data.name, steps, lr, seed])
    torch.manual_seed(seed)
    model = build()
    if key in _TRAINED:
        state, metrics = _TRAINED[key]
        model.load_state_dict(state)
    else:
        metrics = fit(model, data, steps=steps, lr=lr, seed=seed, label=label)
        _TRAINED[key] = (copy.deepcopy(model.state_dict()), metrics)
    return model.eval(), copy.deepcopy(metrics)


def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of ``x`` ``(N, C, *spatial)`` that ``model`` classifies as ``y``."""
    return evaluate(model, (x, y))["accuracy"]


def shift(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Images ``(N, C, H, W)`` moved down by ``dy`` and right by ``dx`` pixels (negative:
    up, left), filled with zeros.

    Example:
        >>> shift(torch.arange(4.0).view(1, 1, 2, 2), 1, 0)[0, 0]
        tensor([[0., 0.],
                [0., 1.]])
    """
    pad = max(abs(dy), abs(dx))
    offsets = torch.tensor([[pad - dy, pad - dx]]).expand(len(x), 2)
    return random_shift(x, offsets, pad)


DIRECTIONS = ((1, 0), (-1, 0), (0, 1), (0, -1))
"""Down, up, right, left: the moves of :func:`shifted_accuracy`."""


def shifted_accuracy(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, pixels: int
) -> float:
    """Accuracy on ``x`` moved by ``pixels`` (zero fill), the mean over the four directions."""
    if pixels == 0:
        return accuracy(model, x, y)
    return statistics.fmean(
        accuracy(model, shift(x, dy * pixels, dx * pixels), y) for dy, dx in DIRECTIONS
    )


def mean_std(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (``None`` for a single value)."""
    values = list(values)
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


def seeds_count(seeds: Sequence[int]) -> str:
    """``"1 seed"`` or ``"N seeds"``."""
    return "1 seed" if len(seeds) == 1 else f"{len(seeds)} seeds"


def seeds_note(seeds: Sequence[int]) -> str:
    """How many seeds a mean is over, in words."""
    return f"mean ± std over {len(seeds)} seeds" if len(seeds) > 1 else "1 seed, no spread"


def builder(name: str, data: Splits, **kwargs: Any) -> Callable[[], torch.nn.Module]:
    """A function building registered model ``name`` for ``data``'s input and classes."""
    from anyconv.models import create_model

    shape = data.input_shape

    def build() -> torch.nn.Module:
        return create_model(
            name,
            in_channels=shape[0],
            num_classes=data.num_classes,
            input_size=tuple(shape[1:]),
            **kwargs,
        )

    return build


def convs(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The anyconv convolution layers of ``model``, in order."""
    from anyconv.nn.conv import ConvNd

    return [m for m in model.modules() if isinstance(m, ConvNd)]


def replace(model: torch.nn.Module, old: torch.nn.Module, new: torch.nn.Module) -> None:
    """Put ``new`` where the submodule ``old`` sits in ``model``."""
    for parent in model.modules():
        for name, child in parent.named_children():
            if child is old:
                setattr(parent, name, new)
                return
    raise ValueError(f"replace(): {type(old).__name__} is not a submodule of the model")


def trained_model(
    name: str, data: Splits, config: dict[str, Any], seed: int, **kwargs: Any
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Registered model ``name`` (with ``kwargs``) for ``data``, trained with the ``steps``
    and ``lr`` of ``config`` and ``seed`` by :func:`trained` (so cached), and its metrics."""
    label = name if not kwargs else f"{name}-{json.dumps(kwargs, sort_keys=True)}"
    build = builder(name, data, **kwargs)
    return trained(label, build, data, steps=config["steps"], lr=config["lr"], seed=seed)
