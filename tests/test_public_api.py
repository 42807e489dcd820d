"""anyconv/__init__.py: one public surface. Every operator of anyconv.functional is at the
top level (the fixed kernels under anyconv.filters), old import paths keep working, and the
subpackages load lazily."""

from __future__ import annotations

import subprocess
import sys

import pytest

import anyconv
import anyconv.functional.filters as filters_module


def test_every_operator_of_functional_is_at_the_top_level():
    kernels = set(filters_module.__all__)
    operators = set(anyconv.functional.__all__) - kernels
    assert {"conv", "soft_pool", "max_pool", "tiled_conv", "locally_connected"} <= operators
    missing = operators - set(anyconv.__all__)
    assert not missing, f"anyconv.functional names missing from anyconv: {sorted(missing)}"
    for name in operators:
        assert getattr(anyconv, name) is getattr(anyconv.functional, name), name
    # the fixed kernels have one home, anyconv.filters, and are not repeated at the top
    assert not kernels & set(anyconv.__all__)


def test_every_exported_name_resolves():
    for name in anyconv.__all__:
        assert getattr(anyconv, name) is not None, name
    assert set(anyconv.__all__) <= set(dir(anyconv))


def test_filters_is_one_module_under_two_names():
    import anyconv.filters
    from anyconv.filters import default_gabor_envelope, gabor_kernel

    assert anyconv.filters is anyconv.functional.filters is filters_module
    assert gabor_kernel is anyconv.functional.gabor_kernel
    assert default_gabor_envelope is filters_module.default_gabor_envelope
    assert {"gabor_kernel", "sobel_kernel", "default_gabor_envelope"} <= set(dir(anyconv.filters))


def test_match_template_and_pools_at_the_top():
    from anyconv.analysis import match_template
    from anyconv.functional.pool import soft_pool

    assert anyconv.match_template is match_template
    assert anyconv.soft_pool is soft_pool


def test_unknown_names_are_attribute_errors():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        anyconv.nope  # noqa: B018
    with pytest.raises(AttributeError):
        anyconv._private  # noqa: B018
    assert not hasattr(anyconv, "__wrapped__")


def test_import_anyconv_loads_subpackages_only_on_use():
    """In a fresh interpreter: the operators come with ``import anyconv``; models, data,
    training, analysis and pictures (matplotlib, scikit-learn) load on first use."""
    script = (
        "import sys, anyconv\n"
        "lazy = ['anyconv.' + m for m in ('nn', 'models', 'data', 'train', 'analysis', 'viz')]\n"
        "assert not [m for m in lazy if m in sys.modules], [m for m in lazy if m in sys.modules]\n"
        "assert 'matplotlib' not in sys.modules and 'sklearn' not in sys.modules\n"
        "anyconv.models.create_model('lenet5')\n"
        "assert 'anyconv.models' in sys.modules\n"
        "from anyconv import viz\n"
        "assert viz is sys.modules['anyconv.viz']\n"
        "anyconv.match_template\n"
        "assert 'anyconv.analysis' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
