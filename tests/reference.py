"""Independent references for the tests: float64 NumPy brute force and PyTorch's own ops.

Nothing here imports anyconv: the padding table of GUIDE.md section 3 is written out again
from the text, borders come from ``np.pad`` and the sum is a loop over output positions.
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
    entries = padding if isinstance(padding, tuple) else (padding,) * len(spatial)
    return tuple(
        pads_from_rule(e, n, k, s, d)
        for e, n, k, s, d in zip(entries, spatial, kernel, stride, dilation)
    )


def conv_reference(x, w, b, *, stride, padding, dilation, groups, padding_mode, flip):
    """float64 brute force: one output position at a time, straight from the definition."""
    x, w = np.asarray(x, dtype=np.float64), np.asarray(w, dtype=np.float64)
    ndim = x.ndim - 2
    stride, dilation = _tup(stride, ndim), _tup(dilation, ndim)
    kernel = w.shape[2:]
    pads = resolve(padding, x.shape[2:], kernel, stride, dilation)
    xp = np.pad(x, [(0, 0), (0, 0), *pads], mode=NP_MODES[padding_mode])
    if flip:
        w = np.flip(w, axis=tuple(range(2, w.ndim)))
    out = [
        (p - d * (k - 1) - 1) // s + 1 for p, k, s, d in zip(xp.shape[2:], kernel, stride, dilation)
    ]
    n, c_out, per_group = x.shape[0], w.shape[0], w.shape[1]
    y = np.zeros((n, c_out, *out))
    for o in range(c_out):
        g = o // (c_out // groups)
        chans = slice(g * per_group, (g + 1) * per_group)
        for j in itertools.product(*map(range, out)):
            idx = np.ix_(
                *(np.arange(k) * d + jj * s for k, d, s, jj in zip(kernel, dilation, stride, j))
            )
            window = xp[:, chans][(slice(None), slice(None), *idx)]
            y[(slice(None), o, *j)] = np.tensordot(window, w[o], axes=ndim + 1)
    if b is not None:
        y += np.asarray(b, dtype=np.float64).reshape(-1, *(1,) * ndim)
    return y


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
