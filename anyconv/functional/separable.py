"""Spatially separable kernels: factorise a kernel into per-axis 1-D factors, apply them.

A rank-``r`` separable kernel is ``w[o, c] = Σ_{q<r} f_0[o, c, q] ⊗ f_1[o, c, q] (⊗ f_2[o, c,
q])``, with one factor tensor ``f_a`` of shape ``(out, in, r, k_a)`` per spatial axis.
"""

from __future__ import annotations

import math
import string
from collections.abc import Sequence
from typing import Any, NamedTuple

import torch

from anyconv._checks import check_bool, check_float_tensor, check_input, check_int, fail
from anyconv.functional.conv import conv
from anyconv.functional.formats import keep_format, memory_format
from anyconv.functional.overrides import overridable
from anyconv.padding import conv_spec, pad


class Factorization(NamedTuple):
    """What :func:`factorize` returns.

    Attributes:
        factors: one tensor ``(out, in, rank, k_a)`` per spatial axis ``a``.
        error: ``(out, in)``, the relative Frobenius error ``‖w − ŵ‖ / ‖w‖`` of each kernel
            (``0`` for an all-zero kernel). The overall relative error is
            ``sqrt(Σ error² ‖w‖²) / ‖w‖`` over all kernels.
    """

    factors: tuple[torch.Tensor, ...]
    error: torch.Tensor


def max_rank(kernel_size: Sequence[int]) -> int:
    """The rank at which :func:`factorize` is exact: ``min(kh, kw)`` in 2-D and
    ``min(kd, kh·kw)·min(kh, kw)`` in 3-D.

    Example:
        >>> max_rank((3, 5)), max_rank((3, 3, 3))
        (3, 9)
    """
    head, *rest = kernel_size
    if not rest:
        return 1
    return min(head, math.prod(rest)) * max_rank(rest)


def _nested_svd(x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Orthogonal expansion of ``x`` ``(B, k_0, .., k_{n-1})`` into rank-1 terms.

    SVD of the unfolding ``k_0 × (k_1·…)``, then recursively of each right singular vector
    reshaped to ``(k_1, ..)``. Returns the coefficients ``(B, R)`` (``≥ 0``) and unit
    factors ``(B, R, k_a)`` with ``R = max_rank``; the terms are orthonormal, so dropping the
    smallest coefficients is the best truncation of this expansion (in 2-D, Eckart–Young).
    """
    batch, head, rest = x.shape[0], x.shape[1], x.shape[2:]
    if not rest:
        norm = torch.linalg.vector_norm(x, dim=1, keepdim=True)
        unit = torch.where(norm > 0, x / norm.clamp_min(torch.finfo(x.dtype).tiny), 1.0)
        return norm, [unit.unsqueeze(1)]
    u, s, vh = torch.linalg.svd(x.reshape(batch, head, -1), full_matrices=False)
    m = s.shape[1]
    coeff, inner = _nested_svd(vh.reshape(batch * m, *rest))
    r = coeff.shape[1]
    coeff = (s.unsqueeze(-1) * coeff.reshape(batch, m, r)).reshape(batch, m * r)
    first = u.transpose(1, 2).unsqueeze(2).expand(batch, m, r, head).reshape(batch, m * r, head)
    return coeff, [first] + [f.reshape(batch, m * r, f.shape[-1]) for f in inner]


def _outer_sum(factors: Sequence[torch.Tensor]) -> torch.Tensor:
    """``Σ_q f_0[..., q, :] ⊗ f_1[..., q, :] ⊗ …``."""
    letters = string.ascii_lowercase[: len(factors)]
    terms = ",".join(f"...q{a}" for a in letters)
    return torch.einsum(f"{terms}->...{letters}", *factors)


def _als(x: torch.Tensor, factors: list[torch.Tensor], sweeps: int) -> list[torch.Tensor]:
    """CP alternating least squares: each sweep solves exactly for one axis's factors at a
    time, so the error never increases. ``x`` ``(B, *k)``, factors ``(B, R, k_a)``."""
    n = len(factors)
    letters = string.ascii_lowercase[:n]
    for _ in range(sweeps):
        for a in range(n):
            others = [f for b, f in enumerate(factors) if b != a]
            gram = math.prod(f @ f.transpose(1, 2) for f in others)
            terms = ",".join(f"...q{c}" for b, c in enumerate(letters) if b != a)
            rhs = torch.einsum(f"...{letters},{terms}->...q{letters[a]}", x, *others)
            factors[a] = torch.linalg.pinv(gram, hermitian=True) @ rhs
    return factors


def _check_weight(weight: Any, func: str) -> torch.Tensor:
    check_float_tensor(weight, "weight", func)
    if weight.dim() not in (4, 5) or 0 in weight.shape:
        raise fail(
            func,
            "weight",
            "a non-empty tensor (out_channels, in_channels, kh, kw) or "
            "(out_channels, in_channels, kd, kh, kw)",
            weight,
        )
    return weight


def factorize(weight: torch.Tensor, rank: int, *, sweeps: int = 10) -> Factorization:
    """Best (2-D) or near-best (3-D) rank-``rank`` separable approximation of each kernel.

    2-D: the truncated SVD of every ``(kh, kw)`` kernel, the optimal rank-``r`` approximation
    in the Frobenius norm (Eckart–Young); ``√σ_q`` is folded into both factors.

    3-D: a CP decomposition ``Σ_q a_q ⊗ b_q ⊗ c_q`` of every ``(kd, kh, kw)`` kernel. It
    starts from a nested SVD (SVD of the ``kd × (kh·kw)`` unfolding, then of each right
    singular vector as a ``kh × kw`` matrix), an orthogonal expansion truncated to its
    ``rank`` largest terms — exact for a separable kernel and at ``rank = max_rank`` — and
    refines it by ``sweeps`` of alternating least squares, keeping per kernel whichever of
    the two is more accurate. The weight of each term is spread evenly (cube root) over its
    three factors.

    Computed in float64 without gradient tracking (a conversion, not a layer); the results
    have the weight's dtype and device.

    Args:
        weight: ``(out, in, kh, kw)`` or ``(out, in, kd, kh, kw)``.
        rank: ``1 .. max_rank(kernel)`` (see :func:`max_rank`).
        sweeps: ALS sweeps for 3-D kernels, ``>= 0``; ``0`` keeps the nested SVD alone, whose
            error never grows with ``rank`` (ALS may end in a different local optimum for
            each rank).

    Returns:
        a :class:`Factorization` ``(factors, error)``: ``factors`` one tensor
        ``(out, in, rank, k_a)`` per spatial axis, ``error`` ``(out, in)`` the relative
        Frobenius error of each kernel.

    Example:
        >>> w = torch.randn(8, 3, 5, 5)
        >>> f = factorize(w, rank=2)
        >>> [tuple(t.shape) for t in f.factors], tuple(f.error.shape)
        ([(8, 3, 2, 5), (8, 3, 2, 5)], (8, 3))
        >>> exact = factorize(w, rank=5)
        >>> torch.allclose(reconstruct(exact.factors), w, atol=1e-5)
        True
    """
    func = "factorize"
    _check_weight(weight, func)
    kernel = tuple(weight.shape[2:])
    limit = max_rank(kernel)
    check_int(rank, "rank", func, minimum=1, maximum=limit, note=f"max_rank of kernel {kernel}")
    check_int(sweeps, "sweeps", func, minimum=0)
    with torch.no_grad():
        out_channels, in_channels = weight.shape[:2]
        x = weight.detach().to(torch.float64).reshape(-1, *kernel)
        coeff, factors = _nested_svd(x)
        # Columns of the expansion in decreasing weight; the leading ``rank`` are the best.
        top = coeff.argsort(dim=1, descending=True)[:, :rank]
        coeff = coeff.gather(1, top)
        factors = [f.gather(1, top.unsqueeze(-1).expand(-1, -1, f.shape[-1])) for f in factors]
        scale = coeff.clamp_min(0) ** (1 / len(kernel))
        factors = [f * scale.unsqueeze(-1) for f in factors]
        approx = _outer_sum(factors)
        if len(kernel) > 2 and sweeps:
            refined = _als(x, [f.clone() for f in factors], sweeps)
            better = _residual(x, _outer_sum(refined)) < _residual(x, approx)
            factors = [
                torch.where(better[:, None, None], _balance(refined, a), f)
                for a, f in enumerate(factors)
            ]
            approx = _outer_sum(factors)
        norm = torch.linalg.vector_norm(x.flatten(1), dim=1)
        error = torch.where(norm > 0, _residual(x, approx) / norm.clamp_min(1e-300), 0.0)
        shape = (out_channels, in_channels, rank)
        return Factorization(
            tuple(f.reshape(*shape, -1).to(weight.dtype) for f in factors),
            error.reshape(out_channels, in_channels).to(weight.dtype),
        )


def _residual(x: torch.Tensor, approx: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm((x - approx).flatten(1), dim=1)


def _balance(factors: list[torch.Tensor], axis: int) -> torch.Tensor:
    """Factor ``axis`` rescaled so that every factor of a term has the same norm."""
    norms = [torch.linalg.vector_norm(f, dim=-1, keepdim=True) for f in factors]
    mean = math.prod(norms) ** (1 / len(factors))
    return torch.where(
        norms[axis] > 0, factors[axis] / norms[axis].clamp_min(1e-300) * mean, factors[axis]
    )


def _check_factors(factors: Any, func: str) -> tuple[torch.Tensor, ...]:
    allowed = (
        "a tuple of 2 or 3 tensors (out, in, rank, k_a), one per spatial axis, "
        "sharing out, in, rank, dtype and device"
    )
    if not (
        isinstance(factors, Sequence)
        and 2 <= len(factors) <= 3
        and all(isinstance(f, torch.Tensor) for f in factors)
    ):
        raise fail(func, "factors", allowed, factors, TypeError)
    for f in factors:
        check_float_tensor(f, "factors", func)
    shapes = [tuple(f.shape) for f in factors]
    if (
        any(len(s) != 4 or 0 in s for s in shapes)
        or len({s[:3] for s in shapes}) != 1
        or len({(f.dtype, f.device) for f in factors}) != 1
    ):
        raise fail(func, "factors", allowed, f"shapes {shapes}")
    return tuple(factors)


def reconstruct(factors: Sequence[torch.Tensor]) -> torch.Tensor:
    """The full kernel of a separable factorisation (differentiable).

    Args:
        factors: one tensor ``(out, in, rank, k_a)`` per spatial axis (2 or 3 of them).

    Returns:
        ``(out, in, *k)`` with ``w[o, c] = Σ_q f_0[o, c, q] ⊗ f_1[o, c, q] (⊗ f_2[o, c, q])``.

    Example:
        >>> a, b = torch.ones(1, 1, 1, 2), torch.tensor([[[[1.0, 2.0, 3.0]]]])
        >>> reconstruct((a, b))
        tensor([[[[1., 2., 3.],
                  [1., 2., 3.]]]])
    """
    return _outer_sum(_check_factors(factors, "reconstruct"))


@overridable
def separable_conv(
    x: torch.Tensor,
    factors: Sequence[torch.Tensor],
    bias: torch.Tensor | None = None,
    *,
    stride: int | Sequence[int] = 1,
    padding: Any = "valid",
    dilation: int | Sequence[int] = 1,
    padding_mode: str = "zeros",
    flip: bool = False,
    algorithm: str = "auto",
) -> torch.Tensor:
    """Convolution with a rank-``r`` separable kernel as one 1-D convolution per axis.

    Equal to ``conv(x, reconstruct(factors), bias, ...)`` with the same arguments, at
    ``C·O·r·Σ_a k_a`` instead of ``C·O·Π_a k_a`` multiplies per output position (before
    stride). The padding is resolved once for the full kernel and applied once; then a
    grouped convolution along axis 0 makes the ``C·O·r`` partial maps (all ranks and
    channels in one call), depthwise convolutions filter them along the middle axes, and a
    grouped convolution along the last axis sums them into the ``O`` outputs. Stride and
    dilation act on each axis in its own pass.

    Args:
        x: ``(N, C, *spatial)`` with 2 or 3 spatial axes, or an unbatched ``(C, *spatial)``.
        factors: one tensor ``(O, C, r, k_a)`` per spatial axis, as :func:`factorize` returns.
        bias: ``(O,)`` or ``None``.
        stride, padding, dilation, padding_mode, flip, algorithm: as in
            :func:`anyconv.conv` (``groups`` is 1).

    Returns:
        ``(N, O, *out_spatial)``.

    Example:
        >>> import anyconv
        >>> x, w = torch.randn(2, 3, 16, 16), torch.randn(4, 3, 5, 5)
        >>> f = factorize(w, rank=2).factors
        >>> y = separable_conv(x, f, padding="same", stride=2)
        >>> y.shape
        torch.Size([2, 4, 8, 8])
        >>> ref = anyconv.conv(x, reconstruct(f), padding="same", stride=2)
        >>> torch.allclose(y, ref, atol=1e-4)
        True
    """
    func = "separable_conv"
    check_float_tensor(x, "input", func)
    factors = _check_factors(factors, func)
    ndim = len(factors)
    out_channels, in_channels, rank = factors[0].shape[:3]
    kernel = tuple(f.shape[-1] for f in factors)
    check_input(x, func, spatial=ndim, note=f"to match {ndim} factors", unbatched=True)
    if x.dim() == ndim + 1:  # unbatched (C, *spatial), as torch.nn's layers take it
        options = dict(stride=stride, padding=padding, dilation=dilation)
        options.update(padding_mode=padding_mode, flip=flip, algorithm=algorithm)
        return separable_conv(x.unsqueeze(0), factors, bias, **options).squeeze(0)
    for name, t in (("factors", factors[0]), ("bias", bias)):
        if t is not None and (t.dtype, t.device) != (x.dtype, x.device):
            raise fail(
                func,
                name,
                f"of the input's dtype {x.dtype} and device {x.device}",
                f"dtype {t.dtype} on {t.device}",
                TypeError,
            )
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise fail(func, "bias", f"None or a tensor of shape ({out_channels},)", bias)
    spec = conv_spec(
        tuple(x.shape),
        (out_channels, in_channels, *kernel),
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=1,
        padding_mode=padding_mode,
        func=func,
    )
    if check_bool(flip, "flip", func):
        # True convolution reverses the full kernel, i.e. every 1-D factor.
        factors = tuple(f.flip(-1) for f in factors)
    y = pad(x, spec.padding, spec.padding_mode)

    def along(
        y: torch.Tensor, w: torch.Tensor, axis: int, groups: int, b: torch.Tensor | None = None
    ) -> torch.Tensor:
        """A valid 1-D pass along ``axis``; ``w`` is ``(out, in/groups, k)``."""
        shape, s, d = [1] * ndim, [1] * ndim, [1] * ndim
        shape[axis], s[axis], d[axis] = w.shape[-1], spec.stride[axis], spec.dilation[axis]
        return conv(
            y,
            w.reshape(*w.shape[:2], *shape),
            b,
            stride=s,
            dilation=d,
            groups=groups,
            algorithm=algorithm,
        )

    # Axis 0: input channel c -> the O·r maps (o, q) it feeds, ordered (c, o, q).
    y = along(y, factors[0].transpose(0, 1).reshape(-1, 1, kernel[0]), 0, in_channels)
    # Reorder to (o, c, q) so that the last pass sums contiguous groups of C·r maps.
    spatial = y.shape[2:]
    y = y.reshape(-1, in_channels, out_channels, rank, *spatial).transpose(1, 2)
    y = y.reshape(-1, out_channels * in_channels * rank, *spatial)
    for axis in range(1, ndim - 1):
        y = along(y, factors[axis].reshape(-1, 1, kernel[axis]), axis, y.shape[1])
    last = factors[-1].reshape(out_channels, in_channels * rank, kernel[-1])
    return keep_format(along(y, last, ndim - 1, out_channels, bias), memory_format(x))
