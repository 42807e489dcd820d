"""Convolution sweeps: anyconv's ``auto`` and ``fft`` against PyTorch's native kernels,
``fft-conv-pytorch`` and SciPy, side by side in one run."""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

import anyconv
from benchmarks.timing import forward_backward, forward_only, median_time, median_times

TORCH_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}

SWEEPS = {
    "2d": dict(batch=8, channels=16, size=(128, 128), kernels=(1, 3, 5, 7, 9, 11, 15, 21, 31)),
    "1d": dict(batch=8, channels=16, size=(4096,), kernels=(3, 7, 15, 31, 63, 127, 255)),
    "3d": dict(batch=4, channels=8, size=(16, 32, 32), kernels=(1, 3, 5, 7, 9)),
}
QUICK = {"2d": (3, 11, 31), "1d": (7, 63, 255), "3d": (3, 9)}


def _peer_fft_conv():
    try:
        from fft_conv_pytorch import fft_conv
    except ImportError:
        return None
    return fft_conv


def _anyconv(algorithm: str, **kwargs):
    """``(x, w) -> anyconv.conv(x, w, algorithm=algorithm, **kwargs)``."""
    return functools.partial(_call, algorithm=algorithm, **kwargs)


def _call(x: torch.Tensor, w: torch.Tensor, **kwargs) -> torch.Tensor:
    return anyconv.conv(x, w, **kwargs)


def rel_error(y: torch.Tensor, ref: torch.Tensor) -> float:
    return ((y.double() - ref).abs().max() / ref.abs().max()).item()


def conv_sweep(name: str, *, quick: bool, repeat: int, device: str) -> list[dict]:
    """One row per kernel size: times of every contender (forward+backward and forward)
    and float32 errors against a float64 reference."""
    cfg = SWEEPS[name]
    ndim = len(cfg["size"])
    peer = _peer_fft_conv()
    rows = []
    for k in QUICK[name] if quick else cfg["kernels"]:
        g = torch.Generator().manual_seed(k)
        x = torch.randn(cfg["batch"], cfg["channels"], *cfg["size"], generator=g).to(device)
        w = torch.randn(cfg["channels"], cfg["channels"], *(k,) * ndim, generator=g).to(device)
        w /= math.sqrt(w[0].numel())
        pads = anyconv.resolve_padding(cfg["size"], k, padding="same")
        symmetric = all(lo == hi for lo, hi in pads)
        contenders = {label: _anyconv(label, padding="same") for label in ("native", "auto", "fft")}
        if peer is not None and symmetric:
            contenders["fft-conv-pytorch"] = functools.partial(peer, padding=k // 2)
        row = {"sweep": name, "kernel": k, "shape": list(x.shape), "device": device}
        # float64 reference one sample at a time: PyTorch's float64 CPU kernels unfold the
        # whole batch into columns (16 GB at k=31), above anyconv's memory limit here
        with torch.no_grad():
            ref = torch.cat(
                [
                    anyconv.conv(s.double(), w.double(), padding="same", algorithm="native")
                    for s in x.split(1)
                ]
            )
        _time_side_by_side(row, contenders, x, w, repeat, device)
        for label, fn in contenders.items():
            with torch.no_grad():
                row[f"{label}_rel_error"] = rel_error(fn(x, w), ref)
        with torch.no_grad():
            y64 = anyconv.conv(x.double(), w.double(), padding="same", algorithm="fft")
        row["fft_float64_rel_error"] = rel_error(y64, ref)
        rows.append(row)
    return rows


def depthwise(*, repeat: int, device: str) -> list[dict]:
    """Depthwise 2-D, 64 channels, 64x64, k=31 (batch 8)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 64, 64, 64, generator=g).to(device)
    w = torch.randn(64, 1, 31, 31, generator=g).to(device) / 31
    row = {"bench": "depthwise", "shape": list(x.shape), "kernel": 31, "device": device}
    contenders = {
        label: _anyconv(label, padding="same", groups=64) for label in ("native", "auto", "fft")
    }
    _time_side_by_side(row, contenders, x, w, repeat, device)
    return [row]


def _time_side_by_side(row: dict, contenders: dict, x, w, repeat: int, device: str) -> None:
    """``row[label_fwd_bwd_s]`` and ``row[label_fwd_s]`` for every contender, timed in turn
    within each round (:func:`benchmarks.timing.median_times`)."""
    for suffix, step in (("fwd_bwd_s", forward_backward), ("fwd_s", forward_only)):
        runs = {label: step(fn, x, w) for label, fn in contenders.items()}
        for label, seconds in median_times(runs, repeat, device=device).items():
            row[f"{label}_{suffix}"] = seconds


def scipy_single_channel(*, repeat: int) -> list[dict]:
    """One 2-D image, one kernel: ``scipy.signal`` against anyconv (forward only, CPU)."""
    try:
        import scipy.signal
    except ImportError:
        return []
    rows = []
    for k in (5, 31):
        rng = torch.Generator().manual_seed(k)
        x = torch.randn(512, 512, generator=rng, dtype=torch.float64)
        w = torch.randn(k, k, generator=rng, dtype=torch.float64)
        xn, wn = x.numpy(), w.numpy()
        row = {"bench": "scipy", "kernel": k, "shape": [512, 512], "dtype": "float64"}
        row["scipy_correlate_s"] = median_time(
            functools.partial(scipy.signal.correlate, xn, wn, mode="same"), repeat
        )
        row["scipy_fftconvolve_s"] = median_time(
            functools.partial(scipy.signal.fftconvolve, xn, wn[::-1, ::-1], mode="same"), repeat
        )
        for label in ("auto", "fft"):
            row[f"{label}_s"] = median_time(
                forward_only(_anyconv(label, padding="same"), x[None, None], w[None, None]), repeat
            )
        want = scipy.signal.correlate(xn, wn, mode="same", method="direct")
        got = anyconv.conv(x[None, None], w[None, None], padding="same", algorithm="fft")[0, 0]
        row["fft_rel_error_vs_scipy"] = float(abs(got.numpy() - want).max() / abs(want).max())
        rows.append(row)
    return rows


def overlap_save(*, repeat: int, device: str) -> list[dict]:
    """Inputs much larger than the kernel: anyconv's ``fft`` (which cuts them into
    overlap-save blocks) against one transform of the whole input (``blocks=False``), and,
    for single channels, SciPy's ``oaconvolve`` (overlap-add) and ``fftconvolve``."""
    from anyconv.functional.algorithms.fft import conv_fft
    from anyconv.padding import conv_spec

    try:
        import scipy.signal
    except ImportError:
        scipy = None
    cases = [
        ((1, 1, 1 << 20), 255),
        ((4, 4, 1 << 18), 127),
        ((1, 3, 1024, 1024), 15),
        ((2, 8, 512, 512), 21),
    ]
    rows = []
    for shape, k in cases:
        ndim = len(shape) - 2
        g = torch.Generator().manual_seed(k)
        x = torch.randn(*shape, generator=g).to(device)
        w = (torch.randn(shape[1], shape[1], *(k,) * ndim, generator=g) / k).to(device)
        spec = conv_spec(
            x.shape, w.shape, stride=1, padding="same", dilation=1, groups=1, padding_mode="zeros"
        )
        row = {"bench": "overlap_save", "shape": list(shape), "kernel": k, "device": device}
        for label, blocks in (("blocks", True), ("whole", False)):
            fn = functools.partial(_fft_direct, spec=spec, blocks=blocks)
            row[f"{label}_fwd_bwd_s"] = median_time(
                forward_backward(fn, x, w), repeat, device=device
            )
            row[f"{label}_fwd_s"] = median_time(forward_only(fn, x, w), repeat, device=device)
        if scipy is not None and shape[:2] == (1, 1) and device == "cpu":
            xn, wn = x[0, 0].double().numpy(), w[0, 0].double().numpy()[::-1].copy()
            for name in ("oaconvolve", "fftconvolve"):
                run = functools.partial(getattr(scipy.signal, name), xn, wn, mode="same")
                row[f"scipy_{name}_fwd_s"] = median_time(run, repeat)
            fn64 = functools.partial(_fft_direct, spec=spec, blocks=True)
            row["blocks_float64_fwd_s"] = median_time(
                forward_only(fn64, x.double(), w.double()), repeat
            )
        with torch.no_grad():
            ref = conv_fft(x.double(), w.double(), None, spec, blocks=False)
            row["blocks_rel_error"] = rel_error(conv_fft(x, w, None, spec), ref)
        rows.append(row)
    return rows


def _fft_direct(x: torch.Tensor, w: torch.Tensor, *, spec, blocks: bool) -> torch.Tensor:
    from anyconv.functional.algorithms.fft import conv_fft

    return conv_fft(x, w, None, spec, blocks=blocks)


def template_matching(*, repeat: int) -> list[dict]:
    """Normalized cross-correlation of one 512x512 image, float64, forward only:
    ``anyconv.analysis.match_template`` against ``skimage.feature.match_template``."""
    try:
        import skimage.feature
    except ImportError:
        return []
    from anyconv.analysis import match_template

    rows = []
    for k in (5, 31):
        g = torch.Generator().manual_seed(k)
        image = torch.rand(512, 512, generator=g, dtype=torch.float64)
        template = image[100 : 100 + k, 200 : 200 + k].clone()
        xn, tn = image.numpy(), template.numpy()
        row = {"bench": "match_template", "kernel": k, "shape": [512, 512], "dtype": "float64"}
        row["skimage_s"] = median_time(
            functools.partial(skimage.feature.match_template, xn, tn), repeat
        )
        x, t = image[None, None], template[None]
        row["anyconv_s"] = median_time(functools.partial(match_template, x, t), repeat)
        got = match_template(x, t)[0].numpy()
        row["max_abs_diff"] = float(abs(got - skimage.feature.match_template(xn, tn)).max())
        rows.append(row)
    return rows
