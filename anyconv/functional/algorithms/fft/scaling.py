"""Exact power-of-two scaling that keeps the FFT path's transforms in range.

A transform sums every sample of its input: at 64x64 points, float32 inputs near 1e36 give
spectra above float32's largest value (3.4e38), and the inverse transform turns the
infinities into NaN everywhere, although the direct sum (1e36 · 961 weights of 1/961) is
finite. So each operand of a transform is first brought to a largest magnitude in [1, 2) by
a power of two, ``t · 2^-e``, and the result is multiplied back by ``2^(e_x + e_w)``.
Multiplying by a power of two is exact (only the exponent changes), so on data that was
already in range the result is bit for bit what it would have been; tiny inputs are scaled
up the same way, away from float32's denormals.

The exponents are tensors, computed with tensor operations only (no host synchronisation,
nothing a tracer cannot follow): :func:`exponent` and :func:`times_pow2`.
"""

from __future__ import annotations

import torch

_LIMIT = {torch.float32: 126, torch.float64: 1022}
"""Exponents are clamped to ``[-L, L]``: ``2^±L`` is a normal number of the dtype."""

_BITS = {torch.float32: (torch.int32, 23, 127), torch.float64: (torch.int64, 52, 1023)}
"""Per dtype: the integer type of the same width, the mantissa bits and the exponent bias."""


def exponent(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(e, finite)``: the power of two that brings ``max|t|`` into ``[1, 2)`` (0-dim,
    integer-valued, in ``t``'s dtype, clamped to the dtype's normal range; 0 when ``t``
    holds NaN or an infinity), and whether ``t`` is all finite (0-dim bool). One reduction.

    Example:
        >>> exponent(torch.tensor([3.0, -40.0]))
        (tensor(5.), tensor(True))
    """
    low, high = torch.aminmax(t.detach())
    largest = torch.maximum(high, -low)  # max |t|; NaN propagates
    finite = torch.isfinite(largest)
    limit = _LIMIT[t.dtype]
    e = torch.floor(torch.log2(largest)).clamp(-limit, limit)  # 0 -> -inf -> -limit
    return torch.where(finite, e, 0.0), finite


def pow2(e: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``2^e`` for an integer-valued ``e`` in the dtype's normal range, built from its bits
    (exact; ``exp2`` need not be)."""
    int_dtype, mantissa, bias = _BITS[dtype]
    return torch.bitwise_left_shift(e.to(int_dtype) + bias, mantissa).view(dtype)


def times_pow2(t: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    """``t · 2^e`` for ``e`` up to twice the normal range: two exact factors, applied in one
    direction so that no intermediate overflows or underflows before the result does."""
    half = torch.div(e, 2, rounding_mode="floor")
    return t * pow2(half, t.dtype) * pow2(e - half, t.dtype)


def scaled(t: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    """``t · 2^-e`` (``e`` from :func:`exponent`)."""
    return t * pow2(-e, t.dtype)
