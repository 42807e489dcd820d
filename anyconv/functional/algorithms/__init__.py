"""Interchangeable implementations of one convolution operator.

An algorithm is a plain function ``(x, weight, bias, spec) -> y``: ``x`` is the unpadded
input ``(N, C_in, *spatial)``, ``weight`` ``(C_out, C_in/groups, *kernel)`` is already
flipped when true convolution was asked for, ``spec`` is a resolved
:class:`anyconv._spec.ConvSpec` (explicit padding, border mode, stride, dilation, groups
and the output shape). Each algorithm applies the border itself, so that the ones that can
pad for free (native kernels pad zeros internally, FFT pads to its transform size anyway,
the matrix folds any border into its entries) never copy the input.

Adding an algorithm means adding one module and one entry in :data:`ALGORITHMS`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from anyconv._spec import ConvSpec, choice
from anyconv.functional.algorithms.auto import conv_auto
from anyconv.functional.algorithms.direct import conv_direct
from anyconv.functional.algorithms.fft import conv_fft
from anyconv.functional.algorithms.im2col import conv_im2col
from anyconv.functional.algorithms.matrix import conv_matrix_algorithm
from anyconv.functional.algorithms.native import conv_native

Algorithm = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None, ConvSpec], torch.Tensor]

ALGORITHMS: dict[str, Algorithm] = {
    "auto": conv_auto,
    "native": conv_native,
    "direct": conv_direct,
    "im2col": conv_im2col,
    "fft": conv_fft,
    "matrix": conv_matrix_algorithm,
}


def get_algorithm(name: str, func: str = "conv") -> Algorithm:
    """The algorithm registered under ``name``; a clear error for an unknown one."""
    return ALGORITHMS[choice(name, tuple(ALGORITHMS), "algorithm", func)]


def list_algorithms() -> list[str]:
    """Names accepted by ``algorithm=`` (``"auto"`` first).

    Example:
        >>> list_algorithms()
        ['auto', 'native', 'direct', 'im2col', 'fft', 'matrix']
    """
    return list(ALGORITHMS)
