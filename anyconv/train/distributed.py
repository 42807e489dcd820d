"""Process-group set-up for data-parallel training under ``torchrun``.

``torchrun --nproc_per_node=N`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR`` and ``MASTER_PORT``; :func:`setup` reads them, picks the device and the
backend (gloo on CPU, NCCL on CUDA) and initialises the default process group.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from anyconv._checks import fail


@dataclass
class Dist:
    """Where this process stands: ``rank`` of ``world_size``; ``owned`` when :func:`setup`
    created the process group (and :func:`teardown` must destroy it)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owned: bool = False

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        """Rank 0: the only process that writes files and prints."""
        return self.rank == 0


def pick_device(preference: str, local_rank: int = 0) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; ``"cuda"`` without CUDA is an error."""
    if preference not in ("auto", "cpu", "cuda"):
        raise fail("pick_device", "device", "'auto', 'cpu' or 'cuda'", preference)
    if preference == "cuda" and not torch.cuda.is_available():
        raise fail(
            "pick_device", "device", "'cpu' or 'auto' (no CUDA device is visible)", preference
        )
    if preference == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    index = local_rank % torch.cuda.device_count()
    torch.cuda.set_device(index)
    return torch.device("cuda", index)


def setup(preference: str = "auto") -> tuple[Dist, torch.device]:
    """Join the process group when launched by torchrun (``WORLD_SIZE > 1``).

    An already initialised group (the caller set it up) is used as it is and left alone.
    """
    if dist.is_available() and dist.is_initialized():
        local_rank = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
        info = Dist(dist.get_rank(), dist.get_world_size(), local_rank, owned=False)
        return info, pick_device(preference, local_rank)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Dist(), pick_device(preference)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(preference, local_rank)
    dist.init_process_group(
        "nccl" if device.type == "cuda" else "gloo", rank=rank, world_size=world_size
    )
    return Dist(rank, world_size, local_rank, owned=True), device


def teardown(info: Dist) -> None:
    """Destroy the process group if :func:`setup` created it."""
    if info.owned and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce(tensor: torch.Tensor, info: Dist, op: str = "sum") -> torch.Tensor:
    """In-place all-reduce (``"sum"`` or ``"min"``) over the group; a no-op alone."""
    if info.enabled:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM if op == "sum" else dist.ReduceOp.MIN)
    return tensor


def shard(indices: torch.Tensor, info: Dist) -> torch.Tensor:
    """This rank's share of an epoch's permutation: every rank gets the same number of
    samples (the remainder is dropped) so all take the same number of steps -- DDP hangs
    otherwise. Interleaved (``rank::world``) so each global batch is the single-process
    batch of the same permutation."""
    if not info.enabled:
        return indices
    usable = len(indices) // info.world_size * info.world_size
    return indices[:usable][info.rank :: info.world_size]
