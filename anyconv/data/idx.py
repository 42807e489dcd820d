"""``idx:DIR``: MNIST-format IDX files, such as MNIST, Fashion-MNIST and KMNIST.

An IDX file is a 4-byte magic number ``0x0000TTNN`` (two zero bytes, a type code ``TT``,
the number of dimensions ``NN``), ``NN`` big-endian uint32 sizes, then the values in
C order, big-endian. Type codes: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
0x0D float32, 0x0E float64. Images are ``0x00000803`` (uint8, N x rows x cols), labels
``0x00000801`` (uint8, N). Files may be gzipped (``.gz``) or raw; gzip is recognised by
its first two bytes, so a raw file with a ``.gz`` name (as some browsers leave them) loads.
"""

from __future__ import annotations

import gzip
import zlib
from math import prod
from pathlib import Path

import numpy as np

from anyconv.data._common import check_labels, need_dir, path_argument, to_splits
from anyconv.data.base import Splits, register_dataset

IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def _read_bytes(path: Path) -> tuple[bytes, bool]:
    """The file's bytes, decompressed when they start with gzip's magic bytes (whatever the
    name), and whether they were."""
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":
        return raw, False
    try:
        return gzip.decompress(raw), True
    except EOFError as e:
        raise ValueError(f"{path}: truncated gzip file ({e})") from None
    except (gzip.BadGzipFile, zlib.error) as e:
        raise ValueError(f"{path}: corrupt gzip file ({e})") from None


def read_idx(path: str | Path, *, ndim: int | None = None, what: str = "items") -> np.ndarray:
    """Read an IDX file (raw, or gzipped: recognised by its content) into an array of
    its stored shape ``(N, *dims)`` and native-endian dtype.

    ``ndim`` (optional) is the number of dimensions the file must have; ``what`` names the
    first axis in error messages ("images", "labels"). Every malformed file raises a
    ``ValueError`` that starts with the path: bad magic number, short header, or a size
    that disagrees with the header.

    Example:
        >>> import tempfile, pathlib, numpy as np
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = pathlib.Path(tmp) / "x-idx3-ubyte.gz"
        ...     write_idx(path, np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
        ...     a = read_idx(path, ndim=3)
        >>> a.shape, a.dtype, int(a[1, 2, 3])
        ((2, 3, 4), dtype('uint8'), 23)
    """
    path = Path(path)
    raw, gzipped = _read_bytes(path)
    expected = (
        f"0x000008{ndim:02X} (uint8, {ndim} dimensions)"
        if ndim
        else "0x0000TTNN (type code TT, NN dimensions)"
    )
    if len(raw) < 4:
        raise ValueError(
            f"{path}: {len(raw)} bytes, too short for an IDX file (a 4-byte "
            f"magic number {expected} comes first)"
        )
    magic = int.from_bytes(raw[:4], "big")
    if raw[:2] != b"\0\0" or raw[2] not in IDX_TYPES or (ndim and raw[3] != ndim):
        raise ValueError(
            f"{path}: bad magic number 0x{magic:08X}, expected {expected}; "
            "is this an IDX file of the right kind?"
        )
    dtype, nd = IDX_TYPES[raw[2]], raw[3]
    header = 4 + 4 * nd
    if len(raw) < header:
        raise ValueError(
            f"{path}: truncated header: {nd} dimensions need {header} bytes, got {len(raw)}"
        )
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(nd))
    size = header + prod(dims) * dtype.itemsize
    if len(raw) != size:
        each = f" of {'x'.join(map(str, dims[1:]))}" if nd > 1 else ""
        gz = " (after decompression)" if gzipped else ""
        state = "truncated" if len(raw) < size else "trailing bytes"
        raise ValueError(
            f"{path}: expected {size:,} bytes{gz} for {dims[0] if dims else 0} "
            f"{what}{each} ({dtype.name}), got {len(raw):,} ({state})"
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write ``array`` (any shape, a dtype of :data:`IDX_TYPES`) as an IDX file, gzipped
    when ``path`` ends in ``.gz``. The inverse of :func:`read_idx`.

    Example:
        >>> import tempfile, pathlib, numpy as np
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     write_idx(pathlib.Path(tmp) / "y-idx1-ubyte", np.array([3, 1], np.uint8))
        ...     read_idx(pathlib.Path(tmp) / "y-idx1-ubyte").tolist()
        [3, 1]
    """
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in IDX_TYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        raise TypeError(
            f"write_idx(): argument 'array' must have dtype uint8, int8, int16, "
            f"int32, float32 or float64; got dtype {array.dtype}"
        )
    code = codes[native]
    head = bytes([0, 0, code, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    data = head + np.ascontiguousarray(array, IDX_TYPES[code]).tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(data, compresslevel=6) if path.suffix == ".gz" else data)


def _find(folder: Path, stem: str) -> Path:
    # also accept the "train-images.idx3-ubyte" spelling that some mirrors unpack to
    alt = stem.replace("-idx", ".idx")
    for name in (stem + ".gz", stem, alt + ".gz", alt):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(
        f"{folder / stem}[.gz]: no such file; an IDX folder holds "
        f"{', '.join(FILES.values())} (each raw or .gz)"
    )


@register_dataset(
    "idx",
    "MNIST-format IDX files in DIR (train-/t10k- images and labels, "
    "raw or .gz): MNIST, Fashion-MNIST, ...",
)
def load_idx(argument: str | None, *, seed: int = 0) -> Splits:
    """The four standard IDX files in folder ``argument`` (``idx:DIR``): images
    ``(N, 1, rows, cols)`` float32 in [0, 1] (uint8 / 255; other types unscaled), labels
    0..K-1 with K the largest label + 1. ``seed`` is unused.

    Example:
        >>> import tempfile, pathlib, numpy as np
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     for part, n in (("train", 6), ("t10k", 2)):
        ...         write_idx(f"{tmp}/{part}-images-idx3-ubyte.gz", np.zeros((n, 4, 4), np.uint8))
        ...         write_idx(f"{tmp}/{part}-labels-idx1-ubyte", np.arange(n, dtype=np.uint8) % 3)
        ...     d = load_idx(tmp)
        >>> tuple(d.x_train.shape), tuple(d.y_test.shape), d.num_classes
        ((6, 1, 4, 4), (2,), 3)
    """
    folder = need_dir(path_argument("idx", argument, "DIR"), "idx:DIR")
    paths = {key: _find(folder, stem) for key, stem in FILES.items()}
    arrays = {}
    normalization = {}
    for part in ("train", "test"):
        images = read_idx(paths[f"{part}_images"], ndim=3, what="images")
        labels = read_idx(paths[f"{part}_labels"], ndim=1, what="labels")
        if len(images) != len(labels):
            raise ValueError(
                f"{paths[f'{part}_labels']}: {len(labels):,} labels, but "
                f"{paths[f'{part}_images']} holds {len(images):,} images"
            )
        x = images.astype(np.float32)[:, None]
        if images.dtype == np.uint8:
            np.divide(x, 255, out=x)
            normalization = {"divide": 255.0}
        arrays[part] = x, check_labels(labels, str(paths[f"{part}_labels"]))
    if arrays["train"][0].shape[1:] != arrays["test"][0].shape[1:]:
        raise ValueError(
            f"{paths['test_images']}: images of {arrays['test'][0].shape[2:]}, "
            f"but the train images are {arrays['train'][0].shape[2:]}"
        )
    return to_splits(
        *arrays["train"],
        *arrays["test"],
        kind="image",
        name=f"idx:{argument}",
        normalization=normalization,
    )
