"""PyTorch's own convolution kernels (oneDNN / cuDNN) on the padded input."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from anyconv._spec import ConvSpec
from anyconv.padding import pad

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def conv_native(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, spec: ConvSpec
) -> torch.Tensor:
    """Convolution by ``torch.nn.functional.conv{1,2,3}d``.

    Zero borders are handed to the kernel, which pads without a copy; only the asymmetric
    remainder (e.g. ``"causal"`` or ``"same"`` with an even kernel) is padded explicitly.
    """
    if spec.padding_mode == "zeros":
        inner = tuple(min(lo, hi) for lo, hi in spec.padding)
        x = pad(x, tuple((lo - m, hi - m) for (lo, hi), m in zip(spec.padding, inner, strict=True)))
    else:
        inner = (0,) * len(spec.padding)
        x = pad(x, spec.padding, spec.padding_mode)
    return _CONV[x.dim() - 2](x, weight, bias, spec.stride, inner, spec.dilation, spec.groups)
