"""Transposed convolution: anyconv's ``conv_transpose`` with every algorithm against
PyTorch's ``conv_transpose{1,2,3}d``, side by side in one run."""

from __future__ import annotations

import functools
import math
import time

import torch
import torch.nn.functional as F

import anyconv
from anyconv.functional.algorithms import registry
from benchmarks.timing import forward_backward, forward_only, median_times

TORCH_TRANSPOSE = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
ALGORITHMS = ("native", "auto", "direct", "im2col", "fft", "matrix")
FAST = ("torch", "native", "auto", "fft")
"""Timed side by side in the same rounds; the others in rounds of their own."""

CASES = (
    # decoder upsampling (stride 2, PyTorch's padding for an output twice the input)
    dict(name="2d up", batch=8, c_in=32, c_out=16, size=(16, 16), kernel=4, stride=2, padding=1),
    dict(
        name="2d up",
        batch=8,
        c_in=32,
        c_out=16,
        size=(16, 16),
        kernel=3,
        stride=2,
        padding=1,
        output_padding=1,
    ),
    # stride 1 with growing kernels: where the FFT path may pay
    dict(name="2d", batch=4, c_in=16, c_out=16, size=(32, 32), kernel=3, stride=1, padding=1),
    dict(name="2d", batch=2, c_in=8, c_out=8, size=(48, 48), kernel=15, stride=1, padding=7),
    dict(name="2d", batch=2, c_in=8, c_out=8, size=(48, 48), kernel=31, stride=1, padding=15),
    dict(name="1d up", batch=8, c_in=16, c_out=16, size=(256,), kernel=8, stride=4, padding=2),
    dict(name="1d", batch=8, c_in=16, c_out=16, size=(1024,), kernel=63, stride=1, padding=31),
    dict(name="3d up", batch=2, c_in=8, c_out=8, size=(8, 8, 8), kernel=4, stride=2, padding=1),
)
QUICK = (0, 1, 4, 5)
"""The cases of ``--quick``."""
READABLE_MAX_MACS = 2e7
"""The readable algorithms (``direct``, ``im2col``, ``matrix``) are timed where a forward
pass has at most this many multiply-adds: above it one of their calls takes seconds to
minutes on a busy 2-core machine, and they say nothing new."""
MATRIX_MAX_ENTRIES = 5e5
"""The matrix, whose construction dominates its time, is timed up to this many entries."""


def _ours(algorithm: str, case: dict):
    options = {k: case[k] for k in ("stride", "padding") if k in case}
    options["output_padding"] = case.get("output_padding", 0)
    return functools.partial(anyconv.conv_transpose, algorithm=algorithm, **options)


def _torch(case: dict):
    ndim = len(case["size"])
    return functools.partial(
        TORCH_TRANSPOSE[ndim],
        stride=case["stride"],
        padding=case["padding"],
        output_padding=case.get("output_padding", 0),
    )


def transposed_sweep(*, quick: bool, repeat: int, device: str) -> list[dict]:
    """One row per case: forward+backward and forward times of PyTorch's conv_transpose and
    of every anyconv algorithm that accepts the problem (the matrix refuses large ones; the
    readable algorithms run up to :data:`READABLE_MAX_MACS`), and their float32 errors
    against a float64 reference."""
    rows = []
    for index, case in enumerate(CASES):
        if quick and index not in QUICK:
            continue
        ndim = len(case["size"])
        g = torch.Generator().manual_seed(index)
        x = torch.randn(case["batch"], case["c_in"], *case["size"], generator=g).to(device)
        w = torch.randn(case["c_in"], case["c_out"], *(case["kernel"],) * ndim, generator=g)
        w = (w / math.sqrt(w[:, 0].numel())).to(device)
        contenders = {"torch": _torch(case)}
        macs = x.numel() * w[0].numel()  # every input scatters C_out/g · kernel taps
        for algorithm in ALGORITHMS:
            fn = _ours(algorithm, case)
            if algorithm not in FAST and macs > READABLE_MAX_MACS:
                continue
            if algorithm == "matrix" and w.numel() * math.prod(case["size"]) > MATRIX_MAX_ENTRIES:
                continue
            if _accepts(fn, x, w):
                contenders[algorithm] = fn
        row = {
            "bench": "transposed",
            "case": case["name"],
            "shape": list(x.shape),
            "kernel": case["kernel"],
            "stride": case["stride"],
            "device": device,
        }
        # the fast contenders in rounds of their own, the readable algorithms (whose
        # memory traffic slows whatever runs next) in others, each with PyTorch's again
        groups = [
            [label for label in contenders if label in FAST],
            ["torch", *(label for label in contenders if label not in FAST)],
        ]
        # one thread on the CPU: its CPU seconds, which a busy machine's waits do not inflate
        cpu = device == "cpu" and torch.get_num_threads() == 1
        clock = time.process_time if cpu else time.perf_counter
        row["clock"] = "cpu" if cpu else "wall"
        for suffix, step in (("fwd_bwd_s", forward_backward), ("fwd_s", forward_only)):
            for group in groups:
                runs = {label: step(contenders[label], x, w) for label in group}
                timed = median_times(runs, repeat, device=device, clock=clock)
                for label, seconds in timed.items():
                    if label == "torch" and group is groups[1]:
                        row[f"torch_{suffix}_slow_rounds"] = seconds
                    else:
                        row[f"{label}_{suffix}"] = seconds
        with torch.no_grad():
            ref = _torch(case)(x.double(), w.double())
            for label, fn in contenders.items():
                y = fn(x, w).double()
                row[f"{label}_rel_error"] = ((y - ref).abs().max() / ref.abs().max()).item()
        row["auto_runs"] = _chosen(x, w, case)
        rows.append(row)
    return rows


def _accepts(fn, x: torch.Tensor, w: torch.Tensor) -> bool:
    """Whether the algorithm takes the problem (the matrix refuses above its nonzeros)."""
    try:
        with torch.no_grad():
            fn(x[:1], w)
    except ValueError:
        return False
    return True


def _chosen(x: torch.Tensor, w: torch.Tensor, case: dict) -> str:
    """The algorithm ``auto`` runs for the transposed problem with a gradient recorded."""
    spec = anyconv.padding.transposed_spec(
        tuple(x.shape),
        tuple(w.shape),
        stride=case["stride"],
        padding=case["padding"],
        output_padding=case.get("output_padding", 0),
    )
    problem = registry.Problem.of(x.requires_grad_(), w, spec, transposed=True)
    x.requires_grad_(False)
    return registry.get_algorithm("auto").resolve(problem).name
