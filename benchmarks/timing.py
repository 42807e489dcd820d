"""Timing and memory helpers shared by the benchmarks."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable

import torch


def median_time(
    fn: Callable[[], object], repeat: int = 5, warmup: int = 1, device: str = "cpu"
) -> float:
    """Median wall-clock seconds of ``fn()`` over ``repeat`` runs after ``warmup`` runs."""
    return median_times({"fn": fn}, repeat, warmup, device)["fn"]


def timed_rounds(
    fns: dict[str, Callable[[], object]], repeat: int = 5, warmup: int = 1, device: str = "cpu"
) -> dict[str, list[float]]:
    """Wall-clock seconds of each ``fns[name]()`` in each of ``repeat`` rounds.

    The contenders run in turn within every round, so that a slow spell of a shared machine
    falls on all of them alike, and the order rotates from round to round: a step runs
    measurably slower right after a memory-heavy one (caches and freshly faulted pages).
    """
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
            start = time.perf_counter()
            fn()
            if device == "cuda":
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - start)
    return times


def median_times(
    fns: dict[str, Callable[[], object]], repeat: int = 5, warmup: int = 1, device: str = "cpu"
) -> dict[str, float]:
    """Median seconds of each contender over the rounds of :func:`timed_rounds`."""
    rounds = timed_rounds(fns, repeat, warmup, device)
    return {name: statistics.median(t) for name, t in rounds.items()}


def median_ratio(rounds: dict[str, list[float]], name: str, base: str) -> float:
    """Median over rounds of ``name``'s time over ``base``'s time in the same round: a slow
    spell that spans a round cancels out.

    Example:
        >>> median_ratio({"a": [2.0, 9.0, 4.0], "b": [1.0, 3.0, 2.0]}, "a", "b")
        2.0
    """
    return statistics.median(t / b for t, b in zip(rounds[name], rounds[base], strict=True))


def forward_backward(fn: Callable[..., torch.Tensor], *tensors: torch.Tensor) -> Callable:
    """A closure running ``fn(*leaves).sum().backward()`` on fresh leaves of ``tensors``."""
    leaves = [t.detach().requires_grad_() for t in tensors]

    def run() -> None:
        for t in leaves:
            t.grad = None
        fn(*leaves).sum().backward()

    return run


def forward_only(fn: Callable[..., torch.Tensor], *tensors: torch.Tensor) -> Callable:
    def run() -> None:
        with torch.no_grad():
            fn(*tensors)

    return run


def peak_memory(fn: Callable[[], object], device: str = "cpu") -> int:
    """Peak bytes allocated by PyTorch while ``fn()`` runs (above what was live before).

    On CUDA the caching allocator's statistics; on CPU the profiler's memory records
    (every tensor allocation and free), replayed to find the peak. Temporaries that an op
    allocates and frees inside itself are netted out, so the CPU figure is a lower bound.
    """
    gc.collect()
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - base
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    # An op's own allocations are charged to it; frees outside any op come as "[memory]"
    # events. Replayed in time order they give the live bytes, whose maximum is the peak.
    changes = []
    for e in prof.events():
        usage = e.cpu_memory_usage if e.name == "[memory]" else e.self_cpu_memory_usage
        if usage:
            changes.append((e.time_range.start, usage))
    live = peak = 0
    for _, usage in sorted(changes):
        live += usage
        peak = max(peak, live)
    return peak
