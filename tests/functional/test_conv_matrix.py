"""conv_matrix: the convolution as an explicit (doubly block Toeplitz / circulant) matrix."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from reference import conv_reference, rel_err
from strategies import conv_options, conv_specs, make_tensors

import anyconv


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(conv_specs())
def test_matrix_identity(spec):
    x, w, _ = make_tensors(spec)
    opts = conv_options(spec)
    m = anyconv.conv_matrix(w, tuple(x.shape[1:]), **opts)
    assert m.is_sparse and m.is_coalesced()
    got = (m @ x.flatten(1).T).T
    want = conv_reference(x.numpy(), w.numpy(), None, **opts)
    assert rel_err(got, want.reshape(x.shape[0], -1)) <= 1e-12


def _dense(w, shape, **kw):
    return anyconv.conv_matrix(w, shape, **kw).to_dense()


def test_circular_same_stride_one_is_block_circulant():
    c_in, c_out, size = 2, 3, (5, 6)
    w = torch.randn(c_out, c_in, 3, 4, dtype=torch.float64)
    m = _dense(w, (c_in, *size), padding="same", padding_mode="circular")
    positions = size[0] * size[1]
    assert m.shape == (c_out * positions, c_in * positions)
    for o, c in itertools.product(range(c_out), range(c_in)):
        block = m[o * positions : (o + 1) * positions, c * positions : (c + 1) * positions]
        block = block.reshape(*size, *size)
        # Doubly block circulant: entry depends only on the cyclic offset (j - i) mod size.
        for i0, i1, j0, j1 in itertools.product(
            range(size[0]), range(size[1]), range(size[0]), range(size[1])
        ):
            shift = ((j0 - i0) % size[0], (j1 - i1) % size[1])
            assert block[i0, i1, j0, j1] == block[0, 0, shift[0], shift[1]]
        # ... and it is not a trivial one: every tap of the kernel is in it.
        assert torch.count_nonzero(block[0, 0]) == 12


def test_zero_border_is_toeplitz():
    w = torch.randn(1, 1, 3, dtype=torch.float64)
    m = _dense(w, (1, 6), padding="same")
    for i, j in itertools.product(range(6), repeat=2):
        if i > 0 and j > 0:
            assert m[i, j] == m[i - 1, j - 1]  # constant along diagonals
    assert m[0, 5] == 0 and m[5, 0] == 0  # no wrap-around


def test_flip_reverses_the_kernel():
    w = torch.tensor([[[1.0, 2.0, 3.0]]])
    assert torch.equal(_dense(w, (1, 3), flip=True), torch.tensor([[3.0, 2.0, 1.0]]))


def test_gradient_reaches_weight_through_the_matrix():
    w = torch.randn(2, 1, 3, 3, dtype=torch.float64, requires_grad=True)
    x = torch.randn(1, 7, 7, dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda w: torch.sparse.mm(
            anyconv.conv_matrix(w, x.shape, padding="same", padding_mode="reflect"),
            x.reshape(-1, 1),
        ),
        (w,),
    )


def test_matrix_limit_is_refused_before_building():
    w = torch.randn(64, 64, 7, 7)
    with pytest.raises(ValueError, match="algorithm") as info:
        anyconv.conv(torch.randn(1, 64, 64, 64), w, algorithm="matrix")
    assert f"{anyconv.MATRIX_MAX_NONZEROS:,}" in str(info.value)
    with pytest.raises(ValueError, match="nonzeros"):
        anyconv.conv_matrix(w, (64, 64, 64))


@pytest.mark.parametrize(
    ("args", "error", "word"),
    [
        ((torch.randn(1, 1, 3), (1,)), ValueError, "input_shape"),
        ((torch.randn(1, 1, 3), (2, 5)), ValueError, "weight"),
        ((torch.randn(1, 1, 3).int(), (1, 5)), TypeError, "weight"),
        (([1.0], (1, 5)), TypeError, "weight"),
    ],
)
def test_conv_matrix_errors(args, error, word):
    with pytest.raises(error, match=word):
        anyconv.conv_matrix(*args)
