"""anyconv: every convolution from the textbook, correct, differentiable and fast.

The operators are imported with the package; its subpackages (``anyconv.nn``,
``anyconv.models``, ``anyconv.data``, ``anyconv.train``, ``anyconv.analysis``,
``anyconv.viz``, ...) load on first use, so ``import anyconv`` stays fast.

Example:
    >>> import torch, anyconv
    >>> x, w = torch.randn(1, 1, 8, 8), torch.randn(4, 1, 3, 3)
    >>> anyconv.conv(x, w, padding="same", algorithm="fft").shape
    torch.Size([1, 4, 8, 8])
    >>> anyconv.models.create_model("lenet5", input_size=(8, 8))(torch.randn(2, 1, 8, 8)).shape
    torch.Size([2, 10])
"""

import importlib as _importlib
import importlib.util as _importlib_util
import pkgutil as _pkgutil

from anyconv import filters, functional
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


def _submodules() -> list[str]:
    """The public modules and subpackages of anyconv, found on disk."""
    return [m.name for m in _pkgutil.iter_modules(__path__) if not m.name.startswith("_")]


def __getattr__(name: str):
    """Import a subpackage on first access (``anyconv.models``), as if it had been
    imported explicitly; any other unknown name is an ``AttributeError``."""
    if not name.startswith("_") and _importlib_util.find_spec(f"{__name__}.{name}") is not None:
        return _importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_submodules()})
