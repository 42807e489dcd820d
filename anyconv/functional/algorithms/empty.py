"""The answer every algorithm gives a problem with nothing to sum or nothing to compute.

Zero-size problems have one definition here, whatever the algorithm asked for (PyTorch's
kernels raise on some of them and return a wrong shape on others):

- an empty batch or no output channels: an empty output ``(N, C_out, *out)``;
- no input channels: an empty sum, so ``bias`` (zeros without one) at every output;
- an empty spatial axis (which only zero padding, e.g. ``"full"``, makes valid): every
  window reads only padding zeros, so ``bias + sum_{c,p} weight[o, c, p] · 0`` (NaN for an
  output channel with a NaN or infinite weight, as in the direct sum).

The output shape is always the geometry's; gradients flow (zeros for input and weight, the
summed output gradient for the bias).
"""

from __future__ import annotations

import math

import torch

from anyconv.padding import ConvSpec


def is_empty(x_shape, weight_shape) -> bool:
    """Whether input or weight has no elements."""
    return math.prod(x_shape) == 0 or math.prod(weight_shape) == 0


def conv_empty(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, spec: ConvSpec
) -> torch.Tensor:
    """The closed form of a zero-size convolution (see the module).

    Example:
        >>> spec = ConvSpec((1,), (1,), ((2, 2),), 1, "zeros", (2,))
        >>> conv_empty(torch.randn(1, 3, 0), torch.randn(2, 3, 3), torch.tensor([1.0, 2.0]), spec)
        tensor([[[1., 1.],
                 [2., 2.]]])
    """
    n, o = x.shape[0], weight.shape[0]
    ones = (1,) * len(spec.out_shape)
    taps = (weight * 0).sum(tuple(range(1, weight.dim()))).view(1, o, *ones)
    y = x.new_zeros(n, o, *spec.out_shape) + taps + x.flatten()[:0].sum()
    return y if bias is None else y + bias.view(1, o, *ones)
