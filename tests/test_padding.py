"""padding.py: the table of GUIDE.md section 3, output sizes, ceil mode and borders."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import NP_MODES

import anyconv


@pytest.mark.parametrize(
    ("rule", "n", "k", "s", "d", "expected"),
    [
        ("valid", 10, 3, 1, 1, (0, 0)),
        ("full", 10, 3, 1, 1, (2, 2)),
        ("full", 10, 3, 1, 2, (4, 4)),
        ("causal", 10, 3, 1, 1, (2, 0)),
        ("causal", 10, 4, 1, 3, (9, 0)),
        ("same", 10, 3, 1, 1, (1, 1)),
        ("same", 10, 4, 1, 1, (1, 2)),  # even kernel: the extra goes to the end
        ("same", 10, 3, 1, 2, (2, 2)),
        ("same", 7, 4, 2, 1, (1, 2)),  # out = ceil(7/2) = 4, total = 3*2 + 4 - 7 = 3
        ("same", 8, 3, 2, 1, (0, 1)),  # out = 4, total = 6 + 3 - 8 = 1
        ("same", 8, 1, 3, 1, (0, 0)),  # total would be negative: no padding
        (2, 10, 3, 1, 1, (2, 2)),
        (((3, 1),), 10, 3, 1, 1, (3, 1)),
    ],
)
def test_padding_table(rule, n, k, s, d, expected):
    assert anyconv.resolve_padding((n,), k, stride=s, dilation=d, padding=rule) == (expected,)


def test_rules_mix_per_axis():
    got = anyconv.resolve_padding((8, 16, 16), (3, 5, 5), padding=("causal", "same", (0, 4)))
    assert got == ((2, 0), (2, 2), (0, 4))
    assert anyconv.resolve_padding((8, 9), 3, padding=((2, 0), 1)) == ((2, 0), (1, 1))


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 40), k=st.integers(1, 7), s=st.integers(1, 4), d=st.integers(1, 3))
def test_same_gives_ceil_n_over_s(n, k, s, d):
    assert anyconv.output_shape((n,), k, stride=s, dilation=d, padding="same") == (-(-n // s),)


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 30),
    k=st.integers(1, 6),
    s=st.integers(1, 4),
    p=st.integers(0, 3),
    d=st.integers(1, 2),
    ceil=st.booleans(),
)
def test_output_shape_matches_pytorch_pooling(n, k, s, p, d, ceil):
    """PyTorch's max_pool implements both floor and ceil mode (with its right-padding rule)."""
    if p > k // 2 or n + 2 * p < d * (k - 1) + 1:
        return  # outside what max_pool1d accepts
    x = torch.zeros(1, 1, n)
    want = F.max_pool1d(x, k, s, p, d, ceil_mode=ceil).shape[2:]
    assert anyconv.output_shape((n,), k, stride=s, padding=p, dilation=d, ceil_mode=ceil) == tuple(
        want
    )


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_pad_matches_numpy(mode):
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float64).view(2, 3, 4, 5)
    pads = ((2, 1), (0, 3))
    want = np.pad(x.numpy(), [(0, 0), (0, 0), *pads], mode=NP_MODES[mode])
    assert np.array_equal(anyconv.pad(x, pads, mode).numpy(), want)


def test_pad_returns_input_when_nothing_to_pad():
    x = torch.randn(1, 1, 3)
    assert anyconv.pad(x, ((0, 0),)) is x


@pytest.mark.parametrize(
    ("kwargs", "error", "word"),
    [
        (dict(padding="sme"), ValueError, "padding"),
        (dict(padding=-1), ValueError, "padding"),
        (dict(padding=(1, 2, 3)), ValueError, "padding"),
        (dict(padding=((1, -2), 0)), ValueError, "padding"),
        (dict(padding=1.5), TypeError, "padding"),
        (dict(stride=0), ValueError, "stride"),
        (dict(stride=(1, 2, 3)), ValueError, "stride"),
        (dict(stride=1.0), TypeError, "stride"),
        (dict(dilation=-1), ValueError, "dilation"),
        (dict(ceil_mode="yes"), TypeError, "ceil_mode"),
    ],
)
def test_output_shape_errors_name_the_argument(kwargs, error, word):
    with pytest.raises(error, match=word):
        anyconv.output_shape((8, 8), 3, **kwargs)


def test_kernel_larger_than_padded_input():
    with pytest.raises(ValueError, match="kernel") as info:
        anyconv.output_shape((4, 8), 3, dilation=2)
    assert "spans 5" in str(info.value) and "only 4" in str(info.value)


def test_one_dimensional_pair_needs_its_own_tuple():
    """A tuple has one entry per axis (PyTorch's convention), so a 1-D pair is nested."""
    with pytest.raises(ValueError, match=r"write \(\(3, 1\),\)"):
        anyconv.resolve_padding((10,), 3, padding=(3, 1))


def test_input_shape_must_be_sizes():
    with pytest.raises(TypeError, match="input_shape"):
        anyconv.resolve_padding(8, 3)
    with pytest.raises(ValueError, match="kernel_size"):
        anyconv.resolve_padding((8, 8), (3, 3, 3))


def test_a_new_rule_is_one_table_entry(monkeypatch):
    """An entry in RULES is accepted everywhere and named in every message."""
    from anyconv import padding

    anticausal = padding.PaddingRule(lambda n, k_eff, s: (0, k_eff - 1), "0", "k_eff - 1")
    monkeypatch.setitem(padding.RULES, "anticausal", anticausal)
    assert anyconv.resolve_padding((10, 8), 3, padding=("anticausal", "same")) == (
        (0, 2),
        (1, 1),
    )
    x, w = torch.randn(1, 1, 10), torch.randn(1, 1, 3)
    want = F.conv1d(F.pad(x, (0, 2)), w)
    torch.testing.assert_close(anyconv.conv(x, w, padding="anticausal"), want)
    layer = anyconv.nn.Conv1d(1, 1, 3, padding="anticausal")
    assert layer(x).shape == (1, 1, 10)
    with pytest.raises(ValueError, match=r"one of 'valid', 'same', 'full', 'causal', 'anticausal'"):
        anyconv.conv(x, w, padding="acausal")


def test_docstrings_list_exactly_the_rules():
    from anyconv.functional.pool import max_pool
    from anyconv.padding import RULES

    documented = [anyconv.conv, anyconv.resolve_padding, max_pool, anyconv.nn.ConvNd]
    for obj in documented:
        assert "{padding_rules}" not in obj.__doc__
        assert all(f'``"{name}"``' in obj.__doc__ for name in RULES), obj
    for name, rule in RULES.items():  # the module's table is generated from RULES
        assert f'"{name}"' in anyconv.padding.__doc__ and rule.hi in anyconv.padding.__doc__


def test_pooling_and_convolution_resolve_the_same_spec():
    from anyconv.padding import conv_spec, window_spec

    kwargs = dict(stride=(2, 1), padding=("same", (2, 0)), dilation=(1, 2))
    conv = conv_spec((1, 3, 9, 8), (4, 3, 3, 2), groups=1, padding_mode="zeros", **kwargs)
    pool = window_spec((9, 8), (3, 2), **kwargs)
    assert conv == pool
    assert pool.kernel_size == (3, 2) and pool.in_shape == (9, 8)
    assert pool.out_shape == anyconv.output_shape((9, 8), (3, 2), **kwargs)


def test_the_geometry_has_one_import_path():
    """The geometry lives in ``anyconv.padding`` only: the checks module and ``conv`` neither
    hold nor re-export it (no aliases in an unreleased package)."""
    import importlib

    from anyconv import _checks, padding

    conv = importlib.import_module("anyconv.functional.conv")
    for name in ("ConvSpec", "PADDING_RULES", "PADDING_MODES", "padding_entries", "check_border"):
        assert hasattr(padding, name) and not hasattr(_checks, name)
    assert not {"ConvSpec", "conv_spec"} & set(conv.__all__)
    assert not hasattr(padding, "conv_geometry")
