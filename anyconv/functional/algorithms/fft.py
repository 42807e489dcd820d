"""The convolution theorem: correlation is a product of spectra.

With ``X = rfft(x)`` and ``W = rfft(w)`` at a transform size ``F``, the circular
cross-correlation ``c[u] = sum_p x[(u + p) mod F] w[p]`` has spectrum ``X · conj(W)``.
Choosing ``F`` large enough that no wanted output wraps onto input data makes it the linear
one; output ``t`` of the padded problem is then ``c[(t*stride - lo) mod F]``.
"""

from __future__ import annotations

import contextlib
import functools
import math
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator, Sequence

import torch
import torch.autograd.forward_ad as fwAD

from anyconv._spec import ConvSpec
from anyconv.padding import effective_kernel, pad


@functools.lru_cache(maxsize=1024)
def next_fast_len(n: int) -> int:
    """The smallest ``2^a · 3^b · 5^c >= n``: a size every FFT library transforms quickly.

    Example:
        >>> next_fast_len(97)
        100
    """
    best = None
    p5 = 1
    while best is None or p5 < best:
        p35 = p5
        while best is None or p35 < best:
            candidate = p35
            while candidate < n:
                candidate *= 2
            best = candidate if best is None else min(best, candidate)
            p35 *= 3
        p5 *= 5
    return best


def transform_sizes(
    spatial: Sequence[int],
    kernel: Sequence[int],
    dilation: Sequence[int],
    padding: Sequence[tuple[int, int]],
) -> tuple[int, ...]:
    """The FFT size per axis: the smallest fast size at which no wanted output wraps.

    The ``span = n + lo + hi - k_eff + 1`` wanted outputs read the input at positions in
    ``[-lo, n + hi - 1]``; the periodic extension of the input has zeros exactly there
    outside ``[0, n)`` when ``F >= n + max(lo, hi)``. ``F >= span`` keeps the outputs apart
    and ``F >= k_eff`` the kernel taps.
    """
    sizes = []
    for n, k_eff, (lo, hi) in zip(
        spatial, effective_kernel(kernel, dilation), padding, strict=True
    ):
        sizes.append(next_fast_len(max(n + max(lo, hi), k_eff, n + lo + hi - k_eff + 1)))
    return tuple(sizes)


def dilate(weight: torch.Tensor, dilation: tuple[int, ...]) -> torch.Tensor:
    """Spread the taps of ``(O, C, *kernel)`` apart: ``dilation - 1`` zeros between taps."""
    if all(d == 1 for d in dilation):
        return weight
    spread = weight.new_zeros(*weight.shape[:2], *effective_kernel(weight.shape[2:], dilation))
    spread[(..., *(slice(None, None, d) for d in dilation))] = weight
    return spread


def _read_outputs(y: torch.Tensor, spec: ConvSpec, padding, sizes) -> torch.Tensor:
    """Output ``t`` of the padded problem is the circular correlation at ``t*s - lo (mod F)``:
    per axis one strided run, or two when the first ``ceil(lo/s)`` outputs wrap around."""
    for axis, (s, m, (lo, _), f) in enumerate(
        zip(spec.stride, spec.out_shape, padding, sizes, strict=True)
    ):
        dim = 2 + axis
        wrapped = min(-(-lo // s), m)
        runs = [(f - lo, wrapped), (wrapped * s - lo, m - wrapped)]
        pieces = [
            y.narrow(dim, start, s * (count - 1) + 1)[
                (slice(None),) * dim + (slice(None, None, s),)
            ]
            for start, count in runs
            if count
        ]
        y = pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim)
    return y


def prepare_kernel(ws: torch.Tensor, groups: int) -> torch.Tensor:
    """The kernel side of :func:`spectral_correlate`, which depends on the weight alone.

    For depthwise problems (one input channel per group) the conjugated spectrum
    ``(groups, O/g, F)``; otherwise the real 2x2 block matrix ``[[Wr, -Wi], [Wi, Wr]]`` of
    every group and frequency, ``(groups · F, 2 · C/g, 2 · O/g)``. This is what the kernel
    spectrum cache holds, so a hit skips the permutes and copies as well as the transform.
    """
    out_channels, per_group, *freq = ws.shape
    per_out = out_channels // groups
    f = math.prod(freq)
    if per_group == 1:
        return ws.conj().reshape(groups, per_out, f)
    w = torch.view_as_real(ws).reshape(groups, per_out, per_group, f, 2).permute(0, 3, 2, 1, 4)
    wr, wi = w[..., 0], w[..., 1]  # (G, F, C/g, O/g)
    m = torch.cat([torch.cat([wr, -wi], dim=-1), torch.cat([wi, wr], dim=-1)], dim=-2)
    return m.reshape(groups * f, 2 * per_group, 2 * per_out)


def correlate_prepared(
    xs: torch.Tensor, prepared: torch.Tensor, groups: int, out_channels: int
) -> torch.Tensor:
    """:func:`spectral_correlate` with the kernel side from :func:`prepare_kernel`."""
    n, channels, *freq = xs.shape
    per_group = channels // groups
    per_out = out_channels // groups
    f = math.prod(freq)
    if per_group == 1:
        y = xs.reshape(n, groups, 1, f) * prepared
        return y.reshape(n, out_channels, *freq)
    x = torch.view_as_real(xs).reshape(n, groups, per_group, f, 2)
    x = x.permute(1, 3, 0, 4, 2).reshape(groups * f, n, 2 * per_group)
    y = torch.bmm(x, prepared)
    y = y.reshape(groups, f, n, 2, per_out).permute(2, 0, 4, 1, 3).contiguous()
    return torch.view_as_complex(y).reshape(n, out_channels, *freq)


def spectral_correlate(xs: torch.Tensor, ws: torch.Tensor, groups: int) -> torch.Tensor:
    """``Y[n, o] = sum_c X[n, c] · conj(W[o, c])`` at every frequency, within each group.

    Args:
        xs: input spectrum ``(N, C, *freq)``, complex.
        ws: kernel spectrum ``(O, C/groups, *freq)``, complex.

    Returns:
        ``(N, O, *freq)``, complex.

    A complex matmul per frequency is done as one *real* batched GEMM with the 2x2 block
    form ``[Xr Xi] @ [[Wr, -Wi], [Wi, Wr]] = [Re Y, Im Y]``: PyTorch's CPU complex ``bmm``
    handles many tiny matrices one at a time, real ``bmm`` hands them to BLAS at once.
    Depthwise problems (one input channel per group) are a plain elementwise product.
    """
    return correlate_prepared(xs, prepare_kernel(ws, groups), groups, ws.shape[0])


# --------------------------------------------------------------------------------------
# Kernel spectrum cache (inference)
# --------------------------------------------------------------------------------------

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
    if not _cache_state["enabled"]:
        return False
    if torch.is_grad_enabled() and weight.requires_grad:
        return False
    if type(weight) not in (torch.Tensor, torch.nn.Parameter) or weight.is_inference():
        return False
    if weight.device.type == "meta" or torch.compiler.is_compiling():
        return False
    if fwAD._current_level >= 0 and fwAD.unpack_dual(weight).tangent is not None:
        return False
    try:
        weight.data_ptr()
    except RuntimeError:  # a tensor wrapper without storage of its own
        return False
    return True


def _kernel_operand(
    weight: torch.Tensor, compute_dtype: torch.dtype, spec: ConvSpec, sizes, dims
) -> torch.Tensor:
    """:func:`prepare_kernel` of the kernel spectrum at ``sizes``, from the cache when it can."""

    def compute() -> torch.Tensor:
        w = weight.to(compute_dtype)
        spectrum = torch.fft.rfftn(dilate(w, spec.dilation), s=sizes, dim=dims)
        return prepare_kernel(spectrum, spec.groups)

    if not _cacheable(weight):
        return compute()
    # operands made in inference mode are inference tensors, which autograd cannot save
    inference = torch.is_inference_mode_enabled()
    key = (id(weight), spec.dilation, tuple(sizes), spec.groups, compute_dtype, inference)
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


def conv_fft(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, spec: ConvSpec
) -> torch.Tensor:
    """Convolution through real FFTs of input and kernel and a per-frequency channel GEMM.

    Zero padding costs nothing: input and kernel are zero-extended to the transform size
    anyway, and the left padding becomes a circular shift in the read-out of the outputs.
    Stride is exact by reading every ``stride``-th output, dilation by spreading the taps. float64
    stays float64 (complex128); float16 and bfloat16 are transformed in float32.

    When no gradient is recorded for ``weight`` the kernel's transform (ready for the channel
    GEMM) is cached per weight tensor; see :func:`cache_kernel_spectra`.
    """
    dtype = x.dtype
    source = weight  # the cache is keyed on the caller's tensor, before any conversion
    if dtype in (torch.float16, torch.bfloat16):
        x, weight = x.float(), weight.float()
        bias = bias.float() if bias is not None else None
    padding = spec.padding
    if spec.padding_mode != "zeros":
        x = pad(x, padding, spec.padding_mode)
        padding = tuple((0, 0) for _ in padding)
    ndim = x.dim() - 2
    size = x.shape[2:]
    sizes = transform_sizes(size, weight.shape[2:], spec.dilation, padding)
    dims = tuple(range(2, 2 + ndim))
    spectrum_x = torch.fft.rfftn(x, s=sizes, dim=dims)
    operand = _kernel_operand(source, weight.dtype, spec, sizes, dims)
    y = correlate_prepared(spectrum_x, operand, spec.groups, weight.shape[0])
    y = torch.fft.irfftn(y, s=sizes, dim=dims)
    y = _read_outputs(y, spec, padding, sizes)
    if bias is not None:
        y = y + bias.view(-1, *(1,) * ndim)
    return y.to(dtype)
