"""Layer variants against the recipes people write by hand: locally connected vs
unfold + einsum, tiled vs an ordinary conv, SoftPool vs its plain (overflowing) formula."""

from __future__ import annotations

import statistics

import torch
import torch.nn.functional as F

import anyconv
from anyconv.functional.local import locally_connected
from anyconv.functional.pool import soft_pool
from anyconv.functional.tiled import tiled_conv
from benchmarks.timing import (
    forward_backward,
    forward_only,
    median_ratio,
    median_time,
    peak_memory,
    timed_rounds,
)


def unfold_einsum_locally_connected(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """The common recipe: ``F.unfold`` every patch, then one einsum with per-position
    weights ``(O, C, kh, kw, H_out, W_out)`` ("same" padding, stride 1, 2-D only)."""
    o, c, kh, kw, h, w = weight.shape
    cols = F.unfold(x, (kh, kw), padding=(kh // 2, kw // 2))  # (N, C*kh*kw, L)
    y = torch.einsum("nkl,okl->nol", cols, weight.reshape(o, c * kh * kw, h * w))
    return y.reshape(x.shape[0], o, h, w)


def local(*, repeat: int, device: str) -> list[dict]:
    """Locally connected 2-D: batch 32, 16->32 channels, 32x32, k=3, same padding."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 16, 32, 32, generator=g).to(device)
    w = torch.randn(32, 16, 3, 3, 32, 32, generator=g).to(device) / 12
    contenders = {
        "anyconv": lambda x, w: locally_connected(x, w, padding="same"),
        "unfold+einsum": unfold_einsum_locally_connected,
    }
    row = {"bench": "locally_connected", "shape": list(x.shape), "device": device}
    ref = locally_connected(x.double(), w.double(), padding="same")
    for label, fn in contenders.items():
        run = forward_backward(fn, x, w)
        row[f"{label}_fwd_bwd_s"] = median_time(run, repeat, device=device)
        row[f"{label}_peak_bytes"] = peak_memory(run, device=device)
        with torch.no_grad():
            row[f"{label}_rel_error"] = (
                (fn(x, w).double() - ref).abs().max() / ref.abs().max()
            ).item()
    return [row]


def tiled(*, repeat: int, device: str) -> list[dict]:
    """Tiled 2-D with T=2 against an ordinary conv of the same shape, same padding: batch 32,
    16->32 channels, 32x32, k=3; and the conv sweep's shape (batch 8, 16->16, 128x128) for
    k = 3, 5, 7, 9, 11."""
    cases = [((32, 16, 32, 32), 32, 3)] + [((8, 16, 128, 128), 16, k) for k in (3, 5, 7, 9, 11)]
    rows = []
    for shape, out_channels, k in cases:
        g = torch.Generator().manual_seed(k)
        x = torch.randn(*shape, generator=g).to(device)
        w_tiled = torch.randn(out_channels, shape[1], k, k, 2, 2, generator=g).to(device)
        w_tiled /= 4 * k
        w_conv = w_tiled[..., 0, 0].contiguous()
        row = {"bench": "tiled", "shape": list(shape), "kernel": k, "tiles": 2, "device": device}
        contenders = {
            "tiled": forward_backward(
                lambda x, w: tiled_conv(x, w, tiles=2, padding="same"), x, w_tiled
            ),
            "conv": forward_backward(lambda x, w: anyconv.conv(x, w, padding="same"), x, w_conv),
        }
        rounds = timed_rounds(contenders, repeat, device=device)
        for label, seconds in rounds.items():
            row[f"{label}_fwd_bwd_s"] = statistics.median(seconds)
        row["tiled_over_conv_per_round"] = median_ratio(rounds, "tiled", "conv")
        rows.append(row)
    return rows


def plain_soft_pool(x: torch.Tensor) -> torch.Tensor:
    """``avg_pool(x·eˣ) / avg_pool(eˣ)``: the formula as published, overflows for large x."""
    e = torch.exp(x)
    return F.avg_pool2d(x * e, 2) / F.avg_pool2d(e, 2)


def softpool(*, repeat: int, device: str) -> list[dict]:
    """SoftPool 2x2 on (32, 64, 64, 64) float32 against the plain formula, forward alone
    (inference) and forward+backward, side by side in rotating rounds.

    ``anyconv_shifted``: inputs of scale 30, beyond the range where the unshifted sums are
    exact (``|x| <= 43.6``), so every window is shifted by its maximum; the plain formula
    overflows there (its time is taken on the ordinary inputs).
    """
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 64, 64, 64, generator=g).to(device)
    wide = x * 30

    def pool(v: torch.Tensor) -> torch.Tensor:
        return soft_pool(v, 2)

    row = {"bench": "softpool", "shape": list(x.shape), "device": device}
    contenders = {
        "anyconv_fwd": forward_only(pool, x),
        "plain_fwd": forward_only(plain_soft_pool, x),
        "anyconv_shifted_fwd": forward_only(pool, wide),
        "anyconv_fwd_bwd": forward_backward(pool, x),
        "plain_fwd_bwd": forward_backward(plain_soft_pool, x),
        "anyconv_shifted_fwd_bwd": forward_backward(pool, wide),
    }
    rounds = timed_rounds(contenders, repeat, device=device)
    for label, seconds in rounds.items():
        row[f"{label}_s"] = statistics.median(seconds)
    for ours, plain in [
        ("anyconv_fwd", "plain_fwd"),
        ("anyconv_shifted_fwd", "plain_fwd"),
        ("anyconv_fwd_bwd", "plain_fwd_bwd"),
        ("anyconv_shifted_fwd_bwd", "plain_fwd_bwd"),
    ]:
        row[f"{ours}_over_plain_per_round"] = median_ratio(rounds, ours, plain)
    big = torch.tensor([[[[1000.0, -1000.0], [999.0, 0.0]]]], device=device)
    row["anyconv_finite_at_1000"] = bool(torch.isfinite(soft_pool(big, 2)).all())
    row["plain_finite_at_1000"] = bool(torch.isfinite(plain_soft_pool(big)).all())
    return [row]
