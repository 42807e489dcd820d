"""Per-step learning-rate schedules as pure functions of the step.

A function of ``(step, total)`` instead of a ``torch.optim.lr_scheduler`` object: the
only state to checkpoint is the step counter, and resuming cannot drift.
"""

from __future__ import annotations

import math

from anyconv._checks import fail

ONECYCLE_WARMUP = 0.3  # fraction of the steps spent rising, as torch's OneCycleLR
ONECYCLE_START = 25.0  # initial lr = lr / 25
ONECYCLE_END = 1e4  # final lr = lr / 1e4


def lr_factor(schedule: str, step: int, total: int) -> float:
    """Multiplier of the peak learning rate at optimiser step ``step`` of ``total``.

    ``"cosine"``: ``0.5 * (1 + cos(pi * step / total))`` from 1 towards 0;
    ``"onecycle"``: cosine rise from 1/25 to 1 over the first 30% of the steps, then
    cosine fall to 1/1e4; ``"none"``: 1.

    Example:
        >>> lr_factor("cosine", 0, 100), lr_factor("cosine", 50, 100)
        (1.0, 0.5)
        >>> round(lr_factor("onecycle", 30, 100), 6)
        1.0
    """
    total = max(total, 1)
    t = min(max(step, 0), total) / total
    if schedule == "none":
        return 1.0
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * t))
    if schedule == "onecycle":
        start, end = 1.0 / ONECYCLE_START, 1.0 / ONECYCLE_END
        if t < ONECYCLE_WARMUP:
            return _cosine_between(start, 1.0, t / ONECYCLE_WARMUP)
        return _cosine_between(1.0, end, (t - ONECYCLE_WARMUP) / (1.0 - ONECYCLE_WARMUP))
    raise fail("lr_factor", "schedule", "'cosine', 'onecycle' or 'none'", schedule)


def _cosine_between(a: float, b: float, t: float) -> float:
    return b + (a - b) * 0.5 * (1.0 + math.cos(math.pi * t))
