"""The convolution theorem: correlation is a product of spectra.

With ``X = rfft(x)`` and ``W = rfft(w)`` at a transform size ``F``, the circular
cross-correlation ``c[t] = sum_p x[(t + p) mod F] w[p]`` has spectrum ``X · conj(W)``.
Choosing ``F`` large enough that no wanted output wraps around makes it the linear one.
"""

from __future__ import annotations

import functools

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


def _place_kernel(weight: torch.Tensor, sizes: tuple[int, ...], dilation: tuple[int, ...],
                  shift: tuple[int, ...]) -> torch.Tensor:
    """Embed the kernel in a zero grid of the transform size: tap ``p`` goes to
    ``(p * dilation - shift) mod F``, which dilates it and moves the left padding into it."""
    ndim = len(sizes)
    grid = weight.new_zeros(*weight.shape[:2], *sizes)
    index = []
    for axis, (k, f, d, s) in enumerate(zip(weight.shape[2:], sizes, dilation, shift,
                                            strict=True)):
        taps = (torch.arange(k, device=weight.device) * d - s) % f
        index.append(taps.view([k if i == axis else 1 for i in range(ndim)]))
    grid[(slice(None), slice(None), *index)] = weight
    return grid


def conv_fft(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
             spec: ConvSpec) -> torch.Tensor:
    """Convolution through real FFTs of input and kernel and a per-frequency channel GEMM.

    Zero padding costs nothing: the input is zero-extended to the transform size anyway,
    and the left padding becomes a circular shift of the kernel. Stride is exact by taking
    every ``stride``-th output, dilation by spreading the taps in the kernel grid. float64
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
    n, _, *size = x.shape
    out_channels, per_group, *kernel = weight.shape
    groups = spec.groups
    k_eff = [d * (k - 1) + 1 for k, d in zip(kernel, spec.dilation, strict=True)]
    # The span = n + lo + hi - k_eff + 1 wanted outputs read x at t + p*d - lo, in
    # [-lo, n + hi - 1]. The periodic extension of x has zeros exactly there outside [0, n)
    # when F >= n + max(lo, hi); F >= span keeps the outputs apart, F >= k_eff the taps.
    sizes = tuple(next_fast_len(max(m + max(lo, hi), ke, m + lo + hi - ke + 1))
                  for m, (lo, hi), ke in zip(size, padding, k_eff, strict=True))
    dims = tuple(range(2, 2 + ndim))
    spectrum_x = torch.fft.rfftn(x, s=sizes, dim=dims)
    kernel_grid = _place_kernel(weight, sizes, spec.dilation, tuple(lo for lo, _ in padding))
    spectrum_w = torch.fft.rfftn(kernel_grid, dim=dims)
    freq = spectrum_x.shape[2:]
    # One batched complex GEMM per (group, frequency): (N, C/g) @ (C/g, O/g).
    xs = spectrum_x.reshape(n, groups, per_group, -1).permute(1, 3, 0, 2)
    ws = spectrum_w.conj().reshape(groups, out_channels // groups, per_group, -1)
    ys = xs @ ws.permute(0, 3, 2, 1)  # (G, F, N, O/G)
    ys = ys.permute(2, 0, 3, 1).reshape(n, out_channels, *freq)
    y = torch.fft.irfftn(ys, s=sizes, dim=dims)
    y = y[(..., *(slice(0, s * (m - 1) + 1, s)
                  for s, m in zip(spec.stride, spec.out_shape, strict=True)))]
    if bias is not None:
        y = y + bias.view(-1, *(1,) * ndim)
    return y.to(dtype)
