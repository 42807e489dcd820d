"""Wall-clock timing of contenders side by side, fair on a shared machine."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def timed_rounds(
    fns: dict[str, Callable[[], object]],
    repeat: int = 5,
    warmup: int = 1,
    device: str = "cpu",
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, list[float]]:
    """Wall-clock seconds of each ``fns[name]()`` in each of ``repeat`` rounds.

    The contenders run in turn within every round, so that a slow spell of a shared machine
    falls on all of them alike, and the order rotates from round to round: a step runs
    measurably slower right after a memory-heavy one (caches and freshly faulted pages).
    ``clock=time.process_time`` counts the process's CPU seconds instead: with one thread
    on a machine so busy that the process waits for a core most of the time, the wall
    clock measures the waiting, the CPU time the work.

    Example:
        >>> rounds = timed_rounds({"a": lambda: sum(range(10)), "b": lambda: None}, repeat=3)
        >>> sorted(rounds), len(rounds["a"])
        (['a', 'b'], 3)
    """
    import torch

    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for round_ in range(repeat):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            fn = fns[name]
            if device == "cuda":
                torch.cuda.synchronize()
            start = clock()
            fn()
            if device == "cuda":
                torch.cuda.synchronize()
            times[name].append(clock() - start)
    return times


def median_times(
    fns: dict[str, Callable[[], object]],
    repeat: int = 5,
    warmup: int = 1,
    device: str = "cpu",
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, float]:
    """Median seconds of each contender over the rounds of :func:`timed_rounds`."""
    rounds = timed_rounds(fns, repeat, warmup, device, clock)
    return {name: statistics.median(t) for name, t in rounds.items()}


def median_ratio(rounds: dict[str, list[float]], name: str, base: str) -> float:
    """Median over rounds of ``name``'s time over ``base``'s time in the same round: a slow
    spell that spans a round cancels out.

    Example:
        >>> median_ratio({"a": [2.0, 9.0, 4.0], "b": [1.0, 3.0, 2.0]}, "a", "b")
        2.0
    """
    return statistics.median(t / b for t, b in zip(rounds[name], rounds[base], strict=True))
