"""The FFT path (``algorithm="fft"``): convolution theorem, overlap-save, kernel cache.

- :mod:`.conv`: :func:`conv_fft`, the algorithm itself (border, blocks or one transform,
  bias, dtype);
- :mod:`.spectral`: :class:`~.spectral.SpectralConv`, the spectral product and its spectral
  backward pass;
- :mod:`.overlap_save`: the output in blocks, each from an overlapping input window;
- :mod:`.plan`: transform sizes, the buffers' :class:`Geometry`, block plans;
- :mod:`.kernel_transforms`: the kernel's pruned transforms, both ways;
- :mod:`.spectrum_cache`: the inference cache of kernel spectra.

The names below were importable from ``anyconv.functional.algorithms.fft`` when it was one
module and stay so.
"""

from anyconv.functional.algorithms.fft.conv import conv_fft
from anyconv.functional.algorithms.fft.kernel_transforms import kernel_spectrum
from anyconv.functional.algorithms.fft.overlap_save import overlap_save
from anyconv.functional.algorithms.fft.plan import (
    Geometry,
    geometry,
    next_fast_len,
    transform_sizes,
)
from anyconv.functional.algorithms.fft.spectral import SpectralConv
from anyconv.functional.algorithms.fft.spectrum_cache import (
    cache_kernel_spectra,
    clear_kernel_cache,
    kernel_cache_info,
    kernel_spectrum_cache,
)

__all__ = [
    "Geometry",
    "SpectralConv",
    "cache_kernel_spectra",
    "clear_kernel_cache",
    "conv_fft",
    "geometry",
    "kernel_cache_info",
    "kernel_spectrum",
    "kernel_spectrum_cache",
    "next_fast_len",
    "overlap_save",
    "transform_sizes",
]
