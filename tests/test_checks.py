"""_checks.py: the validation primitives and their one wording per message."""

from __future__ import annotations

import math
import re

import pytest
import torch

from anyconv import _checks


@pytest.mark.parametrize(
    ("kwargs", "value", "error", "allowed"),
    [
        ({"minimum": 1}, 0, ValueError, "a positive int"),
        ({"minimum": 1}, True, TypeError, "a positive int"),
        ({"minimum": 1}, 2.0, TypeError, "a positive int"),
        ({"minimum": 0}, -1, ValueError, "an int >= 0"),
        ({"minimum": 1, "maximum": 3}, 4, ValueError, "an int in 1..3"),
        ({"maximum": 3}, 4, ValueError, "an int <= 3"),
        ({"minimum": 2, "note": "frames"}, 1, ValueError, r"an int >= 2 \(frames\)"),
    ],
)
def test_check_int(kwargs, value, error, allowed):
    with pytest.raises(error, match=rf"^f\(\): argument 'n' must be {allowed}; got {value!r}$"):
        _checks.check_int(value, "n", "f", **kwargs)


def test_check_int_passes_ints_through():
    assert _checks.check_int(5, "n", "f", minimum=1, maximum=5) == 5
    assert _checks.positive_int(1, "n", "f") == 1
    assert _checks.check_ndim(3, "f") == 3
    with pytest.raises(
        ValueError, match=r"'ndim' must be an int in 1\.\.3 \(the number of spatial"
    ):
        _checks.check_ndim(4, "f")


@pytest.mark.parametrize(
    ("kwargs", "value", "error", "allowed"),
    [
        ({"minimum": 0}, -0.5, ValueError, "a number >= 0"),
        ({"minimum": 0}, math.nan, ValueError, "a number >= 0"),
        ({"above": 0}, 0, ValueError, "a number > 0"),
        ({"minimum": 0, "below": 1}, 1.0, ValueError, r"a number in \[0, 1\)"),
        ({"above": 0, "below": 1}, 0.0, ValueError, r"a number in \(0, 1\)"),
        ({}, math.nan, ValueError, "a number"),
        ({}, True, TypeError, "a number"),
        ({"minimum": 0}, "1", TypeError, "a number >= 0"),
    ],
)
def test_check_real(kwargs, value, error, allowed):
    with pytest.raises(error, match=rf"^f\(\): argument 'x' must be {allowed}; got"):
        _checks.check_real(value, "x", "f", **kwargs)


def test_check_real_accepts_ints_and_infinity():
    assert _checks.check_real(2, "x", "f", above=0) == 2.0
    assert math.isinf(_checks.check_real(math.inf, "x", "f", above=0))
    assert _checks.is_real(1) and not _checks.is_real(False) and _checks.is_int(3)
    assert not _checks.is_int(True) and not _checks.is_int(3.0)


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ((), ValueError),
        ((8, 0), ValueError),
        (8, TypeError),
        ((8, 2.0), TypeError),
        ("ab", TypeError),
    ],
)
def test_int_sequence(value, error):
    with pytest.raises(error, match=r"'c' must be a non-empty tuple of positive ints"):
        _checks.int_sequence(value, "c", "f")


def test_int_sequence_and_int_tuple_normalise():
    assert _checks.int_sequence([3, 5], "c", "f") == (3, 5)
    assert _checks.int_tuple(2, 3, "k", "f", minimum=1) == (2, 2, 2)
    with pytest.raises(TypeError, match="'k' must be a positive int or a tuple of 2"):
        _checks.int_tuple((1, True), 2, "k", "f", minimum=1)
    with pytest.raises(ValueError, match="'k' must be a positive int or a tuple of 2"):
        _checks.int_tuple((1, 2, 3), 2, "k", "f", minimum=1)


@pytest.mark.parametrize(
    ("spatial", "shape", "allowed"),
    [
        ((1, 3), (2, 3), r"with 1, 2 or 3 spatial axes \(3, 4 or 5 dims\)"),
        (2, (2, 3, 4), r"with 2 spatial axes \(4 dims\)"),
        (1, (2, 3, 4, 4), r"with 1 spatial axis \(3 dims\)"),
        ((1, None), (2, 3), r"with at least 1 spatial axis \(3 or more dims\)"),
        ((0, None), (2,), r"\(2 or more dims\)"),
    ],
)
def test_check_input_rank(spatial, shape, allowed):
    pattern = (
        r"^f\(\): argument 'input' must be a tensor of shape \(N, C, \*spatial\) "
        + allowed
        + re.escape(f"; got a tensor of shape {shape}")
        + "$"
    )
    with pytest.raises(ValueError, match=pattern):
        _checks.check_input(torch.zeros(shape), "f", spatial=spatial)


def test_check_input_type_and_name():
    assert _checks.check_input(torch.zeros(1, 1, 4, 4), "f") == 2
    with pytest.raises(TypeError, match="argument 'image' must be a real floating-point"):
        _checks.check_input(torch.zeros(1, 1, 4, dtype=torch.long), "f", arg="image")
    with pytest.raises(ValueError, match=r"\(4 dims\) to match 2 factors; got"):
        _checks.check_input(torch.zeros(1, 1, 4), "f", spatial=2, note="to match 2 factors")
