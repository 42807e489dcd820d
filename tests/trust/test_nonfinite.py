"""NaN and ±inf inputs reach only the outputs whose window touches them, for every algorithm:
the output and both gradients carry the direct sum's non-finite pattern (issue 17.2)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import conv_reference
from strategies import conv_options, conv_specs, make_tensors

import anyconv

ALGORITHMS = anyconv.list_algorithms()
NAN, INF = float("nan"), float("inf")


def kinds(t: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return torch.isnan(t), torch.isposinf(t), torch.isneginf(t)


def assert_same_pattern(got: torch.Tensor, want: torch.Tensor, what: str, tol: float = 1e-6):
    for name, a, b in zip(("NaN", "+inf", "-inf"), kinds(got), kinds(want)):
        assert torch.equal(a, b), f"{what}: {name} at {int(a.sum())} places, want {int(b.sum())}"
    finite = torch.isfinite(want)
    scale = max(1.0, want[finite].abs().max().item()) if finite.any() else 1.0
    assert (got[finite] - want[finite]).abs().max().item() <= tol * scale if finite.any() else True


def scatter(x: torch.Tensor, seed: int, count: int = 3) -> torch.Tensor:
    """``x`` with NaN, +inf and -inf at a few random places."""
    g = torch.Generator().manual_seed(seed)
    x = x.detach().clone()
    flat = x.view(-1)
    places = torch.randperm(flat.numel(), generator=g)[: 3 * count]
    for i, value in zip(places.tolist(), [NAN, INF, -INF] * count):
        flat[i] = value
    return x


def run(algorithm, x, w, b=None, grad=None, **opts):
    """Output and gradients of ``conv`` (with ``grad`` as the output gradient)."""
    leaves = [t.detach().clone().requires_grad_() for t in (x, w)]
    y = anyconv.conv(*leaves, b, algorithm=algorithm, **opts)
    g = torch.ones_like(y) if grad is None else grad
    return (y, *torch.autograd.grad(y, leaves, g))


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # NumPy's NaN
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize(
    "opts",
    [
        dict(padding="same"),
        dict(padding="full", stride=2, dilation=2),
        dict(padding=("causal", "same"), padding_mode="reflect"),
        dict(padding=1, groups=3, padding_mode="circular"),
    ],
    ids=["same", "full-strided", "causal-reflect", "depthwise-circular"],
)
def test_scattered_nan_and_inf_give_the_direct_sums_pattern(algorithm, opts):
    g = torch.Generator().manual_seed(0)
    x = scatter(torch.randn(2, 3, 12, 11, generator=g, dtype=torch.float64), 1)
    w = torch.randn(6, 3 // opts.get("groups", 1), 3, 3, generator=g, dtype=torch.float64)
    w[0, 0, 1, 1] = 0.0  # inf times a zero weight is NaN
    want = run("direct", x, w, **opts)
    y = want[0]
    grad = torch.randn(y.shape, generator=g, dtype=torch.float64)
    grad[0, 0, 2, 2] = NAN  # a NaN output gradient, as a loss of a NaN output gives
    want = run("direct", x, w, grad=grad, **opts)
    got = run(algorithm, x, w, grad=grad, **opts)
    for what, a, b in zip(("output", "input gradient", "weight gradient"), got, want):
        assert_same_pattern(a, b, what)
    # the direct sum itself against the float64 NumPy brute force, NaN/inf included
    ref = conv_reference(
        x,
        w,
        None,
        stride=opts.get("stride", 1),
        dilation=opts.get("dilation", 1),
        groups=opts.get("groups", 1),
        padding=opts["padding"],
        padding_mode=opts.get("padding_mode", "zeros"),
        flip=False,
    )
    assert_same_pattern(want[0], torch.as_tensor(ref), "direct vs reference")


@pytest.mark.parametrize("algorithm", ["fft", "auto"])
@pytest.mark.parametrize(
    "shape, kernel, groups",
    [((1, 2, 4096), (2, 2, 255), 1), ((1, 4, 64, 64), (4, 1, 31, 31), 4)],
    ids=["1d-long-blocks", "depthwise-k31"],
)
def test_issue_cases_on_the_fft_path(algorithm, shape, kernel, groups):
    """1-D n=4096 k=255 (overlap-save blocks) and depthwise 64x64 k=31 (auto runs the FFT)."""
    g = torch.Generator().manual_seed(3)
    x = scatter(torch.randn(shape, generator=g), 4, count=1)
    w = torch.randn(kernel, generator=g)
    with torch.no_grad():
        y = anyconv.conv(x, w, padding="same", groups=groups, algorithm=algorithm)
        want = anyconv.conv(x, w, padding="same", groups=groups, algorithm="native")
    assert (~torch.isfinite(y)).sum() < y.numel() // 4
    assert_same_pattern(y, want, "output", tol=1e-4)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_non_finite_weights_give_the_direct_sums_pattern(algorithm):
    g = torch.Generator().manual_seed(5)
    x = torch.randn(2, 2, 9, 10, generator=g, dtype=torch.float64)
    x[0, 1, 4, 4] = 0.0
    w = torch.randn(3, 2, 3, 2, generator=g, dtype=torch.float64)
    w[0, 1, 2, 1], w[1, 0, 0, 0], w[2, 1, 1, 0] = INF, -INF, NAN
    want = run("direct", x, w, padding="same")
    got = run(algorithm, x, w, padding="same")
    for what, a, b in zip(("output", "input gradient", "weight gradient"), got, want):
        assert_same_pattern(a, b, what)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_float32_input_with_nan_stays_local(algorithm):
    x = torch.randn(1, 3, 16, 16)
    x[0, 1, 5, 5] = NAN
    w = torch.randn(4, 3, 3, 3)
    y = anyconv.conv(x, w, padding="same", algorithm=algorithm)
    assert int(torch.isnan(y).sum()) == 4 * 9


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(spec=conv_specs(), seed=st.integers(0, 2**16), algorithm=st.sampled_from(ALGORITHMS))
def test_random_specs_with_scattered_non_finite_inputs(spec, seed, algorithm):
    x, w, b = make_tensors(spec)
    x = scatter(x, seed, count=1).to(spec["dtype"])
    w, b = w.to(spec["dtype"]), None if b is None else b.to(spec["dtype"])
    opts = conv_options(spec)
    want = run("direct", x, w, b, **opts)
    got = run(algorithm, x, w, b, **opts)
    tol = 1e-9 if spec["dtype"] == torch.float64 else 1e-4
    for what, a, c in zip(("output", "input gradient", "weight gradient"), got, want):
        assert_same_pattern(a, c, what, tol)
