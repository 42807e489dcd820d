"""Atomic files, checkpoints that load with ``weights_only=True``, and RNG state capture.

A checkpoint is a dict of tensors, numbers, strings, lists and dicts only, so
``torch.load(path, weights_only=True)`` reads it and nothing is ever unpickled.
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import re
import shutil
import warnings
from collections.abc import Callable, Collection
from pathlib import Path
from typing import IO, Any

import torch

FORMAT_VERSION = 1


class NoSpaceLeft(OSError):
    """A file could not be written for lack of space (``ENOSPC``/``EDQUOT``); the earlier
    file of that name is kept. Its message is one line: ``no space left on DIR: ...``."""

    def __str__(self) -> str:
        return str(self.strerror)


TMP_PREFIX = ".anyconv-"
TMP_SUFFIX = ".tmp"
""":func:`atomic_write`'s temporary names are ``.anyconv-NAME.PID.tmp``: only files of this
form are ever removed as strays (:func:`remove_strays`)."""

FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
FULL_FREE_BYTES = 64 << 10  # free bytes under which a failed write is put down to a full disk


def _disk_full(error: BaseException, folder: Path) -> bool:
    """Whether a failed write ran out of space: an ``ENOSPC``/``EDQUOT`` anywhere in the
    error's chain (``torch.save`` wraps it in its own ``RuntimeError``), or almost no free
    space left on the folder's file system while the temporary file still holds its bytes."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in FULL_ERRNOS:
            return True
        error = error.__cause__ or error.__context__
    try:
        return shutil.disk_usage(folder).free < FULL_FREE_BYTES
    except OSError:
        return False


def atomic_write(
    path: str | Path,
    write: Callable[[IO[bytes]], Any],
    *,
    advice: str = "free some space, then --resume continues",
) -> Path:
    """Write a file so that readers see the old or the new content, never a torn one.

    ``write(f)`` fills a temporary file in the same folder (same file system, so the
    rename is atomic), which is flushed to disk and then ``os.replace``-d over ``path``.
    A process killed mid-write leaves at most a stray ``.anyconv-NAME.PID.tmp`` file
    behind, which the next writer that holds the folder removes (:func:`remove_strays`).
    A full disk ends in :class:`NoSpaceLeft` (``no space left on DIR``, then ``advice``),
    the temporary file removed and any earlier ``path`` kept whole.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}.{os.getpid()}{TMP_SUFFIX}")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_folder(path.parent)
    except Exception as error:
        if _disk_full(error, path.parent):
            kept = f"the earlier {path.name} is kept" if path.exists() else "nothing written"
            raise NoSpaceLeft(
                errno.ENOSPC,
                f"no space left on {path.parent}: {path.name} could not be written ({kept}); "
                + advice,
            ) from None
        raise
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def remove_strays(folder: str | Path, names: Collection[str]) -> list[Path]:
    """Delete the temporary files that writers killed inside :func:`atomic_write` left in
    ``folder`` for the files ``names`` (``.anyconv-NAME.PID.tmp``; the finished files and
    every other file, such as a user's own ``.draft.2024.tmp``, are never touched). Call it
    only while holding the folder, so that no live writer's file is taken; returns the
    removed.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / ".anyconv-checkpoint.pt.123.tmp").write_bytes(b"torn")
        >>> _ = (folder / ".notes.2024.tmp").write_text("the user's")
        >>> [p.name for p in remove_strays(folder, ["checkpoint.pt"])]
        ['.anyconv-checkpoint.pt.123.tmp']
    """
    pattern = re.compile(
        rf"{re.escape(TMP_PREFIX)}(.+)\.\d+{re.escape(TMP_SUFFIX)}", flags=re.ASCII
    )
    strays = []
    for p in Path(folder).glob(f"{TMP_PREFIX}*{TMP_SUFFIX}"):
        match = pattern.fullmatch(p.name)
        if match and match[1] in names and p.is_file() and not p.is_symlink():
            strays.append(p)
    for stray in strays:
        stray.unlink(missing_ok=True)
    return strays


def _fsync_folder(folder: Path) -> None:
    """Make a rename durable: flush the folder's entry to disk (POSIX; elsewhere a no-op)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot sync a folder; the rename itself stands
        pass
    finally:
        os.close(fd)


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


SCHEMA: dict[str, type | tuple[type, ...]] = {
    "format": int,
    "epoch": int,
    "step": int,
    "model": dict,
    "optimizer": dict,
    "scheduler": dict,
    "scaler": dict,
    "rng": dict,
    "history": list,
    "config": dict,
    "world_size": int,
}
"""The keys of a checkpoint and the type of each."""


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` (no arbitrary object is unpickled) and
    check its structure; anything else is a ``ValueError`` naming the file.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = open(f"{d}/c.pt", "wb").write(b"garbage")
        ...     try:
        ...         load_checkpoint(f"{d}/c.pt")
        ...     except ValueError as error:
        ...         print(str(error).split(": ", 1)[1])
        not a readable anyconv checkpoint (not a torch.save file, or a truncated one)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    unreadable = ValueError(
        f"{path}: not a readable anyconv checkpoint (not a torch.save file, or a truncated one)"
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's hints about the pickle protocol
            state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        # torch's own message advises weights_only=False, i.e. running the file's code:
        # never shown.
        if "GLOBAL" not in str(error):  # not a forbidden object: bytes of no pickle
            raise unreadable from None
        raise ValueError(
            f"{path}: refused, it holds objects other than tensors, numbers, strings and "
            "containers (an anyconv checkpoint never does; such files are never unpickled)"
        ) from None
    except (EOFError, RuntimeError, ValueError, OSError, IndexError, KeyError, TypeError):
        raise unreadable from None
    check_checkpoint(state, path)
    return state


def check_checkpoint(state: Any, path: str | Path) -> None:
    """Refuse a checkpoint whose keys, types or counters are not what anyconv writes."""
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path}: not an anyconv checkpoint (format {FORMAT_VERSION})")
    for key, kind in SCHEMA.items():
        if key not in state:
            raise ValueError(f"{path}: damaged checkpoint, '{key}' is missing")
        value = state[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ValueError(
                f"{path}: damaged checkpoint, '{key}' is a {type(value).__name__}, "
                f"expected a {kind.__name__}"
            )
    if state["epoch"] < 0 or state["step"] < 0 or state["world_size"] < 1:
        raise ValueError(
            f"{path}: damaged checkpoint, epoch {state['epoch']}, step {state['step']}, "
            f"world_size {state['world_size']} (none may be negative)"
        )
    if len(state["history"]) != state["epoch"]:
        raise ValueError(
            f"{path}: damaged checkpoint, {len(state['history'])} history rows for epoch "
            f"{state['epoch']}"
        )
    bad = [k for k, v in state["model"].items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ValueError(f"{path}: damaged checkpoint, model entry '{bad[0]}' is not a tensor")
    rng = state["rng"]
    if not all(isinstance(rng.get(k), torch.Tensor) for k in ("torch", "generator")):
        raise ValueError(f"{path}: damaged checkpoint, its random number states are missing")


def save_weights(path: str | Path, model: torch.nn.Module | dict[str, torch.Tensor]) -> Path:
    """Write a model's state dict (or a state dict) to a safetensors file, atomically.

    Tensors are copied to contiguous CPU storage first: safetensors refuses shared or
    strided storage, and the copy makes tied weights two plain entries.
    """
    from safetensors.torch import save

    state = model.state_dict() if isinstance(model, torch.nn.Module) else model
    tensors = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in state.items()}
    blob = save(tensors)
    return atomic_write(path, lambda f: f.write(blob))


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """A safetensors file's tensors; an empty, truncated or corrupt file is a ``ValueError``
    naming it."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such weights file")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError, TypeError) as error:
        reason = "empty" if path.stat().st_size == 0 else "truncated or corrupt"
        raise ValueError(f"{path}: not a readable safetensors file ({reason}: {error})") from None


def check_weights(tensors: dict[str, torch.Tensor], model: torch.nn.Module, path: Any) -> None:
    """Refuse weights that do not fit ``model`` exactly: names, shapes, floating dtypes,
    finite values. Each message names the file and the first tensor at fault."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in tensors]
    extra = [k for k in tensors if k not in expected]
    if missing or extra:
        what = f"lacks '{missing[0]}'" if missing else f"has an unknown tensor '{extra[0]}'"
        raise ValueError(
            f"{path}: does not fit {type(model).__name__}: it {what} "
            f"({len(missing)} missing, {len(extra)} unknown)"
        )
    for name, want in expected.items():
        got = tensors[name]
        if tuple(got.shape) != tuple(want.shape):
            raise ValueError(
                f"{path}: '{name}' has shape {tuple(got.shape)}, but "
                f"{type(model).__name__} needs {tuple(want.shape)}"
            )
        if want.is_floating_point():
            if not got.is_floating_point():
                raise ValueError(
                    f"{path}: '{name}' holds {got.dtype} values, but the model needs "
                    f"{want.dtype} (weights are never cast silently)"
                )
            if not torch.isfinite(got).all():
                bad = int((~torch.isfinite(got)).sum())
                raise ValueError(f"{path}: '{name}' holds {bad:,} NaN or infinite values")
        elif got.dtype != want.dtype:
            raise ValueError(f"{path}: '{name}' holds {got.dtype} values, expected {want.dtype}")


def load_weights(path: str | Path, model: torch.nn.Module) -> torch.nn.Module:
    """Load a safetensors state dict into ``model`` after :func:`check_weights`."""
    tensors = read_weights(path)
    check_weights(tensors, model, path)
    model.load_state_dict(tensors, strict=True)
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
