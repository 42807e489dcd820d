"""anyconv: every convolution from the textbook, correct, differentiable and fast.

Example:
    >>> import torch, anyconv
    >>> x, w = torch.randn(1, 1, 8, 8), torch.randn(4, 1, 3, 3)
    >>> anyconv.conv(x, w, padding="same", algorithm="fft").shape
    torch.Size([1, 4, 8, 8])
"""

from anyconv import filters, functional, nn
from anyconv.functional import (
    ALGORITHMS,
    conv,
    conv_matrix,
    factorize,
    list_algorithms,
    locally_connected,
    reconstruct,
    separable_conv,
    tiled_conv,
)
from anyconv.functional.algorithms.auto import measure
from anyconv.functional.algorithms.matrix import MATRIX_MAX_NONZEROS
from anyconv.padding import effective_kernel, output_shape, pad, resolve_padding

__version__ = "0.1.0"

__all__ = [
    "ALGORITHMS",
    "MATRIX_MAX_NONZEROS",
    "conv",
    "conv_matrix",
    "effective_kernel",
    "factorize",
    "filters",
    "functional",
    "list_algorithms",
    "locally_connected",
    "measure",
    "nn",
    "output_shape",
    "pad",
    "reconstruct",
    "resolve_padding",
    "separable_conv",
    "tiled_conv",
]
