"""MiniRocket's transform as one fused numba loop (the fast CPU path of
:meth:`anyconv.models.MiniRocket.transform`; imported only when numba is installed).

Per series and dilation ``d``: the 9 shifted (zero-padded) copies of each channel once and
their sum ``A``; each of the 84 kernels' outputs as ``-A + 3 * (its three copies)`` (its
weights are -1, and 2 at three taps), summed over the kernel's channels; and, in the same
loop, the count of positions above each of its biases, over the whole output or the
positions ``4d`` in from either end (alternately, as in
:meth:`~anyconv.models.MiniRocket._features`). The series run in parallel (``prange``: each
series' counts depend on that series alone, so the thread count never changes a result).
"""

from __future__ import annotations

import numba
import numpy as np

KERNEL_LENGTH = 9
NUM_KERNELS = 84


@numba.njit(cache=True, fastmath=False, inline="always")
def _count_above(values, biases, out):  # pragma: no cover
    """``out[b]`` = the number of ``values`` above ``biases[b]`` (a loop LLVM vectorises)."""
    for b in range(len(biases)):
        bias = biases[b]
        above = np.int32(0)
        for p in range(len(values)):
            above = np.int32(above + np.int32(values[p] > bias))  # int32 lanes, not int64
        out[b] = above


@numba.njit(cache=True, fastmath=False, inline="always")
def _kernel_output(a, b, c, minus, values, first):  # pragma: no cover
    """``values`` (+)= ``minus + a + b + c``: one kernel's output on one channel, from
    ``-A`` and three of the tripled copies."""
    if first:
        for p in range(len(values)):
            values[p] = minus[p] + a[p] + b[p] + c[p]
    else:
        for p in range(len(values)):
            values[p] += minus[p] + a[p] + b[p] + c[p]


@numba.njit(cache=True, fastmath=False, inline="always")
def _minus_sum_and_triple(rows, minus):  # pragma: no cover
    """``minus`` = ``-A``, minus the sum of the shifted copies ``rows`` (in order); then
    each row is tripled in place."""
    for p in range(len(minus)):
        minus[p] = -rows[0, p]
    for j in range(1, len(rows)):
        for p in range(len(minus)):
            minus[p] -= rows[j, p]
    for j in range(len(rows)):
        for p in range(len(minus)):
            rows[j, p] *= 3


def ppv_counts(x, channel_mask, taps, dilations, per_dilation, biases, out, threads=1):
    """Counts (not yet fractions) of MiniRocket's features, written to ``out``.

    Args:
        x: series ``(N, C, L)``, float32 or float64 (C-contiguous).
        channel_mask: ``(D, 84, C)`` uint8, 1 where kernel ``k`` of dilation ``i`` reads
            channel ``c``.
        taps: ``(84, 3)`` int64, the taps where each kernel's weight is 2.
        dilations, per_dilation: ``(D,)`` int64, the dilations and biases per kernel of each.
        biases: ``(F,)`` of ``x``'s dtype, in the features' order (dilation, kernel, bias).
        out: ``(N, F)`` of ``x``'s dtype, receives the counts.
        threads: more than 1: the series in parallel (numba's ``prange``; the thread count
            is set by the caller with ``numba.set_num_threads``).
    """
    if threads > 1:
        _all_parallel(x, channel_mask, taps, dilations, per_dilation, biases, out)
    else:
        _all_serial(x, channel_mask, taps, dilations, per_dilation, biases, out)
    return out


@numba.njit(cache=True, fastmath=False, parallel=True)
def _all_parallel(x, channel_mask, taps, dilations, per_dilation, biases, out):  # pragma: no cover
    for s in numba.prange(x.shape[0]):
        _one_series(x[s], channel_mask, taps, dilations, per_dilation, biases, out[s])


@numba.njit(cache=True, fastmath=False)
def _all_serial(x, channel_mask, taps, dilations, per_dilation, biases, out):  # pragma: no cover
    for s in range(x.shape[0]):
        _one_series(x[s], channel_mask, taps, dilations, per_dilation, biases, out[s])


@numba.njit(cache=True, fastmath=False)
def _one_series(x, channel_mask, taps, dilations, per_dilation, biases, out):  # pragma: no cover
    """:func:`ppv_counts` of one series ``x`` ``(C, L)`` into ``out`` ``(F,)``."""
    channels, length = x.shape
    half = (KERNEL_LENGTH - 1) // 2
    shifted = np.empty((channels, KERNEL_LENGTH, length), x.dtype)
    minus = np.empty((channels, length), x.dtype)
    values = np.empty(length, x.dtype)
    offset = 0
    for i in range(len(dilations)):
        d = dilations[i]
        pad = half * d
        for c in range(channels):
            for j in range(KERNEL_LENGTH):
                shift = (j - half) * d
                lo, hi = max(0, -shift), min(length, length - shift)
                row = shifted[c, j]
                row[:lo] = 0
                row[hi:] = 0
                row[lo:hi] = x[c, lo + shift : hi + shift]
            _minus_sum_and_triple(shifted[c], minus[c])
        count = per_dilation[i]
        for k in range(NUM_KERNELS):
            t0, t1, t2 = taps[k, 0], taps[k, 1], taps[k, 2]
            first = True
            for c in range(channels):
                if channel_mask[i, k, c] != 0:
                    _kernel_output(
                        shifted[c, t0], shifted[c, t1], shifted[c, t2], minus[c], values, first
                    )
                    first = False
            if first:  # no channel: the output is zero
                values[:] = 0
            if (i + k) % 2 == 1:
                start, stop = pad, length - pad
            else:
                start, stop = 0, length
            base = offset + k * count
            stop_ = base + count
            _count_above(values[start:stop], biases[base:stop_], out[base:stop_])
        offset += NUM_KERNELS * count
