"""The memory policy of anyconv, and the estimates of the convolution algorithms.

The one rule, for every allocation anyconv plans (a convolution, a data set held in memory,
what a command is about to build): it may take at most :func:`memory_limit` bytes,
:data:`MEMORY_LIMIT` or by default half of the device's memory, and is refused before
anything is allocated, with its estimate and the limit. A one-off allocation on the host
(:func:`check_allocation`: loading a data set, a command's plan) must besides fit in the
memory available now (:func:`available_memory`); a convolution is checked against the limit
alone, decided once per device, so that nothing is asked of the host per call.

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
"""Bytes one planned allocation (a convolution at its peak, a data set held in memory, a
command's plan) may take. ``None`` (the default): half of the device's memory
(:func:`device_memory`). Set it to allow more (or less), e.g.
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


def available_memory() -> int:
    """Bytes of host memory available to new allocations now (``MemAvailable`` on Linux,
    else the free physical pages, else 2**63 when the system does not say), and no more
    than this process may still map under its address-space limit (``ulimit -v``), if it
    has one: under ``ulimit -v 3000000`` a 763 MiB array no longer reaches the allocator
    and its raw "Unable to allocate" naming no file.

    Example:
        >>> available_memory() > 0
        True
    """
    return min(_system_memory(), _address_space_left())


def _address_space_left() -> int:
    """``RLIMIT_AS`` less the address space mapped now (``VmSize``); 2**63 without a limit."""
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
        if limit == resource.RLIM_INFINITY:
            return 2**63
        with open("/proc/self/status") as f:
            used = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    except (ImportError, OSError, ValueError, StopIteration):
        return 2**63
    return max(limit - used, 0)


def _system_memory() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return 2**63


def check_allocation(nbytes: float, what: str, device: torch.device | str = "cpu") -> None:
    """Refuse, before allocating, ``nbytes`` for ``what`` above :func:`memory_limit`, or on
    the CPU above the memory available now, with anyconv's ``ValueError`` naming both.

    Example:
        >>> check_allocation(1024, "a small buffer")
        >>> check_allocation(2**70, "a zettabyte")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ValueError: a zettabyte would need about 1180591.6 PB, above the limit of ...
    """
    device = torch.device(device)
    limit = memory_limit(device)
    if limit is not None and nbytes > limit:
        raise ValueError(
            f"{what} would need about {human_bytes(nbytes)}, above {describe_limit(device)}"
        )
    if device.type == "cpu":
        free = available_memory()
        if nbytes > free:
            raise ValueError(
                f"{what} would need about {human_bytes(nbytes)}, but only {human_bytes(free)} "
                "of memory is available now"
            )


def fits_in_memory(nbytes: float, fraction: float) -> bool:
    """Whether ``nbytes`` are at most ``fraction`` of the host memory available now (to
    decide, e.g., whether to hold a data set in memory or stream it).

    Example:
        >>> fits_in_memory(0, 0.25)
        True
    """
    return nbytes <= fraction * available_memory()
