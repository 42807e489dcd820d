"""``algorithm="auto"``: pick the implementation by a cost model, or by measuring.

The candidates are the registered algorithms that carry a cost hook
(:attr:`~anyconv.functional.algorithms.registry.Algorithm.cost`): PyTorch's kernels
(:func:`native_cost`) and the FFT path (:func:`fft_cost`). ``direct``, ``im2col`` and
``matrix`` carry none by design: they spell out the operator's maths (the definition, the
column matrix, the explicit matrix) and never beat the native kernels, which compute the same
direct sum in tuned code. The candidate with the least cost runs (the first registered on a
tie); a candidate that refuses the problem (its capability check, or the memory limit) is
passed over.

The cost model compares the multiply-adds of the direct sum (what PyTorch's kernels do)
with those of the FFT path (transforms plus the per-frequency channel contraction). Native
kernels reach a high fraction of the machine's peak when each group is a sizeable channel
GEMM, and a small one when it is not (depthwise, a single channel), so the factor the FFT
must save before it wins grows with the per-group channel product ``C/g · O/g``:
``scale · (C/g · O/g) ** power``, capped (:data:`FFT_THRESHOLD`). The factors differ per
device type, per number of spatial axes and between training (a backward pass will run)
and inference: PyTorch's CPU kernels are far better tuned in 2-D than in 1-D and 3-D, and
their backward passes are relatively slow for small channel counts.

The CPU figures are fitted to the crossovers measured on a 2-core x86 machine (forward plus
backward / forward alone): in 2-D about 0.5 / above 2 for depthwise, 0.55 / 2 for 4x4
channels, 7.5 / 6.5 for 16x16 and 6 / 4.5 for 32x32; in 1-D 2.3 / 2.9 for 16x16 and
3.3 / 2.6 for 64x64; in 3-D 2.1 / 7 for 8x8 and 9.5 / 8.5 for 16x16. Where a fit and a
measurement disagree the fit errs towards PyTorch's kernels.

A transposed convolution (the adjoint) is chosen the same way, among the candidates that
have a transposed form, by its convolution's costs: the two do the same multiply-adds and
the same transforms.

Measured mode (:func:`measure`), like cuDNN's benchmark mode or SciPy's
``choose_conv_method(measure=True)``, times the candidates once per problem and caches the
winner for the rest of the process.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator

import torch

from anyconv.functional.algorithms import registry
from anyconv.functional.algorithms.fft.plan import transform_sizes
from anyconv.functional.algorithms.registry import Algorithm, Problem
from anyconv.padding import ConvSpec

FFT_THRESHOLD = {
    "cpu": {
        "train": ((1.12, 0.13, 32.0), (0.5, 0.49, 6.5), (0.033, 1.0, 32.0)),
        "infer": ((2.8, 0.0, 32.0), (4.0, 0.1, 32.0), (2.8, 0.2, 32.0)),
    },
    "cuda": {
        "train": ((1.0, 0.7, 64.0),) * 3,
        "infer": ((1.0, 0.7, 64.0),) * 3,
    },
}
"""``(scale, power, cap)`` per device type, mode (``"train"`` when a gradient will be taken,
else ``"infer"``) and number of spatial axes (1, 2, 3): the FFT path is chosen when the
direct sum needs more than ``min(scale · (C/g · O/g) ** power, cap)`` times its model
flops. The CUDA figures are a conservative guess (cuDNN is efficient at every kernel size),
not a measurement; other device types use them too."""

DTYPE_SCALE = {"cpu": {torch.float64: (1.0, 0.04, 0.04)}}
"""Factor on the threshold per device type, dtype and number of spatial axes (1, 2, 3).
PyTorch's CPU kernels for float64 in 2-D and 3-D bypass oneDNN and run 10-20x slower than
for float32, while the FFT path slows by less than 2x (measured: a 16→16 3x3 conv on
8x64x64 takes 13.6 ms natively in float64 against 0.8 ms in float32)."""

MIN_FFT_FLOPS = 1e7
"""Below this many direct-sum flops the FFT path's fixed costs (planning, several kernel
launches, Python) dominate, and PyTorch's kernel is chosen whatever the ratio. It also keeps
small causal layers exactly causal: an FFT leaks rounding noise (1e-16) across time."""

_state = {"measure": False}
_decisions: dict[tuple, str] = {}


def direct_flops(x_shape, weight_shape, spec: ConvSpec) -> float:
    """Multiply-adds (x2) of the direct sum: ``2 · N · O · C/g · prod(kernel) · prod(out)``."""
    return 2.0 * x_shape[0] * math.prod(weight_shape) * math.prod(spec.out_shape)


def fft_flops(x_shape, weight_shape, spec: ConvSpec) -> float:
    """Model flops of the FFT path: ``2.5 F log2 F`` per real transform of ``F`` points, for
    input, kernel and output planes, plus a complex multiply-add (8 flops) per channel pair
    and frequency (``F/2`` of them for real signals)."""
    n, c = x_shape[:2]
    o, per_group = weight_shape[:2]
    padding = spec.padding if spec.padding_mode == "zeros" else tuple((0, 0) for _ in spec.padding)
    spatial = [
        m + (0 if spec.padding_mode == "zeros" else lo + hi)
        for m, (lo, hi) in zip(x_shape[2:], spec.padding, strict=True)
    ]
    f = math.prod(transform_sizes(spatial, weight_shape[2:], spec.dilation, padding))
    planes = n * c + o * per_group + n * o
    return 2.5 * planes * f * math.log2(max(f, 2)) + 8.0 * n * o * per_group * f / 2


def native_cost(problem: Problem) -> float:
    """Cost hook of the native kernels: the direct sum's flops divided by how many times more
    flops per second they reach than the FFT path (the fitted :data:`FFT_THRESHOLD` times
    :data:`DTYPE_SCALE`), i.e. in the FFT model's flops."""
    spec, ndim = problem.spec, len(problem.x_shape) - 2
    table = FFT_THRESHOLD.get(problem.device.type, FFT_THRESHOLD["cuda"])
    scale, power, cap = table["train" if problem.training else "infer"][ndim - 1]
    o, per_group = problem.weight_shape[:2]
    gemm = per_group * o // spec.groups
    factors = DTYPE_SCALE.get(problem.device.type, {}).get(problem.dtype, (1.0, 1.0, 1.0))
    efficiency = min(scale * gemm**power, cap) * factors[ndim - 1]
    return direct_flops(problem.x_shape, problem.weight_shape, spec) / efficiency


def fft_cost(problem: Problem) -> float:
    """Cost hook of the FFT path: its model flops (:func:`fft_flops`), or ``inf`` for
    problems below :data:`MIN_FFT_FLOPS`."""
    if direct_flops(problem.x_shape, problem.weight_shape, problem.spec) <= MIN_FFT_FLOPS:
        return math.inf
    return fft_flops(problem.x_shape, problem.weight_shape, problem.spec)


def choose(x: torch.Tensor, weight: torch.Tensor, spec: ConvSpec) -> str:
    """The name of the algorithm ``"auto"`` runs for this problem (``"native"`` or ``"fft"``).

    Example:
        >>> from anyconv.padding import conv_spec
        >>> x, w = torch.randn(8, 16, 128, 128), torch.randn(16, 16, 31, 31)
        >>> spec = conv_spec(x.shape, w.shape, stride=1, padding="same", dilation=1,
        ...                  groups=1, padding_mode="zeros")
        >>> choose(x, w, spec), choose(x, w[..., :3, :3], spec)
        ('fft', 'native')
    """
    return select(Problem.of(x, weight, spec)).name


def select(problem: Problem) -> Algorithm:
    """The candidate with the least model cost (or the fastest measured, within
    :func:`measure`) among those that accept the problem; cached per problem."""
    key = (problem, _state["measure"])
    if key in _decisions:
        return registry.ALGORITHMS[_decisions[key]]
    candidates = registry.candidates(problem)
    accepted = [a for a in candidates if registry.refusal(a, problem) is None]
    if not accepted:  # the caller's check (registry.prepare) explains the cheapest's refusal
        accepted = candidates
    if _state["measure"] and len(accepted) > 1:
        best = _measure_once(problem, accepted)
    else:
        best = min(accepted, key=lambda a: a.cost(problem))
    _decisions[key] = best.name
    return best


def _measure_once(problem: Problem, algorithms: list[Algorithm]) -> Algorithm:
    """Time each candidate (forward, and backward when gradients are wanted) once after a
    warm-up call, on random tensors of the problem's shapes; the fastest wins."""
    timings = {}
    device, grad = problem.device, problem.training
    x, weight = (
        torch.randn(shape, dtype=problem.dtype, device=device)
        for shape in (problem.operand_shape, problem.weight_shape)
    )
    for algorithm in algorithms:
        xs, ws = (t.requires_grad_(grad) for t in (x.clone(), weight.clone()))
        best = math.inf
        for _ in range(2):  # the first call warms caches and plans up
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            with torch.set_grad_enabled(grad):
                y = algorithm.runner(problem)(xs, ws, None, problem.spec)
                if grad:
                    y.sum().backward()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            best = time.perf_counter() - start
        timings[algorithm] = best
    return min(timings, key=timings.get)


@contextlib.contextmanager
def measure(enabled: bool = True) -> Iterator[None]:
    """Within this context ``algorithm="auto"`` times the candidates for each new problem
    (shapes, spec, dtype, device) and caches the fastest for the rest of the process.

    Example:
        >>> import anyconv
        >>> with anyconv.measure():
        ...     y = anyconv.conv(torch.randn(1, 2, 32), torch.randn(3, 2, 5))
    """
    previous = _state["measure"]
    _state["measure"] = enabled
    try:
        yield
    finally:
        _state["measure"] = previous


def clear_decisions() -> None:
    """Forget the cached choices (after changing :data:`FFT_THRESHOLD`, for instance)."""
    _decisions.clear()


def conv_auto(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, spec: ConvSpec
) -> torch.Tensor:
    """Run the algorithm :func:`select` picks for this problem."""
    return select(Problem.of(x, weight, spec)).run(x, weight, bias, spec)


def conv_transpose_auto(
    y: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, spec: ConvSpec
) -> torch.Tensor:
    """Run the transposed form of the algorithm :func:`select` picks for the transposed
    problem (its convolution's costs: the same multiply-adds and transforms)."""
    return select(Problem.of(y, weight, spec, transposed=True)).transpose(y, weight, bias, spec)
