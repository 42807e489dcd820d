"""Session set-up for the whole suite (tests/ and the doctests in anyconv/)."""

from __future__ import annotations

import os

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
