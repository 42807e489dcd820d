"""Classic fixed kernels: Gabor, Gaussian, Sobel, Laplacian, finite differences.

Re-exported from :mod:`anyconv.functional.filters`, so they read as
``anyconv.filters.gabor_kernel(...)``.
"""

from anyconv.functional.filters import (
    default_gabor_envelope,
    difference_kernel,
    gabor_bank,
    gabor_kernel,
    gaussian_kernel,
    laplacian_kernel,
    sobel_kernel,
)

__all__ = [
    "default_gabor_envelope",
    "difference_kernel",
    "gabor_bank",
    "gabor_kernel",
    "gaussian_kernel",
    "laplacian_kernel",
    "sobel_kernel",
]
