"""``npz:FILE``: arrays ``x_train, y_train, x_test, y_test`` in a NumPy ``.npz`` file.

Shape rules for ``x`` (the same for train and test, which must agree per sample):

====================  ==========  ===================================================
stored shape          kind        becomes
====================  ==========  ===================================================
``(N, L)``            sequence    ``(N, 1, L)``
``(N, 1, L)``         sequence    as is (PyTorch's layout of one-channel sequences)
``(N, H, W)``         image       ``(N, 1, H, W)`` (H > 1)
``(N, C, H, W)``      image       as is
``(N, H, W, C)``      image       ``(N, C, H, W)`` when C is 1, 3 or 4 and axis 1 is not
``(N, C, T, H, W)``   video       as is
====================  ==========  ===================================================

The kind is guessed from the rank alone, so some arrays are ambiguous: ``(N, 3, 100)``
is read as images 3 pixels high. An optional string entry ``kind`` ("sequence", "image"
or "video", e.g. ``np.savez(..., kind="sequence")``) overrides the guess: with it,
``(N, C, L)`` is a sequence of C channels, ``(N, T, H, W)`` a one-channel video and
``(N, 1, L)`` an image one pixel high; a channel axis is added when ``x`` has one
dimension fewer than the kind needs. Sequences take PyTorch's layout ``(N, C, L)``:
Keras's ``(N, L, C)`` must be transposed first (``x.transpose(0, 2, 1)``).
uint8 values are divided by 255, bool becomes 0/1, other numbers are cast to float32
unscaled; NaN or infinity is an error naming the first bad sample. Labels are whole
numbers ``>= 0``; the number of classes is the largest label + 1, or the length of an
optional string array ``class_names``. The file is read with ``allow_pickle=False``, and
only after its zip directory and every array's header were checked: arrays of Python
objects, a header declaring more data than the archive holds, or arrays larger than the
memory available are refused before anything is loaded.
"""

from __future__ import annotations

import zipfile
from math import prod
from pathlib import Path
from typing import Any

import numpy as np

from anyconv.data._common import check_labels, need_file, path_argument, to_splits
from anyconv.data.base import Splits, register_dataset
from anyconv.functional.algorithms import memory

KEYS = ("x_train", "y_train", "x_test", "y_test")
KIND_NDIM = {"sequence": 2, "image": 3, "video": 4}  # sample dims without a channel axis


def _x(a: np.ndarray, where: str, kind: str | None) -> tuple[np.ndarray, str]:
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{where}: must hold numbers, got dtype {a.dtype}")
    if kind is None:
        kind = {2: "sequence", 3: "image", 4: "image", 5: "video"}.get(a.ndim)
        if a.ndim == 3 and a.shape[1] == 1:  # (N, 1, L): no image is one pixel high
            kind = "sequence"
        if kind is None:
            raise ValueError(
                f"{where}: shape {a.shape} is not (N, L), (N, H, W), "
                "(N, C, H, W), (N, H, W, C) or (N, C, T, H, W)"
            )
        if a.ndim == 4 and a.shape[-1] in (1, 3, 4) and a.shape[1] not in (1, 3, 4):
            a = a.transpose(0, 3, 1, 2)  # channels last
    base = KIND_NDIM[kind]
    if a.ndim == base:
        a = a[:, None]
    elif a.ndim != base + 1:
        raise ValueError(
            f"{where}: shape {a.shape} has {a.ndim} dimensions, but kind "
            f"{kind!r} needs {base} (no channel axis) or {base + 1}"
        )
    x = a.astype(np.float32)
    if a.dtype == np.uint8:
        np.divide(x, 255, out=x)
    return x, kind


def _check_archive(path: Path) -> None:
    """Read the zip directory and every ``.npy`` header, and refuse what ``np.load`` must
    not be asked to do: files that are no zip archive, arrays of Python objects, headers
    that declare more data than the archive holds, and more than the memory available."""
    with path.open("rb") as f:
        start = f.read(6)
    if start.startswith(b"\x93NUMPY"):
        raise ValueError(
            f"{path}: a single .npy array, expected an .npz archive with "
            f"{', '.join(KEYS)} (np.savez)"
        )
    if not start.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise ValueError(
            f"{path}: not an .npz archive (a zip file of .npy arrays, as np.savez writes); "
            f"it starts with the bytes {start.hex(' ')}"
        )
    total = 0
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                key = info.filename[: -len(".npy")]
                with archive.open(info) as member:
                    shape, dtype, offset = npy_header(member, f"{path}: {key}")
                if dtype.hasobject:
                    raise ValueError(
                        f"{path}: {key} holds Python objects (dtype {dtype}), which anyconv "
                        "never loads; store numeric arrays"
                    )
                nbytes = prod(shape) * dtype.itemsize
                if offset + nbytes != info.file_size:
                    raise ValueError(
                        f"{path}: {key} declares shape {shape} of {dtype} ({nbytes:,} bytes), "
                        f"but the archive holds {max(info.file_size - offset, 0):,} bytes of "
                        "data for it"
                    )
                total += nbytes
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as e:
        raise ValueError(f"{path}: not a readable .npz file ({e})") from None
    memory.check_allocation(total * 2, f"{path}: its arrays and their float32 copies")


def npy_header(member: Any, where: str) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and data offset from the header of a ``.npy`` stream."""
    try:
        version = np.lib.format.read_magic(member)
        read = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, _, dtype = read(member)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"{where}: not a valid .npy array ({e})") from None
    return tuple(int(n) for n in shape), dtype, member.tell()


def _string(value: Any, where: str) -> str:
    if value.dtype.kind not in "US" or value.ndim != 0:
        raise ValueError(f"{where}: must be one string, got {value.dtype} of shape {value.shape}")
    return str(value.item().decode() if value.dtype.kind == "S" else value.item())


@register_dataset(
    "npz", "NumPy .npz FILE with x_train, y_train, x_test, y_test (images, sequences or videos)"
)
def load_npz(argument: str | None, *, seed: int = 0) -> Splits:
    """Arrays ``x_train, y_train, x_test, y_test`` from a ``.npz`` file (``npz:FILE``);
    ``x`` shaped by the module's rules into ``(N, C, *spatial)`` float32, ``y`` int64.
    ``seed`` is unused.

    Example:
        >>> import tempfile, pathlib, numpy as np
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     f = pathlib.Path(tmp) / "d.npz"
        ...     np.savez(f, x_train=np.zeros((4, 28, 28), np.uint8), y_train=[0, 1, 2, 1],
        ...              x_test=np.zeros((2, 28, 28), np.uint8), y_test=[2, 0])
        ...     d = load_npz(str(f))
        >>> tuple(d.x_train.shape), d.num_classes, d.kind
        ((4, 1, 28, 28), 3, 'image')
    """
    path = need_file(path_argument("npz", argument, "FILE"), "npz:FILE")
    _check_archive(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in KEYS if k not in f.files]
            if missing:
                raise ValueError(
                    f"{path}: missing {', '.join(missing)}; the file holds "
                    f"{', '.join(f.files) or 'nothing'}, expected {', '.join(KEYS)}"
                )
            arrays = {k: f[k] for k in f.files}
    except ValueError as e:
        if str(e).startswith(str(path)):
            raise
        raise ValueError(f"{path}: not a readable .npz file ({e})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: not a readable .npz file ({e})") from None
    kind = _string(arrays["kind"], f"{path}: kind") if "kind" in arrays else None
    if kind is not None and kind not in KIND_NDIM:
        raise ValueError(f"{path}: kind must be 'sequence', 'image' or 'video', got {kind!r}")
    names = None
    if "class_names" in arrays:
        c = arrays["class_names"]
        if c.dtype.kind not in "US" or c.ndim != 1:
            raise ValueError(
                f"{path}: class_names must be a 1-D array of strings, got "
                f"{c.dtype} of shape {c.shape}"
            )
        names = [s.decode() if isinstance(s, bytes) else str(s) for s in c.tolist()]
    parts = {}
    for p in ("train", "test"):
        x, kind_p = _x(arrays[f"x_{p}"], f"{path}: x_{p}", kind)
        y = check_labels(arrays[f"y_{p}"], f"{path}: y_{p}")
        if len(x) != len(y):
            raise ValueError(f"{path}: x_{p} holds {len(x):,} samples but y_{p} {len(y):,} labels")
        if names and len(y) and y.max() >= len(names):
            raise ValueError(
                f"{path}: y_{p} has label {int(y.max())}, but class_names "
                f"lists only {len(names)} classes"
            )
        parts[p] = x, y, kind_p
    if parts["train"][0].shape[1:] != parts["test"][0].shape[1:]:
        raise ValueError(
            f"{path}: x_train samples are {parts['train'][0].shape[1:]} but "
            f"x_test samples {parts['test'][0].shape[1:]} (after adding the "
            "channel axis); they must agree"
        )
    return to_splits(
        *parts["train"][:2],
        *parts["test"][:2],
        kind=parts["train"][2],
        name=f"npz:{argument}",
        class_names=names,
        where={"train": f"{path}: x_train", "test": f"{path}: x_test"},
        labels_where={"train": f"{path}: y_train", "test": f"{path}: y_test"},
    )
