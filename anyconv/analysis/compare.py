"""Run every algorithm on one problem: agreement with a float64 reference, and timings."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from anyconv.functional.algorithms import list_algorithms
from anyconv.functional.algorithms.matrix import MATRIX_MAX_NONZEROS
from anyconv.functional.conv import conv


def _median_seconds(fn, repeat: int, device: torch.device) -> float:
    times = []
    for _ in range(repeat):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def compare_algorithms(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    *,
    algorithms: Sequence[str] | None = None,
    repeat: int = 3,
    on_row: Callable[[dict[str, Any]], None] | None = None,
    skip: Mapping[str, str] | None = None,
    budget: float | None = None,
    **conv_kwargs: Any,
) -> list[dict[str, Any]]:
    """Run ``conv`` with each algorithm; report its error and its median time.

    The reference is the ``"direct"`` algorithm in float64 (the definition, summed in
    double precision). Each algorithm runs once untimed (warm-up), then ``repeat`` times
    forward and ``repeat`` times forward + backward.

    Args:
        x: input ``(N, C_in, *spatial)``.
        weight: ``(C_out, C_in/groups, *kernel)``.
        bias: ``(C_out,)`` or ``None``.
        algorithms: names to run (default: every registered one except ``"auto"``); the
            matrix algorithm is skipped with a note when the problem is above its limit.
        repeat: timed repetitions (the median is reported).
        on_row: called with each row as soon as it is measured (to show progress).
        skip: ``{name: reason}``: algorithms not run, reported as skipped for the reason.
        budget: seconds of timed runs an algorithm should take, about: one whose warm-up
            forward + backward pass took longer than ``budget / (2 * repeat)`` is timed
            fewer times (at least once each way). ``None``: ``repeat`` times each.
        **conv_kwargs: ``stride``, ``padding``, ``dilation``, ``groups``, ``padding_mode``,
            ``flip`` as for :func:`anyconv.conv`.

    Returns:
        one dict per algorithm: ``algorithm``, ``shape`` (output shape), ``max_abs_error``
        and ``rel_error`` (against the float64 reference), ``forward_s`` and
        ``forward_backward_s`` (median seconds) and ``repeat`` (the timed runs each way),
        or ``skipped`` (the reason).

    Example:
        >>> rows = compare_algorithms(torch.randn(1, 2, 16, 16), torch.randn(3, 2, 3, 3),
        ...                           padding="same", repeat=1)
        >>> [r["algorithm"] for r in rows]
        ['native', 'direct', 'im2col', 'fft', 'matrix']
        >>> all(r["rel_error"] < 1e-5 for r in rows)
        True
    """
    names = list(algorithms) if algorithms is not None else list_algorithms()[1:]
    ref = conv(
        x.double(),
        weight.double(),
        None if bias is None else bias.double(),
        algorithm="direct",
        **conv_kwargs,
    )
    scale = max(ref.abs().max().item(), 1e-30) if ref.numel() else 1.0
    rows = []
    for name in names:
        if skip and name in skip:
            rows.append(dict(algorithm=name, skipped=skip[name]))
            if on_row is not None:
                on_row(rows[-1])
            continue
        try:
            y = conv(x, weight, bias, algorithm=name, **conv_kwargs)
        except ValueError as error:
            if name != "matrix" or "nonzeros" not in str(error):
                raise
            rows.append(dict(algorithm=name, skipped=f"above {MATRIX_MAX_NONZEROS:,} nonzeros"))
            if on_row is not None:
                on_row(rows[-1])
            continue
        err = (y.double() - ref).abs().max().item() if y.numel() else 0.0
        leaves = [t.detach().requires_grad_() for t in (x, weight)]

        def forward(name=name):
            with torch.no_grad():
                conv(x, weight, bias, algorithm=name, **conv_kwargs)

        def forward_backward(name=name, leaves=leaves):
            conv(*leaves, bias, algorithm=name, **conv_kwargs).sum().backward()

        warm_up = _median_seconds(forward_backward, 1, x.device)  # caches, allocator
        runs = repeat
        if budget is not None and warm_up * 2 * repeat > budget:
            runs = max(1, min(repeat, int(budget / (2 * warm_up))))
        rows.append(
            dict(
                algorithm=name,
                shape=tuple(y.shape),
                max_abs_error=err,
                rel_error=err / scale,
                forward_s=_median_seconds(forward, runs, x.device),
                forward_backward_s=_median_seconds(forward_backward, runs, x.device),
                repeat=runs,
            )
        )
        if on_row is not None:
            on_row(rows[-1])
    return rows
