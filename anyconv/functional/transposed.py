"""``conv_transpose``: the adjoint of :func:`anyconv.conv`, with every padding rule and
algorithm.

The transposed ("fractionally strided") convolution with the arguments of a convolution is
that convolution's transpose, ``M^T`` where ``conv`` is ``M``, i.e. its gradient with respect
to the input: ``<conv(x), y> == <x, conv_transpose(y)>`` for every ``x`` and ``y``. The
geometry comes from :func:`anyconv.padding.transposed_spec`, which resolves the
convolution whose adjoint is wanted, and each algorithm's transposed form computes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from anyconv._checks import check_conv_tensors
from anyconv.functional.algorithms.registry import Problem, document_algorithms, prepare
from anyconv.functional.conv import _flip
from anyconv.functional.formats import keep_format, memory_format
from anyconv.functional.overrides import overridable
from anyconv.functional.precision import autocast_off, autocast_operands
from anyconv.padding import check_transposed_border, document_rules, transposed_spec

__all__ = ["conv_transpose"]


@overridable
@document_algorithms
@document_rules
def conv_transpose(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    *,
    stride: int | Sequence[int] = 1,
    padding: Any = "valid",
    output_padding: int | Sequence[int] = 0,
    output_size: Sequence[int] | None = None,
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
    flip: bool = False,
    algorithm: str = "auto",
    padding_mode: str = "zeros",
) -> torch.Tensor:
    """N-d transposed convolution: exactly the adjoint of :func:`anyconv.conv` with the same
    ``stride``, ``padding``, ``dilation``, ``groups`` and ``flip``.

    ``out[n, g*C/g + c, i] = bias + sum_{o in group g, p, j : j*stride + p*dilation - lo = i}
    weight[o, c, p] * x[n, o, j]``: each input position scatters the kernel, scaled by its
    value, onto the output, ``stride`` positions apart (equivalently, the kernel slides over
    the input with ``stride - 1`` zeros inserted between its samples). So
    ``<conv(u, weight), x> == <u, conv_transpose(x, weight)>`` for every ``u`` of the output's
    shape, and ``conv_transpose`` is ``conv``'s gradient with respect to its input.

    Args:
        x: input ``(N, C_in, *spatial)`` with 1, 2 or 3 spatial axes, or an unbatched
            ``(C_in, *spatial)``: the weight's rank says which, as in
            ``torch.nn.functional.conv_transpose2d``.
        weight: ``(C_in, C_out/groups, *kernel)``, PyTorch's transposed layout (the weight of
            the convolution from ``C_out`` to ``C_in`` channels whose adjoint this is).
        bias: ``(C_out,)`` or ``None``.
        stride, dilation: an int or one int per spatial axis, all >= 1.
        padding: the padding of the convolution whose adjoint this is: a rule
            ({padding_rules}), an int, or a tuple with one entry per spatial axis, each a
            rule, an int or a ``(lo, hi)`` pair. Int padding ``p`` is PyTorch's: ``p``
            positions fewer on each side. See :mod:`anyconv.padding` for the table.
        output_padding: added to the smallest output size on each axis, below
            ``max(stride, dilation)`` (PyTorch's rule); 0 on ``"same"`` axes.
        output_size: the spatial output size (or ``(N, C_out, *spatial)``), any of the
            sizes that map back (:func:`anyconv.transposed_output_sizes`), as in PyTorch;
            instead of ``output_padding``.
        groups: channel groups.
        flip: ``True`` is the adjoint of true convolution (the kernel reversed).
        algorithm: one of :func:`anyconv.list_algorithms`, each in its transposed form; all
            compute the same function and its gradients:

            {algorithm_list}
        padding_mode: ``"zeros"`` only (see below); another border is refused, saying why.

    Returns:
        ``(N, C_out, *out_spatial)``: per axis PyTorch's ``(m - 1)*stride + k_eff - lo - hi
        + output_padding`` (``m`` the input size, ``k_eff = dilation*(k - 1) + 1``, ``(lo,
        hi)`` the padding resolved at the output size); ``m*stride`` on ``"same"`` axes, as
        in Keras; ``output_size`` when given (:func:`anyconv.transposed_output_shape`).
        ``conv`` with the same arguments maps that size back to ``m``. ``(C_out,
        *out_spatial)`` for an unbatched input; in ``channels_last`` memory format when the
        input or the weight is, as :func:`anyconv.conv`; under ``torch.autocast`` float32
        operands are cast first.

    Only zero borders: a convolution's border (reflect, replicate, circular) reads outside
    its input, and its adjoint would fold those reads back onto the edge of the output,
    which no decoder means by a transposed convolution (PyTorch's ``ConvTranspose`` takes
    zeros only too); other ``padding_mode`` values are refused.

    Example:
        >>> x = torch.randn(2, 8, 7, 7)
        >>> w = torch.randn(8, 3, 4, 4)
        >>> conv_transpose(x, w, stride=2, padding=1).shape
        torch.Size([2, 3, 14, 14])
        >>> conv_transpose(x, w, stride=2, padding="same").shape
        torch.Size([2, 3, 14, 14])
        >>> conv_transpose(x, w, stride=2, padding=1, output_size=(15, 15)).shape
        torch.Size([2, 3, 15, 15])
        >>> u = torch.randn(2, 3, 14, 14)  # the adjoint identity <conv(u), x> = <u, conv_T(x)>
        >>> from anyconv import conv
        >>> a = (conv(u, w, stride=2, padding=1) * x).sum()
        >>> b = (u * conv_transpose(x, w, stride=2, padding=1)).sum()
        >>> torch.allclose(a, b, rtol=1e-4)
        True
        >>> conv_transpose(x[0], w, stride=2, padding="same").shape  # unbatched
        torch.Size([3, 14, 14])
    """
    func = "conv_transpose"
    x, weight, bias = autocast_operands(x, weight, bias)
    ndim = check_conv_tensors(x, weight, bias, func, groups=groups)
    check_transposed_border(padding_mode, func)
    unbatched = x.dim() == ndim + 1
    if unbatched:
        x = x.unsqueeze(0)
        if output_size is not None and len(output_size) == ndim + 1:
            output_size = tuple(output_size)[1:]  # (C_out, *spatial) of one sample
    spec = transposed_spec(
        tuple(x.shape),
        tuple(weight.shape),
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        output_size=output_size,
        dilation=dilation,
        groups=groups,
        func=func,
    )
    fmt = memory_format(x, weight)
    weight = _flip(weight, flip, func)
    run = prepare(algorithm, Problem.of(x, weight, spec, transposed=True), func).transpose
    with autocast_off(x.device):
        y = keep_format(run(x, weight, bias, spec), fmt)
    return y.squeeze(0) if unbatched else y
