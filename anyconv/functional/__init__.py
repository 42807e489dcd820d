"""Stateless tensor functions, like ``torch.nn.functional``."""

from anyconv.functional.algorithms import ALGORITHMS, list_algorithms
from anyconv.functional.antialias import blur_pool
from anyconv.functional.conv import conv, conv_matrix
from anyconv.functional.filters import (
    binomial_kernel,
    difference_kernel,
    gabor_bank,
    gabor_kernel,
    gaussian_kernel,
    laplacian_kernel,
    sobel_kernel,
)
from anyconv.functional.local import locally_connected
from anyconv.functional.pool import (
    avg_pool,
    channel_max_pool,
    global_avg_pool,
    global_max_pool,
    lp_pool,
    max_pool,
    ppv_pool,
    soft_pool,
)
from anyconv.functional.separable import (
    Factorization,
    factorize,
    max_rank,
    reconstruct,
    separable_conv,
)
from anyconv.functional.tiled import tiled_conv
from anyconv.functional.transposed import conv_transpose

__all__ = [
    "ALGORITHMS",
    "Factorization",
    "avg_pool",
    "binomial_kernel",
    "blur_pool",
    "channel_max_pool",
    "conv",
    "conv_matrix",
    "conv_transpose",
    "difference_kernel",
    "factorize",
    "gabor_bank",
    "gabor_kernel",
    "gaussian_kernel",
    "global_avg_pool",
    "global_max_pool",
    "laplacian_kernel",
    "list_algorithms",
    "locally_connected",
    "lp_pool",
    "max_pool",
    "max_rank",
    "ppv_pool",
    "reconstruct",
    "separable_conv",
    "sobel_kernel",
    "soft_pool",
    "tiled_conv",
]
