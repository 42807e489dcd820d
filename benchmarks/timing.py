"""Timing and memory helpers shared by the benchmarks."""

from __future__ import annotations

import gc
from collections.abc import Callable

import torch

from anyconv.analysis.timing import median_ratio, median_times, timed_rounds

__all__ = [
    "forward_backward",
    "forward_only",
    "median_ratio",
    "median_time",
    "median_times",
    "peak_memory",
    "timed_rounds",
]


def median_time(
    fn: Callable[[], object], repeat: int = 5, warmup: int = 1, device: str = "cpu"
) -> float:
    """Median wall-clock seconds of ``fn()`` over ``repeat`` runs after ``warmup`` runs."""
    return median_times({"fn": fn}, repeat, warmup, device)["fn"]


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
