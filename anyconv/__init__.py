"""anyconv: every convolution from the textbook, correct, differentiable and fast.

The public surface, one name per idea:

- ``anyconv.X`` for every operator of :mod:`anyconv.functional` (``conv``,
  ``conv_transpose``, ``conv_matrix``, ``locally_connected``, ``tiled_conv``, ``separable_conv``,
  ``factorize``, the pooling functions, ...), the padding geometry of
  :mod:`anyconv.padding`, ``measure``, ``MATRIX_MAX_NONZEROS`` and ``match_template``;
- ``anyconv.filters`` for the fixed kernels: the module :mod:`anyconv.functional.filters`
  itself, under a shorter name;
- the subpackages ``anyconv.nn``, ``anyconv.models``, ``anyconv.data``,
  ``anyconv.train``, ``anyconv.analysis``, ``anyconv.viz``, ... which load on first use,
  so ``import anyconv`` stays fast.

Example:
    >>> import torch, anyconv
    >>> x, w = torch.randn(1, 1, 8, 8), torch.randn(4, 1, 3, 3)
    >>> anyconv.conv(x, w, padding="same", algorithm="fft").shape
    torch.Size([1, 4, 8, 8])
    >>> anyconv.soft_pool(x, 2).shape
    torch.Size([1, 1, 4, 4])
    >>> anyconv.models.create_model("lenet5", input_size=(8, 8))(torch.randn(2, 1, 8, 8)).shape
    torch.Size([2, 10])
"""

import importlib as _importlib
import importlib.util as _importlib_util
import pkgutil as _pkgutil
import sys as _sys

from anyconv import functional
from anyconv.functional import (
    ALGORITHMS,
    Factorization,
    avg_pool,
    blur_pool,
    channel_max_pool,
    conv,
    conv_matrix,
    conv_transpose,
    factorize,
    filters,
    global_avg_pool,
    global_max_pool,
    list_algorithms,
    locally_connected,
    lp_pool,
    max_pool,
    max_rank,
    ppv_pool,
    reconstruct,
    separable_conv,
    soft_pool,
    tiled_conv,
)
from anyconv.functional.algorithms.auto import measure
from anyconv.functional.algorithms.matrix import MATRIX_MAX_NONZEROS
from anyconv.padding import (
    effective_kernel,
    output_shape,
    pad,
    resolve_padding,
    transposed_output_shape,
    transposed_output_sizes,
)

# ``import anyconv.filters`` and ``from anyconv.filters import ...`` find the one module.
_sys.modules[f"{__name__}.filters"] = filters

__version__ = "0.1.0"

# Names that live in a subpackage and load with it, on first use.
_LAZY = {"match_template": "anyconv.analysis.template"}

__all__ = [
    "ALGORITHMS",
    "MATRIX_MAX_NONZEROS",
    "Factorization",
    "analysis",
    "avg_pool",
    "blur_pool",
    "channel_max_pool",
    "conv",
    "conv_matrix",
    "conv_transpose",
    "data",
    "effective_kernel",
    "factorize",
    "filters",
    "functional",
    "global_avg_pool",
    "global_max_pool",
    "list_algorithms",
    "locally_connected",
    "lp_pool",
    "match_template",
    "max_pool",
    "max_rank",
    "measure",
    "models",
    "nn",
    "output_shape",
    "pad",
    "ppv_pool",
    "reconstruct",
    "resolve_padding",
    "separable_conv",
    "soft_pool",
    "tiled_conv",
    "train",
    "transposed_output_shape",
    "transposed_output_sizes",
    "viz",
]


def _submodules() -> list[str]:
    """The public modules and subpackages of anyconv, found on disk."""
    return [m.name for m in _pkgutil.iter_modules(__path__) if not m.name.startswith("_")]


def __getattr__(name: str):
    """Import a subpackage (``anyconv.models``) or a lazy name (``match_template``) on first
    access, as if it had been imported explicitly; other names are an ``AttributeError``."""
    if name in _LAZY:
        value = getattr(_importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if not name.startswith("_") and _importlib_util.find_spec(f"{__name__}.{name}") is not None:
        return _importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_submodules(), *_LAZY})
