"""The registry of experiments: one entry per claim, each with its quick and full settings."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from anyconv._spec import fail

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
)
"""The experiment modules of :mod:`anyconv.experiments`, in the order ``list`` shows them
(the order in which the theory meets the claims)."""


@dataclass(frozen=True)
class Experiment:
    """One registered experiment.

    Attributes:
        name: the command-line name (``anyconv experiment NAME``).
        claim: the claim of the theory it tests, one sentence.
        run: ``run(ctx) -> Outcome``, measuring with the settings in ``ctx.config``.
        quick: settings of the reduced run (``--quick``), a JSON-ready dict; ``"seeds"``
            is the default number of seeds and ``"data"`` the default dataset spec when the
            experiment reads one.
        full: settings of the full run, the same keys.
    """

    name: str
    claim: str
    run: Callable[..., Any]
    quick: dict[str, Any] = field(default_factory=dict)
    full: dict[str, Any] = field(default_factory=dict)


EXPERIMENTS: dict[str, Experiment] = {}


def register_experiment(
    name: str, claim: str, *, quick: dict[str, Any], full: dict[str, Any]
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register ``run(ctx) -> Outcome`` as experiment ``name``.

    A name can be registered once; a second registration is an error naming the first.
    ``quick`` and ``full`` must have the same keys, so that every setting of a run is
    written to its ``results.json`` either way.

    Example:
        >>> @register_experiment("doc-example", "1 + 1 = 2", quick={}, full={})
        ... def run(ctx):
        ...     ...
        >>> EXPERIMENTS["doc-example"].claim
        '1 + 1 = 2'
        >>> register_experiment("doc-example", "again", quick={}, full={})(run)
        ... # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ValueError: register_experiment(): argument 'name' must be a name not registered ...
        >>> del EXPERIMENTS["doc-example"]
    """
    func = "register_experiment"
    if not isinstance(name, str) or not name:
        raise fail(func, "name", "a non-empty string", name, TypeError)
    if set(quick) != set(full):
        raise fail(func, "quick", f"the same keys as full ({sorted(full)})", sorted(quick))

    def wrap(run: Callable[..., Any]) -> Callable[..., Any]:
        if name in EXPERIMENTS:
            first = EXPERIMENTS[name].run
            raise ValueError(
                f"{func}(): argument 'name' must be a name not registered yet; got {name!r} "
                f"(already registered by {first.__module__}.{first.__qualname__})"
            )
        EXPERIMENTS[name] = Experiment(name, claim, run, dict(quick), dict(full))
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
        raise fail("get_experiment", "name", "one of " + ", ".join(map(repr, EXPERIMENTS)), name)
    return EXPERIMENTS[name]


def list_experiments() -> dict[str, str]:
    """Every experiment's name and the claim it tests, in the order of :data:`MODULES`.

    Example:
        >>> len(list_experiments()), "fft-crossover" in list_experiments()
        (10, True)
    """
    _load_all()

    def position(e: Experiment) -> int:
        module = e.run.__module__.rpartition(".")[2]
        return MODULES.index(module) if module in MODULES else len(MODULES)

    return {e.name: e.claim for e in sorted(EXPERIMENTS.values(), key=position)}
