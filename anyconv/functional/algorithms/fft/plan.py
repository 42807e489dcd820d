"""Sizes for the FFT path: fast transform lengths, where things lie in the transform
buffers (:class:`Geometry`), and overlap-save block plans.

One transform of the whole (padded) input is the textbook FFT convolution. When the input
is much larger than the kernel it is often faster to cut the output into blocks, each of
which reads an overlapping window of the input (overlap-save): every window is transformed
at a small size that stays in cache, the kernel's spectrum shrinks to that size, and the
blocks batch into the channel GEMM. :func:`block_plan` chooses the block sizes with a cost
model, and keeps one transform when blocking does not pay.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from typing import NamedTuple

from anyconv.padding import ConvSpec, effective_kernel


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


def fast_even_len(n: int) -> int:
    """The smallest even ``2^a · 3^b · 5^c >= n``: odd real transforms are markedly slower
    (MKL on x86: 135 points take about twice as long as 144).

    Example:
        >>> fast_even_len(133)
        144
    """
    return 2 * next_fast_len(-(-n // 2))


def transform_sizes(
    spatial: Sequence[int],
    kernel: Sequence[int],
    dilation: Sequence[int],
    padding: Sequence[tuple[int, int]],
) -> tuple[int, ...]:
    """The FFT size per axis: the smallest even fast size at which no wanted output wraps.

    The ``span = n + lo + hi - k_eff + 1`` wanted outputs read the input at positions in
    ``[-lo, n + hi - 1]``; the periodic extension of the input has zeros exactly there
    outside ``[0, n)`` when ``F >= n + max(lo, hi)``. ``F >= span`` keeps the outputs apart
    and ``F >= k_eff`` the kernel taps.
    """
    sizes = []
    for n, k_eff, (lo, hi) in zip(
        spatial, effective_kernel(kernel, dilation), padding, strict=True
    ):
        sizes.append(fast_even_len(max(n + max(lo, hi), k_eff, n + lo + hi - k_eff + 1)))
    return tuple(sizes)


ELEMENTWISE_MAX = 4
"""Up to this many input channels per group the channel contraction runs as elementwise
products (see :attr:`Geometry.elementwise`)."""


class Geometry(NamedTuple):
    """Where things lie in the transform buffers of one problem (hashable)."""

    sizes: tuple[int, ...]
    """Transform size ``F`` per axis."""
    taps: tuple[tuple[int, ...], ...]
    """Per axis, the buffer position ``(lo - p·dilation) mod F`` of each kernel tap ``p``."""
    reads: tuple[slice, ...]
    """Per axis, where the outputs lie in the circular correlation: ``t·stride``."""
    spatial: tuple[int, ...]
    """Input extent per axis (the input sits at ``[0, n)`` of its buffer)."""
    groups: int
    elementwise: bool
    """At most :data:`ELEMENTWISE_MAX` input channels per group: the contraction is a sum of
    elementwise products in the transforms' own layout, which beats reordering the spectra
    for a batched matmul of tiny matrices."""


def geometry(x_shape, w_shape, spec: ConvSpec, padding) -> Geometry:
    """The :class:`Geometry` of ``x_shape`` against ``w_shape`` with zero ``padding``."""
    spatial = tuple(x_shape[2:])
    sizes = transform_sizes(spatial, w_shape[2:], spec.dilation, padding)
    taps = tuple(
        tuple((lo - p * d) % f for p in range(k))
        for k, d, (lo, _), f in zip(w_shape[2:], spec.dilation, padding, sizes, strict=True)
    )
    reads = tuple(
        slice(0, (m - 1) * s + 1, s) for m, s in zip(spec.out_shape, spec.stride, strict=False)
    )
    return Geometry(sizes, taps, reads, spatial, spec.groups, w_shape[1] <= ELEMENTWISE_MAX)


def _per_point(points: int) -> float:
    """Model cost of one transform per point: ``log2`` of its size, raised once a plane no
    longer fits in a core's cache (256 KiB of complex64)."""
    bits = math.log2(max(points, 2))
    return bits * (1.0 + 0.25 * max(0.0, bits + 3 - 18))


def spectral_cost(
    batch: int,
    channels: int,
    out_channels: int,
    per_group: int,
    points: int,
    block: int,
    training: bool = False,
) -> float:
    """Model cost of the FFT path, ``points`` frequencies per plane in transforms of
    ``block`` points each: transforms of the input and output planes, the kernel's transform
    (zero-filled and placed, at the block size only, however many blocks there are), the
    per-frequency channel contraction, and the copies that cut and reassemble blocks (when
    ``points > block``). ``training`` adds the backward pass: the transforms of both
    gradients, two more contractions, and the pruned inverse for the weight gradient."""
    planes = batch * (channels + out_channels)
    transforms, kernel, contraction = (2.0, 1.5, 3.0) if training else (1.0, 1.0, 1.0)
    cost = transforms * 2.5 * planes * points * _per_point(block)
    cost += kernel * 5.0 * out_channels * per_group * block * _per_point(block)
    cost += contraction * 4.0 * batch * out_channels * per_group * points
    if points > block:
        cost += transforms * 2.0 * planes * points
    return cost


MIN_BLOCK = {1: 256, 2: 64, 3: 64}
"""Smallest block transform per axis, by number of spatial axes: below it the fixed cost of
each small transform and of cutting and reassembling outweighs what the model counts
(measured on a 2-core x86 machine: 2-D blocks of 24 points ran 1.7x slower than one
transform, 3-D blocks of 32 points 1.4 to 2x slower)."""


def _candidates(k_eff: int, full: int, ndim: int) -> list[int]:
    """Even fast block transform sizes from ``max(2·k_eff, MIN_BLOCK)`` to half the full
    size, about 25% apart."""
    sizes, size = [], fast_even_len(max(2 * k_eff, MIN_BLOCK[ndim]))
    while 2 * size <= full:
        sizes.append(size)
        size = fast_even_len(int(size * 1.25) + 1)
    return sizes


@functools.lru_cache(maxsize=512)
def block_plan(
    spatial: tuple[int, ...],
    kernel: tuple[int, ...],
    dilation: tuple[int, ...],
    stride: tuple[int, ...],
    padding: tuple[tuple[int, int], ...],
    out_shape: tuple[int, ...],
    channels: tuple[int, int, int, int],
    training: bool = False,
    gain: float = 2.0,
) -> tuple[int, ...] | None:
    """Outputs per block along each axis for overlap-save, or ``None`` for one transform.

    Args:
        spatial, kernel, dilation, stride, padding, out_shape: the zero-padded problem.
        channels: ``(batch, C, O, C/groups)``.
        training: a backward pass will follow (see :func:`spectral_cost`).
        gain: blocks are used only when the model cost drops by this factor (2 by default:
            the model ignores cache and allocation effects, which decide close calls).

    An axis that is not worth cutting gets one block of all its outputs.

    Example:
        >>> block_plan((1 << 20,), (255,), (1,), (1,), ((127, 127),), (1 << 20,), (1, 1, 1, 1))
        (2176,)
        >>> block_plan((128, 128), (3, 3), (1, 1), (1, 1), ((1, 1),) * 2, (128, 128),
        ...            (8, 16, 16, 16)) is None
        True
    """
    batch, c, o, per_group = channels
    full = transform_sizes(spatial, kernel, dilation, padding)
    k_eff = effective_kernel(kernel, dilation)
    best_cost = spectral_cost(batch, c, o, per_group, math.prod(full), math.prod(full), training)
    best = None
    options = []
    for f, k, s, m in zip(full, k_eff, stride, out_shape, strict=True):
        axis = [(m, f, 1)]
        for size in _candidates(k, f, len(full)):
            per_block = (size - k) // s + 1
            if per_block < m:
                axis.append((per_block, size, -(-m // per_block)))
        options.append(axis)
    for combo in itertools.product(*options):
        if all(count == 1 for _, _, count in combo):
            continue
        block = math.prod(size for _, size, _ in combo)
        points = block * math.prod(count for _, _, count in combo)
        cost = spectral_cost(batch, c, o, per_group, points, block, training)
        if cost * gain < best_cost:
            best_cost, best = cost * gain, tuple(per_block for per_block, _, _ in combo)
    return best
