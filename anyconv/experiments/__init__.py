"""Experiments that test the claims of CNN theory on data, one module per claim.

``anyconv experiment NAME`` (or :func:`run_experiment`) runs one and writes
``results.json`` (the claim, the measured table, whether the claim held by the rule the
experiment states, the settings, the machine), ``table.md`` and PNG figures. ``--quick``
(``quick=True``) is a reduced run, a smoke test (2 to 56 s of CPU time on one thread on the
bundled data, about 110 s for pooling-shift on MNIST), whose verdict is not evidence.

Example:
    >>> from anyconv.experiments import list_experiments
    >>> list(list_experiments())[:3]
    ['dense-vs-conv', 'sharing', 'pooling-shift']

"""

from anyconv.experiments.registry import (
    EXPERIMENTS,
    Experiment,
    get_experiment,
    list_experiments,
    register_experiment,
)
from anyconv.experiments.runner import RESULT_KEYS, Context, Outcome, run_experiment

__all__ = [
    "EXPERIMENTS",
    "RESULT_KEYS",
    "Context",
    "Experiment",
    "Outcome",
    "get_experiment",
    "list_experiments",
    "register_experiment",
    "run_experiment",
]
