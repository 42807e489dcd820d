"""What a command may plan to allocate: half of the machine's physical memory."""

from __future__ import annotations

import os


def memory_limit() -> int:
    """Bytes a command may plan to allocate: half the machine's physical memory."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def check_memory(estimate: float, what: str) -> None:
    """Refuse before allocating when ``estimate`` bytes exceed :func:`memory_limit`."""
    limit = memory_limit()
    if estimate > limit:
        raise MemoryError(
            f"{what} would need about {estimate / 2**30:,.1f} GiB, more than the "
            f"{limit / 2**30:,.1f} GiB (half of this machine's memory) allowed; use smaller sizes"
        )
