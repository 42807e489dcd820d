"""``algorithm="fft"``: convolution through real FFTs of input and kernel."""

from __future__ import annotations

import math

import torch

from anyconv.functional.algorithms.fft.overlap_save import overlap_save
from anyconv.functional.algorithms.fft.plan import block_plan, transform_sizes
from anyconv.functional.algorithms.fft.spectral import (
    correlate_zero_padded,
    transpose_zero_padded,
)
from anyconv.functional.algorithms.memory import nbytes, output_bytes, padded_shape
from anyconv.functional.algorithms.registry import Problem
from anyconv.padding import ConvSpec, effective_kernel, pad

HUGE_TRANSFORM = 1 << 40
"""Above this many points in one transform of the whole problem, :func:`fft_memory` skips
the block plan (whose search would take seconds) and estimates the zero-extended input: a
terabyte buffer and more, which no limit allows."""

Plan = tuple[tuple[int, ...], tuple[tuple[int, int], ...], tuple[int, ...] | None]


def _plan(x_shape, weight_shape, spec: ConvSpec, training: bool, blocks: bool = True) -> Plan:
    """The zero-padded problem the FFT path solves: the input's shape after a border other
    than zeros is padded by copy, the zero padding left to the transform, and the outputs per
    block along each axis (``None``: one transform)."""
    padding = spec.padding
    if spec.padding_mode != "zeros":
        x_shape = padded_shape(x_shape, padding)
        padding = tuple((0, 0) for _ in padding)
    per_block = None
    if blocks:
        per_block = block_plan(
            tuple(x_shape[2:]),
            tuple(weight_shape[2:]),
            spec.dilation,
            spec.stride,
            padding,
            spec.out_shape,
            (x_shape[0], x_shape[1], weight_shape[0], weight_shape[1]),
            training,
        )
    return tuple(x_shape), padding, per_block


def fft_memory(problem: Problem) -> int:
    """Peak bytes: the spectra of input (twice: the transform and its matmul layout), kernel
    and output, the inverse transform, the output, and the copies: the input with a border
    other than zeros, or the zero-padded input and the windows cut from it for overlap-save;
    in float32 for float16/bfloat16."""
    dtype = torch.float64 if problem.dtype == torch.float64 else torch.float32
    spec, (o, per_group, *kernel) = problem.spec, problem.weight_shape
    whole = transform_sizes(problem.x_shape[2:], kernel, spec.dilation, spec.padding)
    if math.prod(whole) > HUGE_TRANSFORM:  # no plan needed to know: it cannot fit
        return nbytes((problem.x_shape[0], problem.x_shape[1], *whole), dtype)
    x_shape, padding, per_block = _plan(
        problem.x_shape, problem.weight_shape, spec, problem.training, not problem.transposed
    )
    copies = nbytes(x_shape, dtype) if x_shape != problem.x_shape else 0
    if per_block is None:
        batch, spatial = x_shape[0], x_shape[2:]
    else:
        k_eff = effective_kernel(kernel, spec.dilation)
        counts = [-(-m // b) for m, b in zip(spec.out_shape, per_block, strict=True)]
        spatial = [(b - 1) * s + k for b, s, k in zip(per_block, spec.stride, k_eff, strict=True)]
        spans = [
            (cnt * b - 1) * s + k
            for cnt, b, s, k in zip(counts, per_block, spec.stride, k_eff, strict=True)
        ]
        batch = x_shape[0] * math.prod(counts)
        padding = tuple((0, 0) for _ in padding)
        # the zero-padded input the windows are cut from, and the windows
        copies += nbytes((*x_shape[:2], *spans), dtype) + nbytes(
            (batch, x_shape[1], *spatial), dtype
        )
    sizes = transform_sizes(spatial, kernel, spec.dilation, padding)
    freq = math.prod(sizes[:-1]) * (sizes[-1] // 2 + 1) * 2  # complex: two reals
    planes = 2 * batch * x_shape[1] + o * per_group + batch * o
    inverse = batch * o * math.prod(sizes)
    return copies + nbytes((planes * freq + inverse,), dtype) + output_bytes(problem)


def conv_fft(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    spec: ConvSpec,
    *,
    blocks: bool = True,
) -> torch.Tensor:
    """Convolution through real FFTs of input and kernel and a per-frequency channel GEMM.

    Zero padding costs nothing: input and kernel are zero-extended to the transform size
    anyway, and the left padding is folded into where the kernel's taps are placed. Stride
    reads every ``stride``-th output, dilation spreads the taps. float64 stays float64
    (complex128); float16 and bfloat16 are transformed in float32. The backward pass is
    spectral as well (:class:`SpectralConv`).

    When the input is much larger than the kernel, the output is computed in blocks
    (:func:`overlap_save`, planned by :func:`~anyconv.functional.algorithms.fft.plan.block_plan`);
    ``blocks=False`` forces one transform of the whole input.

    When no gradient is recorded for ``weight`` its transform (ready for the channel GEMM)
    is cached per weight tensor; see :func:`cache_kernel_spectra`.
    """
    dtype = x.dtype
    source = weight  # the cache is keyed on the caller's tensor, before any conversion
    if dtype in (torch.float16, torch.bfloat16):
        x, weight = x.float(), weight.float()
        bias = bias.float() if bias is not None else None
    training = torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad)
    _, padding, per_block = _plan(x.shape, weight.shape, spec, training, blocks)
    if spec.padding_mode != "zeros":
        x = pad(x, spec.padding, spec.padding_mode)
    if per_block is None:
        y = correlate_zero_padded(x, weight, source, spec, padding)
    else:
        y = overlap_save(x, weight, source, spec, padding, per_block)
    if bias is not None:
        y = y + bias.view(-1, *(1,) * (x.dim() - 2))
    return y.to(dtype)


def conv_transpose_fft(
    y: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, spec: ConvSpec
) -> torch.Tensor:
    """The adjoint of :func:`conv_fft`: the input's spectrum placed where the outputs were
    read, times the conjugate kernel spectrum, one inverse transform read over the output's
    extent (:class:`~anyconv.functional.algorithms.fft.spectral.SpectralConvTranspose`).
    One transform of the whole problem (no overlap-save blocks); float16 and bfloat16 are
    transformed in float32; the kernel spectrum is cached for inference as in
    :func:`conv_fft`.
    """
    dtype = y.dtype
    source = weight
    if dtype in (torch.float16, torch.bfloat16):
        y, weight = y.float(), weight.float()
        bias = bias.float() if bias is not None else None
    x = transpose_zero_padded(y, weight, source, spec)
    if bias is not None:
        x = x + bias.view(-1, *(1,) * (x.dim() - 2))
    return x.to(dtype)
