"""Session set-up for the whole suite (tests/ and the doctests in anyconv/)."""

from __future__ import annotations

from hypothesis import settings

# ``--hypothesis-profile=long`` for local runs of the property tests that leave their number
# of examples to the profile (the differential fuzz test, tests/trust/test_fuzz_conv.py);
# CI runs hypothesis's default profile (100 examples each).
settings.register_profile("long", max_examples=4000)
