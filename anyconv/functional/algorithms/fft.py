"""The convolution theorem: correlation is a product of spectra.

With ``X = rfft(x)`` and ``W = rfft(w)`` at a transform size ``F``, the circular
cross-correlation ``c[u] = sum_p x[(u + p) mod F] w[p]`` has spectrum ``X · conj(W)``.
Choosing ``F`` large enough that no wanted output wraps onto input data makes it the linear
one; output ``t`` of the padded problem is then ``c[(t*stride - lo) mod F]``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import torch

from anyconv._spec import ConvSpec
from anyconv.padding import pad


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
    for n, k, d, (lo, hi) in zip(spatial, kernel, dilation, padding, strict=True):
        k_eff = d * (k - 1) + 1
        sizes.append(next_fast_len(max(n + max(lo, hi), k_eff, n + lo + hi - k_eff + 1)))
    return tuple(sizes)


def dilate(weight: torch.Tensor, dilation: tuple[int, ...]) -> torch.Tensor:
    """Spread the taps of ``(O, C, *kernel)`` apart: ``dilation - 1`` zeros between taps."""
    if all(d == 1 for d in dilation):
        return weight
    kernel = weight.shape[2:]
    spread = weight.new_zeros(
        *weight.shape[:2], *(d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True))
    )
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
    n, _, *freq = xs.shape
    out_channels, per_group = ws.shape[:2]
    per_out = out_channels // groups
    f = math.prod(freq)
    if per_group == 1:
        y = xs.reshape(n, groups, 1, f) * ws.conj().reshape(groups, per_out, f)
        return y.reshape(n, out_channels, *freq)
    x = torch.view_as_real(xs).reshape(n, groups, per_group, f, 2)
    x = x.permute(1, 3, 0, 4, 2).reshape(groups * f, n, 2 * per_group)
    w = torch.view_as_real(ws).reshape(groups, per_out, per_group, f, 2).permute(0, 3, 2, 1, 4)
    wr, wi = w[..., 0], w[..., 1]  # (G, F, C/g, O/g)
    m = torch.cat([torch.cat([wr, -wi], dim=-1), torch.cat([wi, wr], dim=-1)], dim=-2)
    y = torch.bmm(x, m.reshape(groups * f, 2 * per_group, 2 * per_out))
    y = y.reshape(groups, f, n, 2, per_out).permute(2, 0, 4, 1, 3).contiguous()
    return torch.view_as_complex(y).reshape(n, out_channels, *freq)


def conv_fft(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, spec: ConvSpec
) -> torch.Tensor:
    """Convolution through real FFTs of input and kernel and a per-frequency channel GEMM.

    Zero padding costs nothing: input and kernel are zero-extended to the transform size
    anyway, and the left padding becomes a circular shift in the read-out of the outputs.
    Stride is exact by reading every ``stride``-th output, dilation by spreading the taps. float64
    stays float64 (complex128); float16 and bfloat16 are transformed in float32.
    """
    dtype = x.dtype
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
    spectrum_w = torch.fft.rfftn(dilate(weight, spec.dilation), s=sizes, dim=dims)
    y = torch.fft.irfftn(spectral_correlate(spectrum_x, spectrum_w, spec.groups), s=sizes, dim=dims)
    y = _read_outputs(y, spec, padding, sizes)
    if bias is not None:
        y = y + bias.view(-1, *(1,) * ndim)
    return y.to(dtype)
