"""Collection rules for the doctests in anyconv/ (tests/conftest.py sets up the session)."""

import importlib.util

# numba is optional (the ``timeseries`` extra): without it, its kernels' module is not importable
collect_ignore = (
    [] if importlib.util.find_spec("numba") else ["anyconv/models/_minirocket_numba.py"]
)
