"""``conv``: validate, resolve the geometry (:func:`anyconv.padding.conv_spec`), dispatch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from anyconv._checks import check_bool, check_conv_tensors, check_float_tensor, fail
from anyconv.functional.algorithms.matrix import build_matrix
from anyconv.functional.algorithms.registry import Problem, document_algorithms, prepare
from anyconv.functional.formats import keep_format, memory_format
from anyconv.functional.overrides import overridable
from anyconv.functional.precision import autocast_off, autocast_operands
from anyconv.padding import conv_spec, document_rules

__all__ = ["conv", "conv_matrix"]


def _flip(weight: torch.Tensor, flip: Any, func: str) -> torch.Tensor:
    check_bool(flip, "flip", func)
    return weight.flip(tuple(range(2, weight.dim()))) if flip else weight


@overridable
@document_algorithms
@document_rules
def conv(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    *,
    stride: int | Sequence[int] = 1,
    padding: Any = "valid",
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
    flip: bool = False,
    algorithm: str = "auto",
) -> torch.Tensor:
    """N-d convolution (cross-correlation by default) with every padding rule and algorithm.

    ``y[n, o, j] = bias[o] + sum_{c, p} weight[o, c, p] * x_pad[n, g*C/g + c, j*stride +
    p*dilation]`` where ``g`` is the group of output channel ``o``.

    Args:
        x: input ``(N, C_in, *spatial)`` with 1, 2 or 3 spatial axes, or an unbatched
            ``(C_in, *spatial)``: the weight's rank says which, as in
            ``torch.nn.functional.conv2d``.
        weight: ``(C_out, C_in/groups, *kernel)``, PyTorch's layout.
        bias: ``(C_out,)`` or ``None``.
        stride, dilation: an int or one int per spatial axis, all >= 1.
        padding: a rule ({padding_rules}; ``"same"`` gives output ``ceil(n/stride)``, also
            with stride), an int, or a tuple with one entry per spatial axis, each a rule,
            an int or a ``(lo, hi)`` pair — e.g. ``("causal", "same", "same")``. See
            :mod:`anyconv.padding` for the table.
        groups: channel groups; ``groups == C_in`` is a depthwise convolution.
        padding_mode: the border: ``"zeros"``, ``"reflect"``, ``"replicate"``,
            ``"circular"``.
        flip: ``True`` computes true convolution (the kernel reversed along every spatial
            axis); the default is cross-correlation, as in every deep-learning library.
        algorithm: one of :func:`anyconv.list_algorithms`; all compute the same function
            and its gradients:

            {algorithm_list}

    Returns:
        ``(N, C_out, *out_spatial)`` with ``out_spatial`` from :func:`anyconv.output_shape`
        (``(C_out, *out_spatial)`` for an unbatched input), in ``channels_last`` memory
        format when the input or the weight is (as PyTorch's convolutions), whatever the
        algorithm. Every algorithm has the same gradients, backward and forward-mode
        (``torch.func.jvp``; on ``fft`` and ``matrix`` for finite operands). Under
        ``torch.autocast`` float32 operands are cast to the autocast dtype first, as
        PyTorch casts its convolutions'; float16 and bfloat16 problems are summed in
        float32.

    Example:
        >>> x = torch.randn(2, 3, 16, 16)
        >>> w = torch.randn(8, 3, 5, 5)
        >>> conv(x, w, padding="same", stride=2).shape
        torch.Size([2, 8, 8, 8])
        >>> a = conv(x, w, padding="full", algorithm="fft")
        >>> torch.allclose(a, conv(x, w, padding="full", algorithm="im2col"), atol=1e-4)
        True
        >>> conv(x[0], w).shape  # unbatched
        torch.Size([8, 12, 12])
    """
    x, weight, bias = autocast_operands(x, weight, bias)
    ndim = check_conv_tensors(x, weight, bias, "conv")
    unbatched = x.dim() == ndim + 1
    if unbatched:
        x = x.unsqueeze(0)
    spec = conv_spec(
        tuple(x.shape),
        tuple(weight.shape),
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        padding_mode=padding_mode,
    )
    fmt = memory_format(x, weight)
    weight = _flip(weight, flip, "conv")
    run = prepare(algorithm, Problem.of(x, weight, spec))
    with autocast_off(x.device):
        y = keep_format(run(x, weight, bias, spec), fmt)
    return y.squeeze(0) if unbatched else y


def conv_matrix(
    weight: torch.Tensor,
    input_shape: Sequence[int],
    *,
    stride: int | Sequence[int] = 1,
    padding: Any = "valid",
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
    flip: bool = False,
) -> torch.Tensor:
    """The explicit sparse matrix of a convolution acting on one sample.

    Doubly block Toeplitz for zero borders; block circulant for a circular border with
    stride 1 and ``"same"`` size.

    Args:
        weight: ``(C_out, C_in/groups, *kernel)``.
        input_shape: ``(C_in, *spatial)`` of one sample.
        stride, padding, dilation, groups, padding_mode, flip: as in :func:`conv`.

    Returns:
        a coalesced sparse COO tensor ``M`` of shape ``(C_out * prod(out_spatial),
        C_in * prod(spatial))`` with ``conv(x).flatten(1) == (M @ x.flatten(1).T).T``
        (without bias).

    Example:
        >>> w = torch.tensor([[[1.0, 2.0, 3.0]]])
        >>> conv_matrix(w, (1, 4)).to_dense()
        tensor([[1., 2., 3., 0.],
                [0., 1., 2., 3.]])
    """
    check_float_tensor(weight, "weight", "conv_matrix")
    if not (isinstance(input_shape, Sequence) and len(input_shape) == weight.dim() - 1):
        raise fail(
            "conv_matrix",
            "input_shape",
            f"a tuple (C_in, *spatial) of {weight.dim() - 1} ints to match the weight",
            input_shape,
            ValueError,
        )
    if not 3 <= weight.dim() <= 5:
        raise fail(
            "conv_matrix",
            "weight",
            "a tensor (C_out, C_in/groups, *kernel) with 1, 2 or 3 spatial axes",
            weight,
        )
    spec = conv_spec(
        (1, *input_shape),
        tuple(weight.shape),
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        padding_mode=padding_mode,
        func="conv_matrix",
    )
    return build_matrix(
        _flip(weight, flip, "conv_matrix"), tuple(input_shape[1:]), spec, "conv_matrix"
    )
