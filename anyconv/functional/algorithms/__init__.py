"""Interchangeable implementations of one convolution operator, registered as plug-ins.

An algorithm is a plain function ``(x, weight, bias, spec) -> y``: ``x`` is the unpadded
input ``(N, C_in, *spatial)``, ``weight`` ``(C_out, C_in/groups, *kernel)`` is already
flipped when true convolution was asked for, ``spec`` is a resolved
:class:`anyconv.padding.ConvSpec` (explicit padding, border mode, stride, dilation, groups
and the output shape). Each algorithm applies the border itself, so that the ones that can
pad for free (native kernels pad zeros internally, FFT pads to its transform size anyway,
the matrix folds any border into its entries) never copy the input.

Each is registered as an :class:`~anyconv.functional.algorithms.registry.Algorithm` with
its optional hooks (capability check, memory estimate, cost model for ``"auto"``); callers
ask the registry (:func:`~anyconv.functional.algorithms.registry.prepare`) and never test
names. Adding an algorithm means adding one module and one :func:`register` call below.

An algorithm may also have a transposed form (``transpose``): the adjoint ``(y, weight,
bias, spec) -> x`` of its convolution, which :func:`anyconv.conv_transpose` runs; ``spec``
is then the convolution's, whose input ``x`` is.
"""

from __future__ import annotations

from anyconv.functional.algorithms import auto
from anyconv.functional.algorithms.direct import conv_direct, conv_transpose_direct, direct_memory
from anyconv.functional.algorithms.fft import conv_fft
from anyconv.functional.algorithms.fft.conv import conv_transpose_fft, fft_memory
from anyconv.functional.algorithms.im2col import conv_im2col, conv_transpose_im2col, im2col_memory
from anyconv.functional.algorithms.matrix import (
    conv_matrix_algorithm,
    conv_transpose_matrix,
    matrix_memory,
    matrix_refusal,
)
from anyconv.functional.algorithms.native import (
    conv_native,
    conv_transpose_native,
    native_memory,
)
from anyconv.functional.algorithms.registry import (
    ALGORITHMS,
    Algorithm,
    AlgorithmFn,
    Problem,
    get_algorithm,
    list_algorithms,
    prepare,
    register,
)
from anyconv.functional.tiled_phases import phase_conv

register(
    Algorithm(
        "auto",
        auto.conv_auto,
        "picks the cheapest candidate by a cost model (native kernels or the FFT path), or "
        "the fastest measured one within ``anyconv.measure()``",
        select=auto.select,
        transpose=auto.conv_transpose_auto,
    )
)
register(
    Algorithm(
        "native",
        conv_native,
        "PyTorch's own kernels (oneDNN / cuDNN), zero borders padded inside the kernel",
        memory=native_memory,
        cost=auto.native_cost,
        tiled=phase_conv,
        transpose=conv_transpose_native,
    )
)
register(
    Algorithm(
        "direct",
        conv_direct,
        "the definition: a sum over kernel offsets of strided input slices times weights",
        memory=direct_memory,
        transpose=conv_transpose_direct,
    )
)
register(
    Algorithm(
        "im2col",
        conv_im2col,
        "unfold into a column matrix, one GEMM per group, a written-out backward (col2im)",
        memory=im2col_memory,
        transpose=conv_transpose_im2col,
    )
)
register(
    Algorithm(
        "fft",
        conv_fft,
        "the convolution theorem: real FFTs at a fast size, a per-frequency channel "
        "contraction, overlap-save blocks for large inputs",
        memory=fft_memory,
        cost=auto.fft_cost,
        transpose=conv_transpose_fft,
    )
)
register(
    Algorithm(
        "matrix",
        conv_matrix_algorithm,
        "the explicit sparse matrix (doubly block Toeplitz, block circulant when circular)",
        check=matrix_refusal,
        memory=matrix_memory,
        transpose=conv_transpose_matrix,
    )
)

__all__ = [
    "ALGORITHMS",
    "Algorithm",
    "AlgorithmFn",
    "Problem",
    "get_algorithm",
    "list_algorithms",
    "prepare",
    "register",
]
