"""Classic fixed kernels as tensors: Gabor, Gaussian, Sobel, Laplacian and differences.

Every kernel is returned for anyconv's default sense, cross-correlation (``flip=False``):
``anyconv.conv(x, k.view(1, 1, *k.shape), padding="same")`` of an increasing ramp gives a
positive Sobel or difference response. Pass ``flip=True`` to compare with a library that
convolves (``scipy.ndimage.convolve``).

Coordinates are centred on the kernel: along an axis of size ``n`` the taps sit at
``i - (n - 1) / 2`` for ``i = 0 .. n-1`` (half-integers for even sizes). In 2-D, ``x`` runs
along the last axis (columns, left to right) and ``y`` along the first (rows, top to
bottom), as in image coordinates.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import torch

from anyconv._checks import (
    check_bool,
    check_float_tensor,
    check_int,
    check_ndim,
    choice,
    fail,
    int_tuple,
    is_int,
    is_real,
)

Scalar = float | torch.Tensor

_GABOR_ARGS = ("theta", "omega", "psi", "alpha", "beta", "amplitude")


def _check_axis(axis: Any, ndim: int, func: str) -> int:
    note = f"a spatial axis of the {ndim}-d kernel"
    return check_int(axis, "axis", func, minimum=-ndim, maximum=ndim - 1, note=note) % ndim


def _check_dtype(dtype: Any, func: str) -> torch.dtype:
    if dtype is None:
        return torch.get_default_dtype()
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise fail(func, "dtype", "None or a real floating-point torch.dtype", dtype, TypeError)
    return dtype


def _result_dtype(tensors: Any, dtype: Any, func: str) -> torch.dtype:
    """``dtype`` if given, else the promoted dtype of the tensor arguments, else the default."""
    if dtype is None:
        dtypes = [t.dtype for t in tensors]
        if dtypes:
            return functools.reduce(torch.promote_types, dtypes)
    return _check_dtype(dtype, func)


def _centred(n: int, dtype: torch.dtype, device: Any) -> torch.Tensor:
    return torch.arange(n, dtype=dtype, device=device) - (n - 1) / 2


def _outer(vectors: Sequence[torch.Tensor]) -> torch.Tensor:
    """The N-d outer product of 1-D vectors, one per spatial axis."""
    out = vectors[0]
    for v in vectors[1:]:
        out = out.unsqueeze(-1) * v
    return out


def _gabor_params(values: dict[str, Any], dtype: Any, device: Any, func: str) -> list[torch.Tensor]:
    """Turn floats and tensors into tensors of one dtype on one device (differentiably)."""
    tensors = {}
    for arg, value in values.items():
        if isinstance(value, torch.Tensor):
            tensors[arg] = check_float_tensor(value, arg, func)
        elif not is_real(value):
            raise fail(func, arg, "a float or a real floating-point tensor", value, TypeError)
        elif arg in ("alpha", "beta") and not (value > 0 and math.isfinite(value)):
            raise fail(func, arg, "None or a finite float > 0 (an envelope width)", value)
    dtype = _result_dtype(tensors.values(), dtype, func)
    devices = {t.device for t in tensors.values()}
    if len(devices) > 1:
        shown = {arg: str(t.device) for arg, t in tensors.items()}
        raise ValueError(f"{func}(): the tensor arguments must share one device; got {shown}")
    if device is None:
        device = devices.pop() if devices else torch.device("cpu")
    return [
        v.to(device=device, dtype=dtype)
        if isinstance(v, torch.Tensor)
        else torch.tensor(float(v), dtype=dtype, device=device)
        for v in values.values()
    ]


def default_gabor_envelope(size: tuple[int, int]) -> float:
    """``α = β = 1/(2σ²)`` with ``σ = min(h, w)/6``: the envelope is about 1% at the border.

    Example:
        >>> default_gabor_envelope((6, 9))
        0.5
    """
    sigma = min(size) / 6
    return 1 / (2 * sigma * sigma)


def gabor_kernel(
    size: int | Sequence[int],
    theta: Scalar,
    omega: Scalar,
    psi: Scalar = 0.0,
    alpha: Scalar | None = None,
    beta: Scalar | None = None,
    amplitude: Scalar = 1.0,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Gabor kernel(s) ``G(x, y) = A·exp(−α x̃² − β ỹ²)·sin(ω x̃ + ψ)``.

    With the rotated coordinates ``x̃ = x cosθ + y sinθ`` and ``ỹ = −x sinθ + y cosθ`` on the
    centred grid of the module docstring (``x`` along columns, ``y`` down the rows), ``θ``
    is the orientation of the carrier wave (``θ = 0``: stripes are vertical, the wave runs
    along ``x``), ``ω`` its angular frequency in radians per pixel (period ``2π/ω``), ``ψ``
    its phase (``0``: odd, edge-like; ``π/2``: even, line-like), ``α`` and ``β`` the
    envelope's inverse squared widths along and across the wave.

    Every parameter may be a float or a tensor; tensors broadcast together to a batch shape
    ``(*B)`` and the result is differentiable with respect to them, so a whole bank (e.g.
    one kernel per ``(out, in)`` channel pair) is generated in one vectorised call.

    Args:
        size: ``h`` (square) or ``(h, w)``, positive ints.
        theta, omega, psi, amplitude: floats or real floating-point tensors of shape ``(*B)``.
        alpha, beta: as above, ``> 0``; ``None`` means ``1 / (2σ²)`` with
            ``σ = min(h, w) / 6``, so the envelope falls to about 1% at the nearer border.
        dtype: the result's dtype; by default the tensors' promoted dtype, else torch's
            default dtype.
        device: the result's device; by default the tensors' device, else the CPU.

    Returns:
        ``(*B, h, w)``.

    Example:
        >>> k = gabor_kernel(7, theta=0.0, omega=math.pi / 2)
        >>> k.shape, bool(torch.allclose(k, -k.flip(-1)))  # psi = 0: odd along x
        (torch.Size([7, 7]), True)
        >>> theta = torch.linspace(0, math.pi, 4).requires_grad_()
        >>> gabor_kernel((5, 9), theta, 1.0, psi=math.pi / 2).shape
        torch.Size([4, 5, 9])
    """
    func = "gabor_kernel"
    h, w = int_tuple(size, 2, "size", func, minimum=1)
    default = default_gabor_envelope((h, w))
    alpha = default if alpha is None else alpha
    beta = default if beta is None else beta
    args = dict(zip(_GABOR_ARGS, (theta, omega, psi, alpha, beta, amplitude), strict=True))
    try:
        torch.broadcast_shapes(*(v.shape for v in args.values() if isinstance(v, torch.Tensor)))
    except RuntimeError:
        shapes = {a: tuple(v.shape) for a, v in args.items() if isinstance(v, torch.Tensor)}
        raise ValueError(
            f"{func}(): the tensor parameters must broadcast to one batch "
            f"shape; got shapes {shapes}"
        ) from None
    theta, omega, psi, alpha, beta, amplitude = (
        p[..., None, None] for p in _gabor_params(args, dtype, device, func)
    )
    y = _centred(h, theta.dtype, theta.device)[:, None]
    x = _centred(w, theta.dtype, theta.device)
    cos, sin = torch.cos(theta), torch.sin(theta)
    xr = x * cos + y * sin
    yr = y * cos - x * sin
    return amplitude * torch.exp(-alpha * xr**2 - beta * yr**2) * torch.sin(omega * xr + psi)


def _angles(value: Any, arg: str, func: str, default: Any, dtype: torch.dtype) -> torch.Tensor:
    if is_int(value):
        if value < 1:
            raise fail(func, arg, "a positive int (how many) or a 1-D sequence of floats", value)
        return default(int(value))
    if isinstance(value, torch.Tensor):
        check_float_tensor(value, arg, func)
        if value.dim() != 1 or value.numel() == 0:
            raise fail(func, arg, "a positive int or a non-empty 1-D tensor", value)
        return value
    if (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and value
        and all(map(is_real, value))
    ):
        return torch.tensor([float(v) for v in value], dtype=dtype)
    raise fail(
        func,
        arg,
        "a positive int (how many) or a non-empty 1-D sequence of floats",
        value,
        TypeError,
    )


def gabor_bank(
    size: int | Sequence[int],
    orientations: int | Sequence[float] | torch.Tensor,
    frequencies: int | Sequence[float] | torch.Tensor,
    psi: Scalar = 0.0,
    alpha: Scalar | None = None,
    beta: Scalar | None = None,
    amplitude: Scalar = 1.0,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """A bank of Gabor kernels, every orientation at every frequency, ready for ``conv``.

    Args:
        size: ``h`` or ``(h, w)``.
        orientations: ``n`` for ``θ_k = kπ/n``, ``k = 0..n-1`` (evenly over ``[0, π)``), or
            the angles themselves (a 1-D sequence or tensor, radians).
        frequencies: ``m`` for ``ω_j = (π/2)·2^(−j/2)``, ``j = 0..m-1`` (half-octave steps
            down from a period of 4 pixels), or the angular frequencies themselves.
        psi, alpha, beta, amplitude, dtype, device: as in :func:`gabor_kernel`; tensors
            must broadcast to ``(len(frequencies), len(orientations))``.

    Returns:
        ``(m·n, 1, h, w)``; kernel ``j·n + k`` has frequency ``ω_j`` and orientation ``θ_k``.

    Example:
        >>> bank = gabor_bank(7, orientations=4, frequencies=2)
        >>> bank.shape
        torch.Size([8, 1, 7, 7])
        >>> import anyconv
        >>> anyconv.conv(torch.randn(1, 1, 32, 32), bank, padding="same").shape
        torch.Size([1, 8, 32, 32])
    """
    func = "gabor_bank"
    given = (orientations, frequencies, psi, alpha, beta, amplitude)
    dtype = _result_dtype([v for v in given if isinstance(v, torch.Tensor)], dtype, func)
    theta = _angles(
        orientations,
        "orientations",
        func,
        lambda n: torch.arange(n, dtype=dtype) * (math.pi / n),
        dtype,
    )
    omega = _angles(
        frequencies,
        "frequencies",
        func,
        lambda m: (math.pi / 2) * 2.0 ** (-torch.arange(m, dtype=dtype) / 2),
        dtype,
    )
    theta, omega = theta[None, :], omega[:, None]
    bank = gabor_kernel(size, theta, omega, psi, alpha, beta, amplitude, dtype=dtype, device=device)
    return bank.reshape(-1, 1, *bank.shape[-2:])


def binomial_kernel(
    size: int | Sequence[int],
    ndim: int = 2,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The normalised binomial filter: the outer product of rows of Pascal's triangle.

    Size 1 is the identity, 2 the box ``[1, 1]/2``, 3 the triangle ``[1, 2, 1]/4``, 5
    ``[1, 4, 6, 4, 1]/16``: the discrete approximations of a Gaussian that Zhang (2019)
    blurs with before subsampling.

    Args:
        size: taps per axis, an int or one per axis.
        ndim: spatial axes, 1 to 3.
        dtype, device: of the result (torch's default dtype, the CPU).

    Returns:
        ``(*size)``, summing to 1.

    Example:
        >>> binomial_kernel(3, ndim=1)
        tensor([0.2500, 0.5000, 0.2500])
        >>> binomial_kernel((2, 3)).shape, float(binomial_kernel(4).sum())
        (torch.Size([2, 3]), 1.0)
    """
    func = "binomial_kernel"
    ndim = check_ndim(ndim, func)
    size = int_tuple(size, ndim, "size", func, minimum=1)
    rows = [
        torch.tensor([math.comb(n - 1, i) for i in range(n)], dtype=torch.float64) / 2 ** (n - 1)
        for n in size
    ]
    return _outer(rows).to(dtype=dtype or torch.get_default_dtype(), device=device)


def gaussian_kernel(
    size: int | Sequence[int],
    sigma: float | Sequence[float],
    ndim: int = 2,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Normalised Gaussian ``g(p) ∝ exp(−Σ_a p_a² / (2σ_a²))`` on the centred grid.

    Separable: the outer product of 1-D Gaussians, each normalised to sum 1, so the kernel
    sums to 1 and equals ``scipy.ndimage.gaussian_filter``'s for ``size = 2·r + 1`` with
    ``r = int(truncate·σ + 0.5)``.

    Args:
        size: an int (every axis) or one positive int per axis.
        sigma: a float ``> 0`` (every axis) or one per axis, in pixels.
        ndim: the number of spatial axes, 1 to 3.
        dtype, device: of the result (torch's default dtype, the CPU).

    Returns:
        ``(*size)``.

    Example:
        >>> g = gaussian_kernel(5, 1.0)
        >>> g.shape, round(float(g.sum()), 6)
        (torch.Size([5, 5]), 1.0)
        >>> gaussian_kernel((3, 5, 5), (0.5, 1.0, 1.0), ndim=3).shape
        torch.Size([3, 5, 5])
    """
    func = "gaussian_kernel"
    ndim = check_ndim(ndim, func)
    size = int_tuple(size, ndim, "size", func, minimum=1)
    allowed = f"a float > 0 or a tuple of {ndim} floats > 0 (one per spatial axis)"
    sigmas = (sigma,) * ndim if is_real(sigma) else sigma
    if not (
        isinstance(sigmas, Sequence) and not isinstance(sigmas, str) and all(map(is_real, sigmas))
    ):
        raise fail(func, "sigma", allowed, sigma, TypeError)
    if len(sigmas) != ndim or not all(s > 0 and math.isfinite(s) for s in sigmas):
        raise fail(func, "sigma", allowed, sigma)
    dtype = _check_dtype(dtype, func)
    vectors = []
    for n, s in zip(size, sigmas, strict=True):
        # Built in float64 so that the normalisation is exact before the final cast.
        g = torch.exp(-(_centred(n, torch.float64, device) ** 2) / (2 * s * s))
        vectors.append(g / g.sum())
    return _outer(vectors).to(dtype)


def _axis_kernel(
    along: list[float],
    across: list[float] | None,
    axis: int,
    ndim: int,
    dtype: Any,
    device: Any,
    func: str,
) -> torch.Tensor:
    dtype = _check_dtype(dtype, func)
    vectors = []
    for a in range(ndim):
        values = along if a == axis else (across or [1.0])
        vectors.append(torch.tensor(values, dtype=dtype, device=device))
    return _outer(vectors)


def sobel_kernel(
    axis: int,
    ndim: int = 2,
    *,
    normalized: bool = False,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """N-d Sobel kernel: central difference ``[−1, 0, 1]`` along ``axis``, ``[1, 2, 1]`` across.

    For cross-correlation (anyconv's default) the response to an increasing ramp is
    positive, as with ``scipy.ndimage.sobel``; ``anyconv.conv(..., flip=True)`` with this
    kernel equals ``scipy.ndimage.convolve`` with it.

    Args:
        axis: the derivative's spatial axis, ``0..ndim-1`` (negative counts from the end);
            in 2-D, ``0`` is the vertical (row) derivative and ``1`` the horizontal one.
        ndim: the number of spatial axes, 1 to 3.
        normalized: divide by ``2·4^(ndim−1)``, so that a ramp of slope 1 gives exactly 1.
        dtype, device: of the result.

    Returns:
        ``(3,) * ndim``.

    Example:
        >>> sobel_kernel(axis=1)
        tensor([[-1.,  0.,  1.],
                [-2.,  0.,  2.],
                [-1.,  0.,  1.]])
    """
    func = "sobel_kernel"
    ndim = check_ndim(ndim, func)
    axis = _check_axis(axis, ndim, func)
    check_bool(normalized, "normalized", func)
    k = _axis_kernel([-1.0, 0.0, 1.0], [1.0, 2.0, 1.0], axis, ndim, dtype, device, func)
    return k / (2 * 4 ** (ndim - 1)) if normalized else k


def laplacian_kernel(
    ndim: int = 2, *, dtype: torch.dtype | None = None, device: torch.device | str | None = None
) -> torch.Tensor:
    """The ``(2·ndim + 1)``-point discrete Laplacian: ``−2·ndim`` at the centre, ``1`` beside.

    The sum over axes of the second difference ``[1, −2, 1]``; symmetric, so correlation and
    convolution agree, and it matches ``scipy.ndimage.laplace``.

    Args:
        ndim: the number of spatial axes, 1 to 3.
        dtype, device: of the result.

    Returns:
        ``(3,) * ndim``.

    Example:
        >>> laplacian_kernel()
        tensor([[ 0.,  1.,  0.],
                [ 1., -4.,  1.],
                [ 0.,  1.,  0.]])
    """
    func = "laplacian_kernel"
    ndim = check_ndim(ndim, func)
    return sum(
        _axis_kernel([1.0, -2.0, 1.0], [0.0, 1.0, 0.0], a, ndim, dtype, device, func)
        for a in range(ndim)
    )


def difference_kernel(
    axis: int,
    ndim: int = 2,
    *,
    kind: str = "forward",
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The simplest edge kernel: a finite difference along one axis.

    ``kind="forward"`` is ``[−1, 1]`` (size 2 along ``axis``): with cross-correlation,
    ``y[i] = x[i+1] − x[i]``. ``kind="central"`` is ``[−1, 0, 1] / 2`` (size 3):
    ``y[i] = (x[i+1] − x[i−1]) / 2``, centred, so it keeps the grid under ``"same"`` padding.
    Both give exactly 1 on a ramp of slope 1 and have size 1 along every other axis.

    Args:
        axis: the spatial axis, ``0..ndim-1`` (negative counts from the end).
        ndim: the number of spatial axes, 1 to 3.
        kind: ``"forward"`` or ``"central"``.
        dtype, device: of the result.

    Returns:
        ``(*k)`` with ``k[axis] = 2`` (forward) or ``3`` (central) and ``1`` elsewhere.

    Example:
        >>> difference_kernel(axis=1)
        tensor([[-1.,  1.]])
        >>> difference_kernel(axis=0, ndim=1, kind="central")
        tensor([-0.5000,  0.0000,  0.5000])
    """
    func = "difference_kernel"
    ndim = check_ndim(ndim, func)
    axis = _check_axis(axis, ndim, func)
    taps = (
        [-1.0, 1.0]
        if choice(kind, ("forward", "central"), "kind", func) == "forward"
        else [-0.5, 0.0, 0.5]
    )
    return _axis_kernel(taps, None, axis, ndim, dtype, device, func)


__all__ = [
    "binomial_kernel",
    "default_gabor_envelope",
    "difference_kernel",
    "gabor_bank",
    "gabor_kernel",
    "gaussian_kernel",
    "laplacian_kernel",
    "sobel_kernel",
]
