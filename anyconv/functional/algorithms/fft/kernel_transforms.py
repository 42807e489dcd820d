"""The kernel side of the FFT path: transforms of a kernel's few taps, both ways.

A kernel has ``k`` taps per axis but is transformed at ``F`` points. Each axis is
transformed only for the rows the axes before it have filled, and an axis with few taps
by a DFT matrix product restricted to the tap positions (no zero-filled buffer, and BLAS
is several times more efficient per flop than an FFT). The inverse reads the result at the
taps only, which is all the weight gradient needs.
"""

from __future__ import annotations

import math

import torch

from anyconv._tracing import tensor_cache
from anyconv.functional.algorithms.fft.plan import Geometry


def _place(t: torch.Tensor, dim: int, size: int, positions: torch.Tensor) -> torch.Tensor:
    """``t`` spread along ``dim`` into a zero buffer of ``size`` at ``positions``."""
    shape = list(t.shape)
    shape[dim] = size
    return t.new_zeros(shape).index_copy(dim, positions, t)


def _positions(where: tuple[int, ...], size: int, device=None) -> torch.Tensor:
    """The int64 tensor of ``where``, the taps' positions on a ``size``-point axis. They are
    ``(lo - p·dilation) mod size`` (:func:`~.plan.geometry`): an arithmetic progression
    modulo ``size``, built from ``arange``, so that traced code holds no tensor constant
    (inductor mishandles one inside a ``torch.cond`` branch); any other list is copied.

    Example:
        >>> _positions((0, 15, 14), 16)
        tensor([ 0, 15, 14])
    """
    if len(where) > 1:
        step = (where[1] - where[0]) % size
        if all(w == (where[0] + i * step) % size for i, w in enumerate(where)):
            ramp = torch.arange(len(where), dtype=torch.int64, device=device)
            return (ramp * step + where[0]).remainder(size)
    return torch.tensor(where, dtype=torch.int64, device=device)


def _use_dft_matmul(taps: int, size: int) -> bool:
    """Transform ``taps`` nonzero rows to ``size`` points by a DFT matrix product rather
    than an FFT of a zero-filled buffer: BLAS is several times more efficient per flop, and
    no buffer is filled. Measured at 144 points: faster up to 31 taps (``4·log2(F)``)."""
    return taps <= 4 * math.log2(size)


@tensor_cache(256)
def _dft_matrix(size: int, taps: tuple[int, ...], half: bool, inverse: bool, dtype, device):
    """The DFT restricted to the tap positions ``taps`` of a ``size``-point axis.

    Forward ``(F', k)``: ``exp(-2πi f·q / F)`` for the frequencies ``f`` (``F/2 + 1`` of them
    when ``half``). Inverse ``(k, F')``: ``exp(+2πi f·q / F) / F``, with the weights ``c_f`` of
    a real inverse when ``half`` (2 for the frequencies that stand for a conjugate pair).
    Built in float64.
    """
    count = size // 2 + 1 if half else size
    f = torch.arange(count, dtype=torch.int64)
    q = _positions(taps, size)
    # the product reduced mod F in integers: exact angles however long the axis
    angle = torch.outer(f, q).remainder(size).to(torch.float64) * (2 * math.pi / size)
    if not inverse:
        return torch.polar(torch.ones_like(angle), -angle).to(dtype=dtype, device=device)
    weight = torch.full((count,), 1.0 / size, dtype=torch.float64)
    if half:
        weight[1 : (size + 1) // 2] *= 2
    m = torch.polar(weight[:, None].expand_as(angle).contiguous(), angle)
    return m.T.contiguous().to(dtype=dtype, device=device)


def _along(t: torch.Tensor, axis: int, matrix: torch.Tensor) -> torch.Tensor:
    """``matrix @ t`` along ``axis`` of ``t`` (``matrix`` is ``(out, t.shape[axis])``)."""
    moved = t.movedim(axis, 0)
    out = matrix @ moved.reshape(moved.shape[0], -1)
    return out.view(matrix.shape[0], *moved.shape[1:]).movedim(0, axis)


def kernel_rfftn(taps: torch.Tensor, geo: Geometry) -> torch.Tensor:
    """Spectrum of kernel taps ``(*k, *batch)`` placed at ``geo.taps``: ``(*F', *batch)``
    with ``F' = F`` except ``F/2 + 1`` on the last axis. Pruned: each axis is transformed
    only for the rows the axes before it have filled, by a DFT matrix product for few taps
    (:func:`_use_dft_matmul`), else by an FFT of the zero-filled buffer.

    Example:
        >>> from anyconv.functional.algorithms.fft.plan import Geometry
        >>> geo = Geometry((16, 12), ((0, 15, 14), (2, 1)), (), (), 1, False)
        >>> w = torch.randn(3, 2, 5)  # (k_0, k_1, batch)
        >>> buffer = torch.zeros(16, 12, 5)
        >>> buffer[torch.tensor([0, 15, 14])[:, None], torch.tensor([2, 1])] = w
        >>> torch.allclose(kernel_rfftn(w, geo), torch.fft.rfftn(buffer, dim=(0, 1)), atol=1e-5)
        True
    """
    ndim = len(geo.sizes)
    complex_dtype = (taps.new_empty(0) * 1j).dtype
    last, size = ndim - 1, geo.sizes[-1]
    if _use_dft_matmul(len(geo.taps[-1]), size):
        m = _dft_matrix(size, geo.taps[-1], True, False, complex_dtype, taps.device)
        y = _along(taps.to(complex_dtype), last, m)
    else:
        positions = _positions(geo.taps[-1], size, taps.device)
        y = _place(taps.movedim(last, -1), -1, size, positions)
        y = torch.fft.rfft(y, dim=-1).movedim(-1, last)
    for axis in reversed(range(ndim - 1)):
        size, where = geo.sizes[axis], geo.taps[axis]
        if _use_dft_matmul(len(where), size):
            y = _along(y, axis, _dft_matrix(size, where, False, False, y.dtype, y.device))
        else:
            positions = _positions(where, size, y.device)
            y = torch.fft.fft(_place(y, axis, size, positions), dim=axis)
    return y.contiguous()


def kernel_irfftn(spectrum: torch.Tensor, geo: Geometry) -> torch.Tensor:
    """The inverse transform of ``(*F', *batch)`` read at the kernel's taps only:
    ``(*k, *batch)``, real. Each axis is inverted just for the rows that are kept.

    Example:
        >>> from anyconv.functional.algorithms.fft.plan import Geometry
        >>> geo = Geometry((16, 12), ((0, 15, 14), (2, 1)), (), (), 1, False)
        >>> spectrum = torch.fft.rfftn(torch.randn(16, 12, 5), dim=(0, 1))
        >>> full = torch.fft.irfftn(spectrum, s=(16, 12), dim=(0, 1))
        >>> want = full[torch.tensor([0, 15, 14])[:, None], torch.tensor([2, 1])]
        >>> torch.allclose(kernel_irfftn(spectrum, geo), want, atol=1e-5)
        True
    """
    ndim = len(geo.sizes)
    y = spectrum
    for axis in range(ndim - 1):
        size, where = geo.sizes[axis], geo.taps[axis]
        if _use_dft_matmul(len(where), size):
            y = _along(y, axis, _dft_matrix(size, where, False, True, y.dtype, y.device))
        else:
            positions = _positions(where, size, y.device)
            y = torch.fft.ifft(y, dim=axis).index_select(axis, positions)
    last, size, where = ndim - 1, geo.sizes[-1], geo.taps[-1]
    if _use_dft_matmul(len(where), size):
        m = _dft_matrix(size, where, True, True, y.dtype, y.device)
        return _along(y, last, m).real
    # the real inverse runs along the innermost axis, where it is fast
    y = torch.fft.irfft(y.movedim(last, -1).contiguous(), n=size, dim=-1)
    return y.index_select(-1, _positions(where, size, y.device)).movedim(-1, last)


def kernel_spectrum(weight: torch.Tensor, geo: Geometry) -> torch.Tensor:
    """The kernel side of the spectral product, which depends on the weight alone.

    Args:
        weight: ``(O, C/g, *kernel)`` real.

    Returns:
        For few channels per group (``geo.elementwise``) ``(g, O/g, C/g, *F')`` complex;
        otherwise ``(*F', g, C/g, O/g)``, the frequency-major layout of the per-frequency
        channel GEMM.
        ``F'`` is the transform size with ``F/2 + 1`` on the last axis. This is what the
        kernel spectrum cache holds.
    """
    out_channels, per_group, *kernel = weight.shape
    ndim = len(kernel)
    groups = geo.groups
    if geo.elementwise:
        taps = weight.reshape(out_channels * per_group, *kernel).movedim(0, -1)
        spectrum = kernel_rfftn(taps, geo).movedim(-1, 0).contiguous()
        return spectrum.view(groups, out_channels // groups, per_group, *spectrum.shape[1:])
    w = weight.reshape(groups, out_channels // groups, per_group, *kernel)
    return kernel_rfftn(w.permute(*range(3, 3 + ndim), 0, 2, 1), geo)
