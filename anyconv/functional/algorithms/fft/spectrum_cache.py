"""The kernel spectrum cache of ``algorithm="fft"``: inference skips the kernel's transform.

Entries belong to one weight tensor object and are reused only while it is provably
unchanged; see :func:`cache_kernel_spectra`.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator

import torch
import torch.autograd.forward_ad as fwAD

_cache_state = {"enabled": True, "verify": True, "max_entries": 32, "max_bytes": 1 << 30}
_cache_stats = {"hits": 0, "misses": 0}
_cache: OrderedDict[tuple, _CacheEntry] = OrderedDict()
_cache_lock = threading.RLock()


class _CacheEntry:
    __slots__ = ("data_ptr", "nbytes", "prepared", "ref", "shape", "snapshot", "stride", "version")

    def __init__(self, weight, ref, prepared, snapshot):
        self.ref = ref
        self.version = weight._version
        self.data_ptr = weight.data_ptr()
        self.shape = tuple(weight.shape)
        self.stride = weight.stride()
        self.prepared = prepared
        self.snapshot = snapshot
        self.nbytes = prepared.numel() * prepared.element_size() + (
            snapshot.numel() * snapshot.element_size() if snapshot is not None else 0
        )

    def matches(self, weight: torch.Tensor) -> bool:
        return (
            self.ref() is weight
            and self.version == weight._version
            and self.data_ptr == weight.data_ptr()
            and self.shape == tuple(weight.shape)
            and self.stride == weight.stride()
            and (self.snapshot is None or torch.equal(self.snapshot, weight.detach()))
        )


def cache_kernel_spectra(
    enabled: bool = True,
    *,
    verify: bool | None = None,
    max_entries: int | None = None,
    max_bytes: int | None = None,
) -> None:
    """Turn the kernel spectrum cache of ``algorithm="fft"`` on or off, and size it.

    The cache is **on by default**, but it is only ever consulted when no gradient is
    recorded for the weight (``not torch.is_grad_enabled() or not weight.requires_grad``,
    e.g. under :func:`torch.no_grad` or for a frozen layer): training stays exact and
    differentiable. A hit skips the kernel's FFT and the preparation of its per-frequency
    GEMM operand; the input still goes through its own transforms each call.

    An entry belongs to one weight *tensor object* (held by a weak reference: a freed
    weight's entry is dropped at once) and is reused only while the weight's version
    counter, ``data_ptr()``, shape and strides are unchanged, so in-place updates
    (optimizer steps, ``load_state_dict``) miss. With ``verify`` (default on) a hit also
    checks the weight against a private copy (``torch.equal``, about as costly as reading
    the weight once), which catches writes that bypass the version counter (``w.data``,
    NumPy or DLPack views). On CUDA this check synchronizes with the host; turn it off there
    if every write goes through PyTorch's in-place ops.

    Bypassed (computed as before, nothing kept): ``conv(..., flip=True)``, whose flipped
    weight is a new tensor every call, and likewise views made afresh each call
    (``w[..., :3]``), so such calls only ever miss; inference tensors, weights with a
    forward-mode tangent, and ``torch.compile`` tracing. float16/bfloat16 weights are keyed
    on the caller's tensor, before their conversion to float32, and so are cached.

    Args:
        enabled: use the cache; ``False`` also empties it.
        verify: compare the weight with its copy on every hit (unchanged if ``None``).
        max_entries: least recently used entries beyond this many are evicted (32).
        max_bytes: bound on the bytes held (kernel operands plus copies; 1 GiB). A single
            operand larger than this is never cached.
    """
    with _cache_lock:
        _cache_state["enabled"] = bool(enabled)
        if verify is not None:
            _cache_state["verify"] = bool(verify)
        if max_entries is not None:
            _cache_state["max_entries"] = int(max_entries)
        if max_bytes is not None:
            _cache_state["max_bytes"] = int(max_bytes)
        if not enabled:
            _cache.clear()
        _evict()


@contextlib.contextmanager
def kernel_spectrum_cache(enabled: bool = True) -> Iterator[None]:
    """Context manager form of :func:`cache_kernel_spectra` (restores the previous switch)."""
    previous = _cache_state["enabled"]
    cache_kernel_spectra(enabled)
    try:
        yield
    finally:
        cache_kernel_spectra(previous)


def clear_kernel_cache() -> None:
    """Drop every cached kernel spectrum and reset the hit and miss counters."""
    with _cache_lock:
        _cache.clear()
        _cache_stats["hits"] = _cache_stats["misses"] = 0


def kernel_cache_info() -> dict[str, int]:
    """``hits``, ``misses``, ``entries`` and ``bytes`` of the kernel spectrum cache."""
    with _cache_lock:
        return {
            **_cache_stats,
            "entries": len(_cache),
            "bytes": sum(e.nbytes for e in _cache.values()),
        }


def _evict() -> None:
    total = sum(e.nbytes for e in _cache.values())
    while _cache and (
        len(_cache) > _cache_state["max_entries"] or total > _cache_state["max_bytes"]
    ):
        _, entry = _cache.popitem(last=False)
        total -= entry.nbytes


def _cacheable(weight: torch.Tensor) -> bool:
    if not _cache_state["enabled"] or torch.compiler.is_compiling():
        return False
    if torch.is_grad_enabled() and weight.requires_grad:
        return False
    if type(weight) not in (torch.Tensor, torch.nn.Parameter) or weight.is_inference():
        return False
    if weight.device.type == "meta":
        return False
    if fwAD._current_level >= 0 and fwAD.unpack_dual(weight).tangent is not None:
        return False
    try:
        weight.data_ptr()
    except RuntimeError:  # a tensor wrapper without storage of its own
        return False
    return True


def cached_operand(
    weight: torch.Tensor, key: tuple, compute: Callable[[], torch.Tensor]
) -> torch.Tensor:
    """``compute()`` (a tensor made from ``weight`` alone), or its cached value.

    The cache is consulted only when :func:`_cacheable` allows it; ``key`` holds everything
    besides the weight that the result depends on (transform sizes, dtype, ...).
    """
    if not _cacheable(weight):
        return compute()
    # operands made in inference mode are inference tensors, which autograd cannot save
    key = (id(weight), *key, torch.is_inference_mode_enabled())
    with _cache_lock:
        entry = _cache.get(key)
        if entry is not None and entry.matches(weight):
            _cache.move_to_end(key)
            _cache_stats["hits"] += 1
            return entry.prepared
        _cache_stats["misses"] += 1
    with torch.no_grad():
        prepared = compute()
        snapshot = weight.detach().clone() if _cache_state["verify"] else None

    def drop(_ref, key=key) -> None:
        with _cache_lock:
            current = _cache.get(key)
            if current is not None and current.ref is _ref:
                del _cache[key]

    entry = _CacheEntry(weight, weakref.ref(weight, drop), prepared, snapshot)
    with _cache_lock:
        if entry.nbytes <= _cache_state["max_bytes"]:
            _cache[key] = entry
            _cache.move_to_end(key)
            _evict()
    return prepared
