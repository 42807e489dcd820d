"""Compiled training steps against eager ones: ``python -m benchmarks --only compiled``.

One training step (forward, cross-entropy, backward, SGD step) of a registered model, eager,
under ``torch.compile(model)`` and under ``anyconv.compile(model)`` (torch.compile with AOT
autograd's default partitioner, see :mod:`anyconv.interop`), from the same initial weights
on the same batch. The contenders run in rotating rounds (:func:`timed_rounds`) and the
ratios are medians of per-round ratios, so that a busy machine hits all of them alike.
Compilation (the first call) is timed apart.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

from benchmarks.timing import median_ratio, timed_rounds

CASES = [
    ("lenet5", (1, 28, 28), 64),
    ("allcnn", (3, 32, 32), 32),
    ("c3d", (1, 8, 32, 32), 8),  # auto runs the FFT path for some of its layers
]
QUICK = [("lenet5", (1, 28, 28), 64)]


def _step(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

    def run() -> None:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return run


def _own_inductor_cache() -> None:
    """Inductor's code cache in a folder of the benchmarks' own, unless
    ``TORCHINDUCTOR_CACHE_DIR`` names another than inductor's default: on the shared machine,
    compiling while other processes compiled into the common ``/tmp/torchinductor_USER``
    once loaded a half-written library ("file too short"). The folder is kept, so a second
    run reuses the compiled code. (Importing torch may already have set the variable to the
    default.)"""
    from torch._inductor.runtime.cache_dir_utils import default_cache_dir

    given = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    if given is None or os.path.abspath(given) == os.path.abspath(default_cache_dir()):
        own = os.path.join(tempfile.gettempdir(), "anyconv-benchmarks-inductor")
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = own


def _progress(message: str) -> None:
    """A line on stderr, so that a long run on a busy machine shows where it is."""
    print(f"[compiled] {message}", file=sys.stderr, flush=True)


def compiled_steps(quick: bool = False, repeat: int = 20, device: str = "cpu") -> list[dict]:
    """Per model: median milliseconds of an eager step and of both compiled steps, the
    compiled/eager ratios (< 1: compiled is faster) and the seconds of compilation."""
    import anyconv
    from anyconv.models import create_model

    _own_inductor_cache()
    rows = []
    for name, shape, batch in QUICK if quick else CASES:
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(batch, *shape, generator=gen).to(device)
        y = torch.randint(0, 10, (batch,), generator=gen).to(device)
        steps, compile_s = {}, {}
        for label, wrap in (
            ("eager", lambda m: m),
            ("torch.compile", torch.compile),
            ("anyconv.compile", anyconv.compile),
        ):
            torch.manual_seed(0)
            model = create_model(name, in_channels=shape[0], num_classes=10, input_size=shape[1:])
            step = _step(wrap(model.to(device)), x, y)
            start = time.perf_counter()
            step()  # compiles
            compile_s[label] = time.perf_counter() - start
            steps[label] = step
            _progress(f"{name}: first {label} step {compile_s[label]:.1f} s")
        rounds = timed_rounds(steps, repeat=repeat, warmup=2, device=device)
        _progress(f"{name}: {repeat} rounds done")
        row = {"model": name, "shape": (batch, *shape)}
        for label, times in rounds.items():
            row[f"{label}_step_s"] = sorted(times)[len(times) // 2]
        for label in ("torch.compile", "anyconv.compile"):
            row[f"{label} / eager"] = median_ratio(rounds, label, "eager")
            row[f"{label}_compile_s"] = compile_s[label]
        rows.append(row)
        _progress(
            f"{name}: eager {row['eager_step_s'] * 1e3:.1f} ms; compiled / eager: "
            f"torch.compile {row['torch.compile / eager']:.2f}, "
            f"anyconv.compile {row['anyconv.compile / eager']:.2f}"
        )
    return rows
