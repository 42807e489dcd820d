"""``algorithm="auto"``: the choice among the implementations for a given problem."""

from __future__ import annotations

import torch

from anyconv._spec import ConvSpec
from anyconv.functional.algorithms.native import conv_native


def conv_auto(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
              spec: ConvSpec) -> torch.Tensor:
    """Dispatch to the algorithm expected to be fastest.

    For now this is always PyTorch's native kernel, the fastest choice for the small
    kernels that dominate practice; a cost model that sends large kernels to the FFT path
    replaces it.
    """
    return conv_native(x, weight, bias, spec)
