"""Memory estimates before allocation: a problem too large is refused with its estimate.

Every algorithm's registry entry estimates the bytes its forward pass allocates at its peak
(the output, padded copies, columns, spectra; the inputs themselves are not counted, they
exist already). Before anything is allocated, :func:`.registry.prepare` compares the
estimate with :func:`memory_limit` and refuses a larger problem with anyconv's
``ValueError`` naming the estimate, the limit and the algorithms that would fit, instead of
letting the allocator fail (or the machine swap) after minutes of work.

The rule: one convolution may take at most :data:`MEMORY_LIMIT` bytes, by default half of
the device's memory (CPU: physical memory, or the container's cgroup limit when lower;
CUDA: the device's total memory), so that the inputs, gradients and the rest of the program
keep the other half. The estimates are of the forward pass; a backward pass needs about as
much again.
"""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path

import torch

MEMORY_LIMIT: int | None = None
"""Bytes one convolution may allocate at its peak. ``None`` (the default): half of the
device's memory (:func:`device_memory`). Set it to allow more (or less), e.g.
``anyconv.functional.algorithms.memory.MEMORY_LIMIT = 64 << 30``."""

_CGROUP_FILES = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


@functools.lru_cache(maxsize=16)
def device_memory(device: torch.device) -> int | None:
    """Total memory of ``device`` in bytes (CPU: physical memory, or the cgroup limit when
    lower; CUDA: the device's); ``None`` where it is unknown (the check is then skipped).

    Example:
        >>> device_memory(torch.device("cpu")) > 0
        True
    """
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory
    if device.type != "cpu":
        return None
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
    for name in _CGROUP_FILES:
        try:
            text = Path(name).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def memory_limit(device: torch.device) -> int | None:
    """The bytes one convolution on ``device`` may allocate: :data:`MEMORY_LIMIT`, or half of
    :func:`device_memory` by default (``None``: no check)."""
    if MEMORY_LIMIT is not None:
        return MEMORY_LIMIT
    total = device_memory(device)
    return None if total is None else total // 2


def describe_limit(device: torch.device) -> str:
    """How the limit came about, for error messages."""
    limit = memory_limit(device)
    if MEMORY_LIMIT is not None:
        origin = "MEMORY_LIMIT"
    else:
        origin = f"half of the {device.type} device's {human_bytes(device_memory(device))}"
    return (
        f"the limit of {human_bytes(limit)} ({origin}; raise "
        "anyconv.functional.algorithms.memory.MEMORY_LIMIT to allow more)"
    )


def human_bytes(n: float) -> str:
    """``n`` bytes in a unit a person reads at a glance.

    Example:
        >>> human_bytes(17_184_063_488), human_bytes(512)
        ('17.2 GB', '512 B')
    """
    for unit, size in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def nbytes(shape, dtype: torch.dtype) -> int:
    """Bytes of a dense tensor of ``shape`` and ``dtype``."""
    return math.prod(shape) * dtype.itemsize


def padded_shape(x_shape, padding) -> tuple[int, ...]:
    """``(N, C, *(n + lo + hi))``."""
    return (*x_shape[:2], *(n + lo + hi for n, (lo, hi) in zip(x_shape[2:], padding, strict=True)))


def output_bytes(problem) -> int:
    """Bytes of the output ``(N, C_out, *out)``."""
    n, o = problem.x_shape[0], problem.weight_shape[0]
    return nbytes((n, o, *problem.spec.out_shape), problem.dtype)
