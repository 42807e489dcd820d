"""The registry of experiments: one entry per claim, each with its quick and full settings."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, NamedTuple

from anyconv._checks import fail, register_unique, unknown_name

MODULES = (
    "dense_vs_conv",
    "sharing",
    "pooling_shift",
    "learned_invariance",
    "separable_rank",
    "fft_crossover",
    "motion",
    "flip",
    "convergence",
    "gabor",
    "checkerboard",
    "random_kernels",
)
"""The experiment modules of :mod:`anyconv.experiments`, in the order ``list`` shows them
(the order in which the theory meets the claims)."""


class Experiment(NamedTuple):
    """One registered experiment.

    Attributes:
        run: ``run(ctx) -> Outcome``, measuring with the settings in ``ctx.config``.
        name: the command-line name (``anyconv experiment NAME``).
        claim: the claim of the theory it tests, one sentence.
        quick: settings of the reduced run (``--quick``), a JSON-ready dict; ``"seeds"``
            is the default number of seeds and ``"data"`` the default dataset spec when the
            experiment reads one.
        full: settings of the full run, the same keys.
    """

    run: Callable[..., Any]
    name: str
    claim: str
    quick: dict[str, Any]
    full: dict[str, Any]


EXPERIMENTS: dict[str, Experiment] = {}


def register_experiment(
    name: str, claim: str, *, quick: dict[str, Any], full: dict[str, Any]
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register ``run(ctx) -> Outcome`` as experiment ``name``.

    A name held by another function is refused (:func:`anyconv._checks.register_unique`,
    as for models and datasets). ``quick`` and ``full`` must have the same keys, so that
    every setting of a run is written to its ``results.json`` either way.

    Example:
        >>> @register_experiment("doc-example", "1 + 1 = 2", quick={}, full={})
        ... def run(ctx):
        ...     ...
        >>> EXPERIMENTS["doc-example"].claim
        '1 + 1 = 2'
        >>> def other(ctx):
        ...     ...
        >>> register_experiment("doc-example", "again", quick={}, full={})(other)
        ... # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ValueError: register_experiment(): name 'doc-example' is already registered to ...
        >>> del EXPERIMENTS["doc-example"]
    """
    func = "register_experiment"
    if set(quick) != set(full):
        raise fail(func, "quick", f"the same keys as full ({sorted(full)})", sorted(quick))

    def wrap(run: Callable[..., Any]) -> Callable[..., Any]:
        register_unique(
            EXPERIMENTS, name, Experiment(run, name, claim, dict(quick), dict(full)), func
        )
        return run

    return wrap


def _load_all() -> None:
    for module in MODULES:
        importlib.import_module(f"anyconv.experiments.{module}")


def get_experiment(name: str) -> Experiment:
    """The registered experiment ``name``, or an error listing the names.

    Example:
        >>> get_experiment("flip").name
        'flip'
    """
    _load_all()
    if name not in EXPERIMENTS:
        raise unknown_name(
            "get_experiment", "name", name, EXPERIMENTS, " (anyconv experiment list)"
        )
    return EXPERIMENTS[name]


def list_experiments() -> dict[str, str]:
    """Every experiment's name and the claim it tests, in the order of :data:`MODULES`.

    Example:
        >>> len(list_experiments()), "fft-crossover" in list_experiments()
        (12, True)
    """
    _load_all()

    def position(e: Experiment) -> int:
        module = e.run.__module__.rpartition(".")[2]
        return MODULES.index(module) if module in MODULES else len(MODULES)

    return {e.name: e.claim for e in sorted(EXPERIMENTS.values(), key=position)}
