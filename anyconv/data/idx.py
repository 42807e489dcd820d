"""``idx:DIR``: MNIST-format IDX files, such as MNIST, Fashion-MNIST and KMNIST.

An IDX file is a 4-byte magic number ``0x0000TTNN`` (two zero bytes, a type code ``TT``,
the number of dimensions ``NN``), ``NN`` big-endian uint32 sizes, then the values in
C order, big-endian. Type codes: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
0x0D float32, 0x0E float64. Images are ``0x00000803`` (uint8, N x rows x cols), labels
``0x00000801`` (uint8, N). Files may be gzipped (``.gz``) or raw; gzip is recognised by
its first two bytes, so a raw file with a ``.gz`` name (as some browsers leave them) loads.

IDX files hold label numbers only. An optional text file ``classes.txt`` in the folder
names the classes, one name per line in label order (line 1 names label 0), as
torchvision's ``FashionMNIST.classes`` lists them; the names then appear in the run's
pictures and in ``predict``. Without it the classes are named by their numbers.
"""

from __future__ import annotations

import gzip
import os
import zlib
from math import prod
from pathlib import Path
from typing import BinaryIO

import numpy as np

from anyconv.data._common import (
    IsAFolderError,
    check_label_span,
    check_labels,
    need_dir,
    need_file,
    path_argument,
    to_splits,
)
from anyconv.data.base import Splits, register_dataset
from anyconv.functional.algorithms import memory

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


GZIP_MAGIC = b"\x1f\x8b"
# Deflate cannot compress better than about 1032:1, so a gzip file of n bytes holds at
# most this many times n bytes: a header declaring more is refused before decompressing.
MAX_DEFLATE_RATIO = 1032
# Above this many declared bytes, a gzip file's trailer (its uncompressed size mod 2**32)
# must agree with the header before the data is decompressed. Smaller files are read and
# their size checked as they go (a truncated file's last bytes are no trailer).
TRUST_HEADER_BYTES = 64 * 2**20


def _open(path: Path) -> tuple[BinaryIO, bool, int]:
    """The file opened for reading (through gzip when it starts with gzip's magic bytes,
    whatever its name), whether it was gzipped, and its size on disk."""
    if path.is_dir():
        raise IsAFolderError(f"{path}: is a folder, expected an IDX file")
    f = path.open("rb")
    size = os.fstat(f.fileno()).st_size
    gzipped = f.read(2) == GZIP_MAGIC
    f.seek(0)
    return (gzip.GzipFile(fileobj=f, mode="rb") if gzipped else f), gzipped, size


def _read(stream: BinaryIO, n: int, path: Path, gzipped: bool) -> bytes:
    """Up to ``n`` bytes, with gzip's errors turned into anyconv's."""
    try:
        return stream.read(n)
    except EOFError as e:
        raise ValueError(f"{path}: truncated gzip file ({e})") from None
    except (gzip.BadGzipFile, zlib.error, OSError) as e:
        kind = "corrupt gzip file" if gzipped else "unreadable file"
        raise ValueError(f"{path}: {kind} ({e})") from None


def _gzip_trailer_size(path: Path, size: int) -> int | None:
    """The uncompressed size mod 2**32 that a gzip file's last 4 bytes record."""
    if size < 18:  # 10-byte header + 8-byte trailer
        return None
    with path.open("rb") as f:
        f.seek(size - 4)
        return int.from_bytes(f.read(4), "little")


def read_idx(path: str | Path, *, ndim: int | None = None, what: str = "items") -> np.ndarray:
    """Read an IDX file (raw, or gzipped: recognised by its content) into an array of
    its stored shape ``(N, *dims)`` and native-endian dtype.

    ``ndim`` (optional) is the number of dimensions the file must have; ``what`` names the
    first axis in error messages ("images", "labels"). Every malformed file raises a
    ``ValueError`` that starts with the path: bad magic number, short header, or a size
    that disagrees with the header.

    The header is read first, then checked against the file before any data is read: a
    raw file must have exactly the declared size; a gzipped one must be able to hold it
    (deflate compresses at most about 1032:1) and, above 64 MiB, its trailer must record
    it; the declared array must fit in the memory available. Then exactly the declared bytes are
    decompressed, and one more byte is asked for, so that a file with more data than its
    header declares fails without decompressing the rest.

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
    stream, gzipped, file_size = _open(path)
    with stream:
        return _read_idx(stream, path, gzipped, file_size, ndim, what)


def _read_idx(
    stream: BinaryIO, path: Path, gzipped: bool, file_size: int, ndim: int | None, what: str
) -> np.ndarray:
    expected = (
        f"0x000008{ndim:02X} (uint8, {ndim} dimensions)"
        if ndim
        else "0x0000TTNN (type code TT, NN dimensions)"
    )
    head = _read(stream, 4, path, gzipped)
    if len(head) < 4:
        raise ValueError(
            f"{path}: {len(head)} bytes, too short for an IDX file (a 4-byte "
            f"magic number {expected} comes first)"
        )
    magic = int.from_bytes(head, "big")
    if head[:2] != b"\0\0" or head[2] not in IDX_TYPES or (ndim and head[3] != ndim):
        raise ValueError(
            f"{path}: bad magic number 0x{magic:08X}, expected {expected}; "
            "is this an IDX file of the right kind?"
        )
    dtype, nd = IDX_TYPES[head[2]], head[3]
    header = 4 + 4 * nd
    raw_dims = _read(stream, 4 * nd, path, gzipped)
    if len(raw_dims) < 4 * nd:
        raise ValueError(
            f"{path}: truncated header: {nd} dimensions need {header} bytes, "
            f"got {4 + len(raw_dims)}"
        )
    dims = tuple(int.from_bytes(raw_dims[4 * i : 4 * i + 4], "big") for i in range(nd))
    nbytes = prod(dims) * dtype.itemsize
    size = header + nbytes
    each = f" of {'x'.join(map(str, dims[1:]))}" if nd > 1 else ""
    declared = f"{dims[0] if dims else 0:,} {what}{each} ({dtype.name})"

    def wrong_size(got: str, state: str) -> ValueError:
        gz = " (after decompression)" if gzipped else ""
        return ValueError(
            f"{path}: expected {size:,} bytes{gz} for {declared}, got {got} ({state})"
        )

    if not gzipped and file_size != size:
        raise wrong_size(f"{file_size:,}", "truncated" if file_size < size else "trailing bytes")
    if gzipped:
        if size > MAX_DEFLATE_RATIO * file_size:
            raise ValueError(
                f"{path}: the header declares {declared}, {size:,} bytes, which a gzip file "
                f"of {file_size:,} bytes cannot hold (truncated, or not an IDX file)"
            )
        trailer = _gzip_trailer_size(path, file_size)
        if size > TRUST_HEADER_BYTES and trailer != size % 2**32:
            raise ValueError(
                f"{path}: the header declares {declared}, {size:,} bytes, but the gzip "
                f"trailer records {trailer:,} bytes (mod 2**32): the file is truncated or "
                "its header is wrong"
            )
    memory.check_allocation(nbytes, f"{path}: {declared}")
    out = np.empty(dims, dtype)
    view = memoryview(out.reshape(-1).view(np.uint8)) if nbytes else memoryview(b"")
    got = 0
    while got < nbytes:
        try:
            n = stream.readinto(view[got:])
        except EOFError as e:
            raise ValueError(f"{path}: truncated gzip file ({e})") from None
        except (gzip.BadGzipFile, zlib.error, OSError) as e:
            raise ValueError(f"{path}: corrupt gzip file ({e})") from None
        if not n:
            raise wrong_size(f"{header + got:,}", "truncated")
        got += n
    if _read(stream, 1, path, gzipped):  # the rest is never decompressed
        raise wrong_size(f"more than {size:,}", "trailing bytes")
    return out.astype(dtype.newbyteorder("="), copy=False)


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
    names = (stem + ".gz", stem, alt + ".gz", alt)
    for name in names:
        if (folder / name).is_file():
            return folder / name
    for name in names:
        if (folder / name).is_dir():
            raise IsAFolderError(f"{folder / name}: is a folder, expected an IDX file (raw or .gz)")
    raise FileNotFoundError(
        f"{folder / stem}[.gz]: no such file; an IDX folder holds "
        f"{', '.join(FILES.values())} (each raw or .gz)"
    )


CLASS_NAMES_FILE = "classes.txt"


def read_class_names(path: Path, num_classes: int) -> list[str]:
    """The class names in ``path``, one per line (line 1 names label 0; blank lines at
    the end and a UTF-8 byte-order mark ignored): at least ``num_classes`` of them,
    none empty or repeated.

    Example:
        >>> import tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     f = pathlib.Path(tmp) / "classes.txt"
        ...     _ = f.write_text("T-shirt/top\\nTrouser\\n\\n")
        ...     read_class_names(f, 2)
        ['T-shirt/top', 'Trouser']
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not a UTF-8 text file ({e})") from None
    names = [line.strip() for line in text.rstrip().splitlines()]
    for i, name in enumerate(names):
        if not name:
            raise ValueError(f"{path}: line {i + 1} is empty; every line names one class")
        if name in names[:i]:
            raise ValueError(
                f"{path}: line {i + 1} repeats the class name {name!r} of line "
                f"{names.index(name) + 1}"
            )
    if len(names) < num_classes:
        raise ValueError(
            f"{path}: names {len(names)} classes, but the labels run to {num_classes - 1} "
            f"({num_classes} classes); write one name per line, line 1 for label 0"
        )
    return names


@register_dataset(
    "idx",
    "MNIST-format IDX files in DIR (train-/t10k- images and labels, "
    "raw or .gz): MNIST, Fashion-MNIST, ...",
)
def load_idx(argument: str | None, *, seed: int = 0) -> Splits:
    """The four standard IDX files in folder ``argument`` (``idx:DIR``): images
    ``(N, 1, rows, cols)`` float32 in [0, 1] (uint8 / 255; other types unscaled), labels
    0..K-1 with K the largest label + 1 (or the number of names in an optional
    ``DIR/classes.txt``, one class name per line). ``seed`` is unused.

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
        where = paths[f"{part}_images"]
        memory.check_allocation(images.size * 4, f"{where}: the float32 images")
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
    names = None
    if (folder / CLASS_NAMES_FILE).exists():
        labels = [("train", arrays["train"][1]), ("test", arrays["test"][1])]
        top = max((int(y.max()) for _, y in labels if len(y)), default=-1)
        names = read_class_names(
            need_file(folder / CLASS_NAMES_FILE, "the class names"),
            check_label_span([(str(paths[f"{p}_labels"]), y) for p, y in labels])
            if top >= 0
            else 0,
        )
    return to_splits(
        *arrays["train"],
        *arrays["test"],
        kind="image",
        name=f"idx:{argument}",
        class_names=names,
        where={"train": str(paths["train_images"]), "test": str(paths["test_images"])},
        labels_where={"train": str(paths["train_labels"]), "test": str(paths["test_labels"])},
        normalization=normalization,
    )
