"""What a run tells its user beyond the figures: a test accuracy no better than chance, too
few optimiser steps, a busy machine slowing the threads down, a model the folder cannot
rebuild. Each is one line, computed from plain values (so the rules are tested alone).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import torch

MIN_STEPS = 300
"""Optimiser steps below which a run is called short: the fallback recipe trains at least
this many (:func:`anyconv.train.recipes.epochs_for_steps`), and a shorter run says so.
Measured on 129 MNIST images of three digits in a ``folder:`` (93 to train, 27 to test),
``allcnn`` with the fallback recipe (batch 64, lr 3e-3): 40 steps (the old 20 epochs) left
it at chance, 33%; 200 steps gave 92.6%; 300 steps gave 100%, 96.3% and, for one seed of
three, 37% (its loss never left ln 3: a network that does not start learning, which the
chance warning then reports)."""

COLLAPSE = 4.0
"""An epoch this many times slower (in samples/s) than the fastest before it is a collapse
of throughput, as when other processes take the cores from PyTorch's threads."""


def chance_warning(confusion: torch.Tensor, class_names: Sequence[str]) -> str | None:
    """A sentence when a test confusion matrix ``(K, K)`` (rows: true class, columns:
    predicted) shows an accuracy no better than chance: within two standard errors of
    always answering the most frequent test class, or one class predicted for every sample.

    Example:
        >>> chance_warning(torch.tensor([[9, 0, 0], [9, 0, 0], [9, 0, 0]]), "abc")[:60]
        'test accuracy 33.33% is at chance: always answering the most'
        >>> chance_warning(torch.tensor([[9, 0], [1, 8]]), "ab") is None
        True
    """
    confusion = torch.as_tensor(confusion)
    n = int(confusion.sum())
    if n == 0:
        return None
    accuracy = float(confusion.diagonal().sum()) / n
    per_class = confusion.sum(1)
    majority = int(per_class.argmax())
    share = float(per_class[majority]) / n
    margin = 2 * math.sqrt(share * (1 - share) / n)
    predicted = int((confusion.sum(0) > 0).sum())
    one_class = predicted == 1 and len(confusion) > 1
    if accuracy > share + margin and not one_class:
        return None
    name = class_names[majority] if majority < len(class_names) else str(majority)
    said = (
        f"test accuracy {accuracy:.2%} is at chance: always answering the most frequent "
        f"class ({name!r}) scores {share:.2%} on these {n} test samples"
    )
    if one_class:
        said += ", and the model predicts one class for every sample"
    return said


def steps_note(steps: int, steps_per_epoch: int, epochs: int) -> str | None:
    """A sentence when a run took fewer than :data:`MIN_STEPS` optimiser steps.

    Example:
        >>> steps_note(40, 2, 20)[:67]
        'only 40 optimiser steps (2 per epoch, 20 epochs): too few for most '
        >>> steps_note(40, 2, 20)[-70:]
        '--epochs 150 would give 300 (or a smaller --batch-size more per epoch)'
        >>> steps_note(1000, 50, 20) is None
        True
    """
    if steps >= MIN_STEPS:
        return None
    wanted = math.ceil(MIN_STEPS / max(steps_per_epoch, 1))
    return (
        f"only {steps} optimiser steps ({steps_per_epoch} per epoch, {epochs} "
        f"epoch{'s' if epochs != 1 else ''}): too few "
        f"for most networks to learn; --epochs {wanted} would give {wanted * steps_per_epoch} "
        "(or a smaller --batch-size more per epoch)"
    )


def cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def busy_machine_hint(
    threads: int, load: float | None = None, cpus: int | None = None
) -> str | None:
    """A sentence when the machine is busier than its cores (the 1-minute load average
    above the core count) and PyTorch runs more than one thread.

    Example:
        >>> busy_machine_hint(threads=2, load=7.5, cpus=2)[:48]
        'the machine is busy (load average 7.5 on 2 cores'
        >>> busy_machine_hint(threads=1, load=7.5, cpus=2) is None
        True
    """
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):  # not POSIX
            return None
    cpus = cpus or cores()
    if threads <= 1 or load <= cpus:
        return None
    return (
        f"the machine is busy (load average {load:.1f} on {cpus} cores): PyTorch's {threads} "
        "threads wait for each other and training can run many times slower; --threads 1 "
        "is often faster on a shared machine"
    )


def throughput_hint(speeds: Sequence[float], threads: int) -> str | None:
    """A sentence when the last epoch's samples/s fell below 1/:data:`COLLAPSE` of the
    fastest epoch before it and PyTorch runs more than one thread.

    Example:
        >>> throughput_hint([310.0, 300.0, 21.0], threads=2)[:40]
        'training slowed from 310 to 21 samples/s'
        >>> throughput_hint([310.0, 300.0, 21.0], threads=1) is None
        True
    """
    if threads <= 1 or len(speeds) < 2:
        return None
    best, last = max(speeds[:-1]), speeds[-1]
    if last * COLLAPSE >= best:
        return None
    return (
        f"training slowed from {best:,.0f} to {last:,.0f} samples/s: other processes may be "
        f"taking the cores from PyTorch's {threads} threads; --threads 1 is often faster on "
        "a shared machine (--resume continues this run)"
    )


def object_note(name: str) -> str:
    """A sentence for a model given to ``train()`` as an object that the run folder
    records by its class ``name`` (``"module:QualName"``) and cannot rebuild.

    Example:
        >>> object_note("mynets:SmallNet").endswith(
        ...     "TrainConfig(model='mynets:SmallNet', model_kwargs={...})")
        True
    """
    module, _, qualname = name.partition(":")
    own = module not in ("__main__", "builtins") and not module.startswith("torch.")
    named = name if own and "<" not in qualname else "package.module:Name"
    short = qualname.rpartition(".")[2]
    return (
        f"the model given to train() is recorded by its class {name}: the run folder keeps "
        "its weights, but anyconv cannot rebuild it without its constructor arguments; "
        f"load_run(RUN, model={short}(...)) loads them into a model you build, and "
        f"evaluate, predict and summary rebuild a model trained as "
        f"TrainConfig(model='{named}', model_kwargs={{...}})"
    )


def resampling_note(model: torch.nn.Module, input_size: Sequence[int]) -> str | None:
    """A sentence when ``model`` resamples its input (a ``torch.nn.Upsample`` layer), as
    ``lenet5`` does with images under 24 pixels: its feature maps are then larger than the
    input, and receptive fields counted in input pixels are fractions.

    Example:
        >>> from anyconv.models import LeNet5
        >>> resampling_note(LeNet5(input_size=(8, 8)), (8, 8))[:66]
        'the model resamples its 8x8 inputs to 24x24 (features.0: Upsample,'
        >>> resampling_note(LeNet5(input_size=(28, 28)), (28, 28)) is None
        True
    """
    for name, module in model.named_modules():
        if not isinstance(module, torch.nn.Upsample):
            continue
        if module.size is not None:
            size = (
                module.size if isinstance(module.size, tuple) else (module.size,) * len(input_size)
            )
        else:
            factors = module.scale_factor
            if not isinstance(factors, tuple):
                factors = (factors,) * len(input_size)
            size = tuple(int(n * f) for n, f in zip(input_size, factors, strict=True))
        given = "x".join(map(str, input_size))
        made = "x".join(map(str, size))
        return (
            f"the model resamples its {given} inputs to {made} ({name}: Upsample, "
            f"{module.mode}) before its first convolution: its feature maps are {made}, and "
            "its receptive fields, counted in input pixels, come in fractions of a pixel "
            "('anyconv summary' shows them rounded)"
        )
    return None
