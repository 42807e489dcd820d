"""Session set-up for the whole suite (tests/ and the doctests in anyconv/)."""

from __future__ import annotations

import inspect
import os
import warnings

import pytest
import torch
from hypothesis import settings

# ``--hypothesis-profile=long`` for local runs of the property tests that leave their number
# of examples to the profile (the differential fuzz test, tests/trust/test_fuzz_conv.py);
# CI runs hypothesis's default profile (100 examples each).
settings.register_profile("long", max_examples=4000)


def pytest_configure(config):
    """One intra-op thread, in this process and in the processes tests start, unless
    ``ANYCONV_TEST_THREADS`` says otherwise.

    The suite runs thousands of tiny operations. On a machine shared with other work, each
    multi-threaded kernel waits at its barrier for a thread that is not scheduled: a 4x5
    float64 conv2d took 15-50 ms with 2 threads on the busy 2-core machine and 10 us with
    one. Results do not depend on the thread count (sums are reduced in a fixed order per
    thread count, and the tests' tolerances hold for either)."""
    threads = int(os.environ.get("ANYCONV_TEST_THREADS", "1"))
    torch.set_num_threads(threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    _load_jvp_decompositions()


def _load_jvp_decompositions():
    """Load PyTorch's forward-mode decompositions once, before any test.

    ``torch.autograd.forward_ad.make_dual`` (used by ``gradcheck(check_forward_ad=True)``
    and the dual-number tests) imports them on its first call, and torch 2.13 builds them
    with ``torch.jit.script``, which is deprecated: 18 DeprecationWarnings in the middle of
    whichever test came first. Those come from torch's own module, not from anything the
    project can change; loaded here, under a filter for that one message, they no longer
    appear, and a ``torch.jit.script`` call anywhere else still warns."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"`torch\.jit\.script` is deprecated", category=DeprecationWarning
        )
        load = getattr(torch.autograd.forward_ad, "_maybe_load_decompositions", None)
        if load is not None:  # a private hook of torch's: gone in a later version, nothing to do
            load()


NO_CUDA = "no CUDA device visible (torch.cuda.is_available() is False)"
CUDA_LINE = inspect.currentframe().f_lineno + 1  # where the skip reports point
CUDA = pytest.param(
    "cuda",
    marks=[pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)],
)


@pytest.fixture(scope="session", params=["cpu", CUDA])
def device(request):
    """The device a device-aware test runs on: ``"cpu"``, then ``"cuda"`` when a GPU is
    visible (skipped otherwise, the skips folded into one line of the summary).

    The algorithm-equivalence, layer and trainer tests take this fixture, so that
    ``python -m pytest -q`` on a machine with a GPU runs them on both devices, and
    ``python -m pytest -q -m cuda`` runs only their CUDA cases. On CUDA the tests compare
    against float64 references with float32 tolerances, so TF32 (a 10-bit mantissa in
    matmul and cuDNN convolutions) is off; cuDNN is deterministic, so that two runs with one
    seed give bitwise the same weights. Session-scoped: hypothesis forbids function-scoped
    fixtures in its tests, and each device is set up once."""
    if request.param == "cpu":
        yield "cpu"
        return
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    saved = (cudnn.allow_tf32, cudnn.deterministic, cudnn.benchmark, matmul.allow_tf32)
    cudnn.allow_tf32, cudnn.deterministic, cudnn.benchmark = False, True, False
    matmul.allow_tf32 = False
    try:
        yield "cuda"
    finally:
        cudnn.allow_tf32, cudnn.deterministic, cudnn.benchmark, matmul.allow_tf32 = saved


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Reports the CUDA cases skipped for want of a GPU under one location, so that ``-ra``
    prints one line for all of them instead of one per test function."""
    report = yield
    if (
        report.skipped
        and isinstance(report.longrepr, tuple)
        and report.longrepr[2].endswith(NO_CUDA)
    ):
        report.longrepr = (__file__, CUDA_LINE, report.longrepr[2])
    return report
