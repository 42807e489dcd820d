"""Every bad specification fails early with anyconv's own error naming the argument."""

from __future__ import annotations

import pytest
import torch

import anyconv

X = torch.randn(2, 4, 8, 8)
W = torch.randn(6, 4, 3, 3)


def _call(**overrides):
    args = dict(x=X, weight=W, bias=None)
    args.update(overrides)
    x, w, b = args.pop("x"), args.pop("weight"), args.pop("bias")
    return anyconv.conv(x, w, b, **args)


CASES = {
    "input not a tensor": (dict(x=[[1.0]]), TypeError, "'input'"),
    "weight not a tensor": (dict(weight=None), TypeError, "'weight'"),
    "input rank too low": (dict(x=torch.randn(4, 8)), ValueError, "'input'"),
    "input rank too high": (dict(x=torch.randn(1, 1, 2, 2, 2, 2)), ValueError, "'input'"),
    "weight rank": (dict(weight=torch.randn(6, 4, 3)), ValueError, "'weight'"),
    "channel mismatch": (dict(weight=torch.randn(6, 3, 3, 3)), ValueError, "'input'"),
    "groups mismatch": (dict(weight=torch.randn(6, 4, 3, 3), groups=2), ValueError, "'weight'"),
    "groups not dividing input": (
        dict(weight=torch.randn(6, 1, 3, 3), groups=3),
        ValueError,
        "'groups'",
    ),
    "groups not dividing output": (
        dict(weight=torch.randn(5, 2, 3, 3), groups=2),
        ValueError,
        "'groups'",
    ),
    "groups zero": (dict(groups=0), ValueError, "'groups'"),
    "groups float": (dict(groups=1.0), TypeError, "'groups'"),
    "unknown padding string": (dict(padding="sme"), ValueError, "'padding'"),
    "padding tuple length": (dict(padding=(1, 1, 1)), ValueError, "'padding'"),
    "negative padding": (dict(padding=-1), ValueError, "'padding'"),
    "negative padding pair": (dict(padding=((0, -1), 0)), ValueError, "'padding'"),
    "padding type": (dict(padding=None), TypeError, "'padding'"),
    "unknown padding mode": (dict(padding_mode="mirror"), ValueError, "'padding_mode'"),
    "zero stride": (dict(stride=0), ValueError, "'stride'"),
    "negative stride tuple": (dict(stride=(1, -2)), ValueError, "'stride'"),
    "stride tuple length": (dict(stride=(1, 2, 3)), ValueError, "'stride'"),
    "zero dilation": (dict(dilation=0), ValueError, "'dilation'"),
    "float dilation": (dict(dilation=1.5), TypeError, "'dilation'"),
    "kernel larger than padded input": (dict(x=torch.randn(2, 4, 2, 8)), ValueError, "kernel"),
    "kernel larger after dilation": (dict(dilation=4), ValueError, "kernel"),
    "reflect too wide": (
        dict(x=torch.randn(2, 4, 3, 8), padding=3, padding_mode="reflect"),
        ValueError,
        "'padding'",
    ),
    "circular too wide": (
        dict(x=torch.randn(2, 4, 3, 8), padding=4, padding_mode="circular"),
        ValueError,
        "'padding'",
    ),
    "integer input": (dict(x=X.int()), TypeError, "'input'"),
    "integer weight": (dict(weight=W.long()), TypeError, "'weight'"),
    "complex input": (dict(x=X.to(torch.complex64)), TypeError, "'input'"),
    "dtype mismatch": (dict(weight=W.double()), TypeError, "'weight'"),
    "bias dtype mismatch": (dict(bias=torch.zeros(6, dtype=torch.float64)), TypeError, "'bias'"),
    "bias shape": (dict(bias=torch.zeros(5)), ValueError, "'bias'"),
    "device mismatch": (dict(weight=W.to("meta")), ValueError, "'weight'"),
    "unknown algorithm": (dict(algorithm="winograd"), ValueError, "'algorithm'"),
    "flip not bool": (dict(flip="yes"), TypeError, "'flip'"),
    "matrix above limit": (
        dict(x=torch.randn(1, 64, 64, 64), weight=torch.randn(64, 64, 7, 7), algorithm="matrix"),
        ValueError,
        "'algorithm'",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_error(case):
    overrides, error, word = CASES[case]
    with pytest.raises(error, match=word) as info:
        _call(**overrides)
    assert str(info.value).startswith("conv(): ")


def test_messages_show_given_and_allowed():
    with pytest.raises(ValueError) as info:
        _call(padding="sme")
    message = str(info.value)
    assert "'sme'" in message and "'same'" in message and "(lo, hi)" in message
    with pytest.raises(ValueError) as info:
        _call(weight=torch.randn(6, 3, 3, 3))
    assert "4 channels" in str(info.value) and "3 * 1 = 3" in str(info.value)
    with pytest.raises(ValueError) as info:
        _call(x=torch.randn(2, 4, 3, 8), padding=3, padding_mode="reflect")
    assert "(3, 3)" in str(info.value) and "at most 2" in str(info.value)


def test_errors_come_before_any_computation():
    """Nothing is evaluated: the meta device would fail on any real kernel call first."""
    with pytest.raises(ValueError, match="'padding_mode'"):
        anyconv.conv(
            torch.randn(1, 1, 4, device="meta"),
            torch.randn(1, 1, 2, device="meta"),
            padding_mode="bogus",
        )
