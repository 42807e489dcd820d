"""One headless Chromium for the whole session's page tests (started on first use)."""

from __future__ import annotations

import pytest
from browser import Browser, missing


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium (skipped, with how to install one, where none is found)."""
    reason = missing()
    if reason is not None:
        pytest.skip(reason)
    chromium = Browser()
    yield chromium
    chromium.close()
