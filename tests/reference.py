"""Independent references for the tests: float64 NumPy brute force and PyTorch's own ops.

Nothing here imports anyconv: the padding table of GUIDE.md section 3 is written out again
from the text, borders come from ``np.pad`` and every sum is a loop over output positions.
One loop serves every layer that sums kernel-weighted windows: the ordinary convolution
(one kernel), the locally connected layer (a kernel per output position) and the tiled
layer (kernels repeating with a period); pooling has its own loop over windows.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch
import torch.nn.functional as F

NP_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pads_from_rule(entry, n: int, k: int, s: int, d: int) -> tuple[int, int]:
    """GUIDE.md section 3, one axis."""
    k_eff = d * (k - 1) + 1
    if entry == "valid":
        return 0, 0
    if entry == "full":
        return k_eff - 1, k_eff - 1
    if entry == "causal":
        return k_eff - 1, 0
    if entry == "same":
        out = math.ceil(n / s)
        total = max((out - 1) * s + k_eff - n, 0)
        return total // 2, total - total // 2
    if isinstance(entry, int):
        return entry, entry
    return tuple(entry)


def resolve(padding, spatial, kernel, stride, dilation):
    """``(lo, hi)`` per axis for a padding argument (a rule, an int or one entry per axis)."""
    ndim = len(spatial)
    entries = padding if isinstance(padding, tuple) else (padding,) * ndim
    return tuple(
        pads_from_rule(e, n, k, s, d)
        for e, n, k, s, d in zip(entries, spatial, kernel, _tup(stride, ndim), _tup(dilation, ndim))
    )


def output_size(spatial, pads, kernel, stride, dilation) -> tuple[int, ...]:
    """``floor((n + lo + hi - k_eff) / s) + 1`` per axis (GUIDE.md section 3)."""
    ndim = len(spatial)
    return tuple(
        (n + lo + hi - d * (k - 1) - 1) // s + 1
        for n, (lo, hi), k, s, d in zip(
            spatial, pads, kernel, _tup(stride, ndim), _tup(dilation, ndim)
        )
    )


def conv_reference(
    x,
    w,
    b=None,
    *,
    stride=1,
    padding="valid",
    dilation=1,
    groups=1,
    padding_mode="zeros",
    flip=False,
    tiles=None,
    local=False,
):
    """float64 brute force, one output position at a time, straight from the definition:
    ``y[n, o, j] = b[o] + sum_{c, p} W(j)[o, c, p] * x_pad[n, c, j*s + p*d]``.

    ``W(j)`` is ``w`` (shape ``(O, C/groups, *kernel)``) for an ordinary convolution;
    with ``local=True`` ``w`` has shape ``(O, C/groups, *kernel, *out)`` and ``W(j) =
    w[..., j]`` (``b`` may then be ``(O, *out)``); with ``tiles`` ``w`` has shape ``(O,
    C/groups, *kernel, *tiles)`` and ``W(j) = w[..., j mod tiles]``. ``flip`` reverses the
    kernel axes (true convolution). Returns a float64 array ``(N, O, *out)``.
    """
    x, w = np.asarray(x, dtype=np.float64), np.asarray(w, dtype=np.float64)
    ndim = x.ndim - 2
    stride, dilation = _tup(stride, ndim), _tup(dilation, ndim)
    kernel = w.shape[2 : 2 + ndim]
    pads = resolve(padding, x.shape[2:], kernel, stride, dilation)
    xp = np.pad(x, [(0, 0), (0, 0), *pads], mode=NP_MODES[padding_mode])
    if flip:
        w = np.flip(w, axis=tuple(range(2, 2 + ndim)))
    out = output_size(x.shape[2:], pads, kernel, stride, dilation)
    if tiles is not None:
        tiles = _tup(tiles, ndim)

        def kernel_at(j):
            return w[(..., *(i % t for i, t in zip(j, tiles)))]
    elif local:

        def kernel_at(j):
            return w[(..., *j)]
    else:

        def kernel_at(j):
            return w

    n, c_out, per_group = x.shape[0], w.shape[0], w.shape[1]
    og = c_out // groups
    axes = list(range(1, 2 + ndim))
    y = np.zeros((n, c_out, *out))
    for j in itertools.product(*map(range, out)):
        idx = np.ix_(*(np.arange(k) * d + i * s for k, d, s, i in zip(kernel, dilation, stride, j)))
        window = xp[(slice(None), slice(None), *idx)]
        kern = kernel_at(j)
        for g in range(groups):
            y[(slice(None), slice(g * og, (g + 1) * og), *j)] = np.tensordot(
                window[:, g * per_group : (g + 1) * per_group],
                kern[g * og : (g + 1) * og],
                axes=(axes, axes),
            )
    if b is not None:
        b = np.asarray(b, dtype=np.float64)
        y += b.reshape(c_out, *(1,) * ndim) if b.ndim == 1 else b
    return y


def pool_out(n: int, lo: int, hi: int, k: int, s: int, d: int, ceil_mode: bool) -> int:
    """Windows along one axis; in ceil mode a window starting in the right padding is
    dropped (PyTorch's rule, GUIDE.md section 3)."""
    span = n + lo + hi - (d * (k - 1) + 1)
    if not ceil_mode:
        return span // s + 1
    out = math.ceil(span / s) + 1
    return out - 1 if (out - 1) * s >= n + lo else out


def pool_reference(x, kind, kernel, stride, padding, dilation, ceil_mode, p=2.0):
    """float64 pooling by brute force: ``(y, out)``, with ``y = None`` if some window holds
    no input element. ``kind``: ``"max"``, ``"avg_incl"`` (divide by the window clipped to
    the padded input), ``"avg_excl"`` (by the real elements), ``"lp"`` or ``"soft"``."""
    x = x.detach().double().numpy()
    pads = resolve(padding, x.shape[2:], kernel, stride, dilation)
    outs = [
        pool_out(n, lo, hi, k, s, d, ceil_mode)
        for n, (lo, hi), k, s, d in zip(x.shape[2:], pads, kernel, stride, dilation, strict=True)
    ]
    y = np.zeros(x.shape[:2] + tuple(outs))
    for j in itertools.product(*map(range, outs)):
        # Input index of every tap per axis, and where it falls: input, padding or beyond.
        idx = [
            np.arange(k) * d + jj * s - lo
            for jj, k, s, d, (lo, _) in zip(j, kernel, stride, dilation, pads, strict=True)
        ]
        real = [(i >= 0) & (i < n) for i, n in zip(idx, x.shape[2:], strict=True)]
        inpad = [
            (i >= -lo) & (i < n + hi) for i, n, (lo, hi) in zip(idx, x.shape[2:], pads, strict=True)
        ]
        if not all(r.any() for r in real):
            return None, outs
        sel = x[(..., *np.ix_(*[i[r] for i, r in zip(idx, real, strict=True)]))]
        vals = sel.reshape(*x.shape[:2], -1)
        if kind == "max":
            v = vals.max(-1)
        elif kind in ("avg_incl", "avg_excl"):
            count = math.prod(int(m.sum()) for m in inpad) if kind == "avg_incl" else vals.shape[-1]
            v = vals.sum(-1) / count
        elif kind == "lp":
            v = (np.abs(vals) ** p).sum(-1) ** (1 / p)
        else:  # soft: sum softmax(window) * window
            e = np.exp(vals - vals.max(-1, keepdims=True))
            v = (e / e.sum(-1, keepdims=True) * vals).sum(-1)
        y[(slice(None), slice(None), *j)] = v
    return torch.from_numpy(y), outs


def torch_reference(x, w, b, *, stride, padding, dilation, groups, padding_mode, flip):
    """PyTorch's own F.pad + conv{1,2,3}d on the explicitly padded input (for gradients)."""
    ndim = x.dim() - 2
    stride, dilation = _tup(stride, ndim), _tup(dilation, ndim)
    pads = resolve(padding, x.shape[2:], w.shape[2:], stride, dilation)
    flat = [a for lo_hi in reversed(pads) for a in lo_hi]
    xp = F.pad(x, flat, mode="constant" if padding_mode == "zeros" else padding_mode)
    if flip:
        w = w.flip(tuple(range(2, w.dim())))
    conv = (F.conv1d, F.conv2d, F.conv3d)[ndim - 1]
    return conv(xp, w, b, stride, 0, dilation, groups)


def rel_err(a: torch.Tensor, ref, floor: float = 1.0) -> float:
    """max |a - ref| / max |ref|, in float64: the error relative to the result's scale.

    Rounding error scales with the magnitude of the summed terms, not of the sum, so the
    scale is floored at that of the tests' inputs (standard normal, O(1)): a result that
    cancels to nearly zero, or is exactly zero (every window in zero padding), is then
    compared absolutely instead of dividing rounding noise by a tiny number."""
    a = a.detach().double().cpu()
    ref = torch.as_tensor(ref, dtype=torch.float64).cpu()
    if a.shape != ref.shape:
        raise AssertionError(f"shape {tuple(a.shape)} != reference {tuple(ref.shape)}")
    scale = ref.abs().max().item() if ref.numel() else 0.0
    return (a - ref).abs().max().item() / max(scale, floor) if a.numel() else 0.0


def _tup(v, n):
    return (v,) * n if isinstance(v, int) else tuple(v)


def transposed_sizes(padding, m, kernel, stride, dilation):
    """Per axis, every size ``n`` (scanned one by one) whose convolution has ``m`` outputs:
    the output sizes a transposed convolution may have, straight from the table above."""
    ndim = len(m)
    entries = padding if isinstance(padding, tuple) else (padding,) * ndim
    sizes = []
    for e, mm, k, s, d in zip(entries, m, kernel, _tup(stride, ndim), _tup(dilation, ndim)):
        k_eff = d * (k - 1) + 1
        found = []
        for n in range(0, (mm + 1) * s + k_eff + 1):
            lo, hi = pads_from_rule(e, n, k, s, d)
            if n + lo + hi >= k_eff and (n + lo + hi - k_eff) // s + 1 == mm:
                found.append(n)
        sizes.append(found)
    return sizes


def conv_transpose_reference(
    y, w, b=None, *, out, stride=1, padding="valid", dilation=1, groups=1, flip=False
):
    """float64 brute force of the transposed convolution to spatial size ``out``, one input
    position at a time, straight from the scatter definition: ``x_pad[n, c, j*s + p*d] +=
    w[o, c, p] * y[n, o, j]`` (``w`` in PyTorch's layout ``(O, C/groups, *kernel)``), then
    the padding, resolved at ``out`` by the table above, cut off. Positions past the padded
    grid's end (``output_padding`` beyond the stride) stay zero. Returns ``(N, C, *out)``."""
    y, w = np.asarray(y, dtype=np.float64), np.asarray(w, dtype=np.float64)
    ndim = y.ndim - 2
    stride, dilation = _tup(stride, ndim), _tup(dilation, ndim)
    kernel = w.shape[2:]
    if flip:
        w = np.flip(w, axis=tuple(range(2, 2 + ndim)))
    pads = resolve(padding, out, kernel, stride, dilation)
    n, o, per_group = y.shape[0], w.shape[0], w.shape[1]
    og = o // groups
    reach = [
        max(n_ + lo + hi, (m - 1) * s + d * (k - 1) + 1)
        for n_, (lo, hi), m, k, s, d in zip(out, pads, y.shape[2:], kernel, stride, dilation)
    ]
    grid = np.zeros((n, groups * per_group, *reach))
    for j in itertools.product(*map(range, y.shape[2:])):
        idx = np.ix_(*(np.arange(k) * d + i * s for k, d, s, i in zip(kernel, dilation, stride, j)))
        for g in range(groups):
            # (N, O/g) x (O/g, C/g, *k) -> (N, C/g, *k)
            term = np.tensordot(
                y[(slice(None), slice(g * og, (g + 1) * og), *j)], w[g * og : (g + 1) * og], 1
            )
            grid[(slice(None), slice(g * per_group, (g + 1) * per_group), *idx)] += term
    crop = tuple(slice(lo, lo + n_) for n_, (lo, _) in zip(out, pads))
    x = np.zeros((n, groups * per_group, *out))
    inside = grid[(slice(None), slice(None), *crop)]
    x[(slice(None), slice(None), *(slice(0, s) for s in inside.shape[2:]))] = inside
    if b is not None:
        x += np.asarray(b, dtype=np.float64).reshape(-1, *(1,) * ndim)
    return x
