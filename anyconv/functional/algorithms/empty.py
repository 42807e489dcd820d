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

A transposed convolution (the adjoint) with nothing to sum, or an empty output, is ``bias``
(zeros without one) at every output position: its sums have no terms at all, since the
transposed input has no elements or the output none.
"""

from __future__ import annotations

import math

import torch

from anyconv.padding import ConvSpec


def is_empty(x_shape, weight_shape, result_shape=()) -> bool:
    """Whether input, weight or result has no elements."""
    return any(math.prod(shape) == 0 for shape in (x_shape, weight_shape, result_shape))


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


def conv_transpose_empty(
    y: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, spec: ConvSpec
) -> torch.Tensor:
    """The closed form of a zero-size transposed convolution: ``bias`` everywhere.

    Example:
        >>> spec = ConvSpec((2,), (1,), ((0, 0),), 1, "zeros", (3,), (3,), (7,))
        >>> conv_transpose_empty(torch.randn(0, 4, 3), torch.randn(4, 1, 3), None, spec).shape
        torch.Size([0, 1, 7])
    """
    n, c = y.shape[0], weight.shape[1] * spec.groups
    ones = (1,) * len(spec.in_shape)
    # no terms, but the gradients flow (zeros) to y and the weight
    z = y.new_zeros(n, c, *spec.in_shape) + (y.flatten()[:0].sum() + weight.flatten()[:0].sum())
    return z if bias is None else z + bias.view(1, c, *ones)
