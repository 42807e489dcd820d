"""Atomic files, checkpoints that load with ``weights_only=True``, and RNG state capture.

A checkpoint is a dict of tensors, numbers, strings, lists and dicts only, so
``torch.load(path, weights_only=True)`` reads it and nothing is ever unpickled.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch

FORMAT_VERSION = 1


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], Any]) -> Path:
    """Write a file so that readers see the old or the new content, never a torn one.

    ``write(f)`` fills a temporary file in the same folder (same file system, so the
    rename is atomic), which is flushed to disk and then ``os.replace``-d over ``path``.
    A process killed mid-write leaves at most a stray ``.tmp`` file behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_json(path: str | Path, value: Any) -> Path:
    """Atomically write ``value`` as indented JSON."""
    text = json.dumps(value, indent=2, default=_jsonable) + "\n"
    return atomic_write(path, lambda f: f.write(text.encode()))


def _jsonable(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, tuple | set):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Atomically ``torch.save`` a checkpoint dict (tensors and primitive containers)."""
    return atomic_write(path, lambda f: torch.save(state, f))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``: no arbitrary object is unpickled."""
    state = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path}: not an anyconv checkpoint (format {FORMAT_VERSION})")
    return state


def save_weights(path: str | Path, model: torch.nn.Module) -> Path:
    """Write the model's state dict to a safetensors file, atomically.

    Tensors are copied to contiguous CPU storage first: safetensors refuses shared or
    strided storage, and the copy makes tied weights two plain entries.
    """
    from safetensors.torch import save

    tensors = {
        k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()
    }
    blob = save(tensors)
    return atomic_write(path, lambda f: f.write(blob))


def load_weights(path: str | Path, model: torch.nn.Module) -> torch.nn.Module:
    """Load a safetensors state dict into ``model`` (strict: every key must match)."""
    from safetensors.torch import load_file

    model.load_state_dict(load_file(str(path)), strict=True)
    return model


def rng_state(generator: torch.Generator, cuda: bool) -> dict[str, Any]:
    """The states that decide what happens next: torch's CPU RNG (dropout, init), the
    shuffling/augmentation generator and, when used, every CUDA device's RNG."""
    return {
        "torch": torch.get_rng_state(),
        "generator": generator.get_state(),
        "cuda": torch.cuda.get_rng_state_all() if cuda else [],
    }


def set_rng_state(state: dict[str, Any], generator: torch.Generator) -> None:
    """Restore what :func:`rng_state` captured."""
    torch.set_rng_state(state["torch"])
    generator.set_state(state["generator"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
