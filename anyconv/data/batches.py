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

import contextlib
import os
import traceback
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from anyconv._checks import check_int

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


MAX_WORKERS = 64
"""The most decoding processes: each is a copy of the Python process, and a thousand of
them exhaust the threads and memory of any machine before decoding anything."""


def check_workers(workers: object, func: str) -> int:
    """``workers`` must be an int in ``0..MAX_WORKERS`` (None: :func:`default_workers`).

    Example:
        >>> check_workers(1000, "evaluate")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ValueError: evaluate(): argument 'workers' must be an int in 0..64 (0: decode in ...
    """
    if workers is None:
        return default_workers()
    return check_int(
        workers,
        "workers",
        func,
        minimum=0,
        maximum=MAX_WORKERS,
        note="0: decode in the main process; more processes than CPUs do not decode faster",
    )


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


class SampleError:
    """A sample that could not be read, carried back from a worker process as a value: a
    raised exception would reach the caller as "Caught ValueError in DataLoader worker
    process 0. Original Traceback ...", so the error travels as its type and message and
    is raised again, as it was, in the calling process."""

    def __init__(self, error: BaseException) -> None:
        self.kind = type(error)
        self.message = str(error) or type(error).__name__
        self.where = traceback.format_exc()  # for --debug, which shows an error's notes

    def error(self) -> BaseException:
        """The exception to raise: of its own type when that carries a message well
        (``ValueError``, ``TypeError``, ``MemoryError``, ``OSError`` ...), else a
        ``ValueError``; the original traceback is attached as a note."""
        error: BaseException = ValueError(self.message)
        if issubclass(self.kind, ValueError | TypeError | MemoryError | OSError):
            with contextlib.suppress(TypeError):  # a class that takes other arguments
                error = self.kind(self.message)
        if hasattr(error, "add_note"):  # Python 3.11+
            error.add_note(f"raised while reading the sample:\n{self.where}")
        return error


class _Guarded(torch.utils.data.Dataset):
    """``dataset`` whose failing samples come back as :class:`SampleError` values."""

    def __init__(self, dataset: torch.utils.data.Dataset) -> None:
        self.dataset = dataset

    def __getitem__(self, key: Key) -> Any:
        try:
            return self.dataset[key]
        except (ValueError, TypeError, OSError, MemoryError, ArithmeticError) as e:
            return SampleError(e)


def _collate(samples: list[Any]) -> Any:
    failed = next((s for s in samples if isinstance(s, SampleError)), None)
    if failed is not None:
        return failed
    xs, ys = zip(*samples, strict=True)
    try:
        return torch.stack(xs), torch.tensor(ys, dtype=torch.int64)
    except RuntimeError as e:  # not enough memory for the batch, as torch says it
        return SampleError(MemoryError(f"a batch of {len(xs)} samples: {e}"))


KILLED_HINT = (
    "most likely the system ran out of memory and its OOM killer ended it; use fewer "
    "--workers (0 decodes in the calling process), a smaller --batch-size or --image-size"
)


def load_batches(
    dataset: torch.utils.data.Dataset,
    batches: list[list[Key]],
    *,
    workers: int = 0,
    pin_memory: bool = False,
    prefetch: int = 4,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Iterate ``(x, y)`` for each batch of keys, decoded by ``workers`` processes (0: in
    this process), in the given order, each worker ``prefetch`` batches ahead.

    A sample that fails to load raises its own error here, in the calling process (a
    ``ValueError`` naming the file, not a worker's traceback); a worker killed from
    outside (the OOM killer, ``kill -9``) raises a ``ChildProcessError`` saying so.

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
        _Guarded(dataset),
        batch_sampler=batches,
        num_workers=workers,
        collate_fn=_collate,
        pin_memory=pin_memory,
        prefetch_factor=prefetch if workers else None,
    )
    return _checked(loader)


def _checked(loader: torch.utils.data.DataLoader) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    iterator = iter(loader)
    while True:
        try:
            batch = next(iterator)
        except StopIteration:
            return
        except RuntimeError as e:
            text = str(e)
            if "DataLoader worker" not in text:
                raise
            first = text.strip().splitlines()[0].rstrip(". ")
            raise ChildProcessError(
                f"a data-loading worker process died ({first}): {KILLED_HINT}"
            ) from None
        if isinstance(batch, SampleError):
            del iterator  # stops the workers before the error is reported
            raise batch.error()
        yield batch
