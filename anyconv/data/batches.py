"""Batches of a dataset that is read sample by sample: a ``torch.utils.data.DataLoader``
driven by the caller's own order of indices.

The trainer draws each epoch's permutation itself (and shards it across processes, as
``DistributedSampler`` would: disjoint, equal-sized, interleaved), so that a resumed run
redraws exactly the epoch it lost. The loader therefore takes no sampler of its own: it is
handed the batches of indices, each index paired with the epoch and the seed of its random
transform. A sample's random choices depend on those three numbers only, so the same
batches come out whether there are 0 or 8 worker processes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import torch

from anyconv._checks import fail

Key = tuple[int, int, int | None]  # (index, epoch, seed); seed None = no random transform


def default_workers() -> int:
    """Worker processes for decoding: one per CPU this process may use, less one for the
    training itself, at most 4 and at least 0.

    Example:
        >>> 0 <= default_workers() <= 4
        True
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    return max(0, min(4, cpus - 1))


def check_workers(workers: object, func: str) -> int:
    """``workers`` must be an int >= 0 (None: :func:`default_workers`)."""
    if workers is None:
        return default_workers()
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 0:
        raise fail(func, "workers", "an int >= 0 (0: decode in the main process)", workers)
    return workers


def key_batches(
    indices: Sequence[int] | torch.Tensor, batch_size: int, epoch: int, seed: int | None
) -> list[list[Key]]:
    """``indices`` cut into batches of ``batch_size`` keys ``(index, epoch, seed)``.

    Example:
        >>> key_batches([4, 2, 7], 2, epoch=1, seed=None)
        [[(4, 1, None), (2, 1, None)], [(7, 1, None)]]
    """
    if isinstance(indices, torch.Tensor):
        indices = indices.tolist()
    keys = [(int(i), epoch, seed) for i in indices]
    return [keys[i : i + batch_size] for i in range(0, len(keys), batch_size)]


def _collate(samples: list[tuple[torch.Tensor, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = zip(*samples, strict=True)
    return torch.stack(xs), torch.tensor(ys, dtype=torch.int64)


def load_batches(
    dataset: torch.utils.data.Dataset,
    batches: list[list[Key]],
    *,
    workers: int = 0,
    pin_memory: bool = False,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Iterate ``(x, y)`` for each batch of keys, decoded by ``workers`` processes (0: in
    this process), in the given order.

    Example:
        >>> class Squares(torch.utils.data.Dataset):
        ...     def __getitem__(self, key):
        ...         return torch.tensor([float(key[0] ** 2)]), key[0]
        >>> [y.tolist() for _, y in load_batches(Squares(), key_batches([3, 1, 2], 2, 0, None))]
        [[3, 1], [2]]
    """
    if not batches:
        return iter(())
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_sampler=batches,
        num_workers=workers,
        collate_fn=_collate,
        pin_memory=pin_memory,
        prefetch_factor=4 if workers else None,
    )
    return iter(loader)
