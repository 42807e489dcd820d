"""Differential fuzzing of ``anyconv.conv`` (issue 14): random problems through every
algorithm against the float64 references, and random invalid arguments, which must end in
anyconv's own ValueError or TypeError and nothing else.

The number of examples comes from the hypothesis profile: the default in CI, many more with
``python -m pytest tests/trust/test_fuzz_conv.py --hypothesis-profile=long``.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from reference import conv_reference, rel_err, torch_reference
from strategies import conv_options, conv_specs, make_tensors

import anyconv

ALGORITHMS = anyconv.list_algorithms()
LAYOUTS = ("contiguous", "strided", "channels_last", "expanded_batch", "expanded_space")
X_LAYOUTS = (*LAYOUTS, "unbatched")
TOL = {torch.float64: 1e-9, torch.float32: 2e-4}
FUZZ = settings(
    deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)


def with_layout(t: torch.Tensor, layout: str) -> torch.Tensor:
    """A differentiable function of ``t`` with the values the reference sees and the memory
    layout named: a strided view, channels-last, or a stride-0 expansion (of the first batch
    entry, or of the first position along the last axis)."""
    if layout == "strided":
        wide = t.new_zeros(*t.shape[:-1], 2 * t.shape[-1])
        every_other = torch.arange(0, wide.shape[-1], 2, device=t.device)
        return wide.index_copy(-1, every_other, t)[..., ::2]
    if layout == "channels_last":
        order = (0, *range(2, t.dim()), 1)
        back = (0, t.dim() - 1, *range(1, t.dim() - 1))
        return t.permute(order).contiguous().permute(back)
    if layout == "expanded_batch":
        return t[:1].expand(t.shape)
    if layout == "expanded_space":
        return t[..., :1].expand(t.shape)
    if layout == "unbatched":  # the one sample (C, *spatial), as torch.nn takes it
        return t[0]
    return t


@st.composite
def problems(draw):
    spec = draw(conv_specs())
    if draw(st.integers(0, 9)) == 0:
        spec["batch"] = 0
    spec["x_layout"] = draw(st.sampled_from(X_LAYOUTS))
    if spec["x_layout"] == "unbatched":
        spec["batch"] = 1
    spec["w_layout"] = draw(st.sampled_from(LAYOUTS))
    return spec


@FUZZ
@given(spec=problems())
def test_every_algorithm_matches_the_float64_references(spec, device):
    x0, w0, b0 = make_tensors(spec)
    dtype, opts = spec["dtype"], conv_options(spec)
    unbatched = spec["x_layout"] == "unbatched"
    x_ref = x0 if unbatched else with_layout(x0, spec["x_layout"]).detach()
    w_ref = with_layout(w0, spec["w_layout"]).detach()
    want = torch.as_tensor(conv_reference(x_ref, w_ref, b0, **opts))
    leaves = [t.detach().clone().requires_grad_() for t in (x0, w0)]
    g_want = torch.autograd.grad(
        torch_reference(
            leaves[0] if unbatched else with_layout(leaves[0], spec["x_layout"]),
            with_layout(leaves[1], spec["w_layout"]),
            b0,
            **opts,
        ),
        leaves,
        torch.ones(want.shape, dtype=torch.float64),
        allow_unused=True,
    )
    if unbatched:
        want = want[0]
    for algorithm in ALGORITHMS:
        leaves = [t.detach().to(device, dtype).requires_grad_() for t in (x0, w0)]
        x = with_layout(leaves[0], spec["x_layout"])
        w = with_layout(leaves[1], spec["w_layout"])
        b = None if b0 is None else b0.to(device, dtype)
        before = (x.detach().clone(), w.detach().clone())
        y = anyconv.conv(x, w, b, algorithm=algorithm, **opts)
        assert y.dtype == dtype and y.shape == want.shape, algorithm
        assert y.device.type == device, algorithm
        if "channels_last" in (spec["x_layout"], spec["w_layout"]) and y.dim() > 3:
            # PyTorch's rule: channels_last when the input or the weight is laid out so
            laid = [t for t in (x, w) if t.shape[1] > 1 and math.prod(t.shape[2:]) > 1]
            fmt = torch.channels_last if y.dim() == 4 else torch.channels_last_3d
            if (
                y.shape[1] > 1
                and math.prod(y.shape[2:]) > 1
                and any(t.is_contiguous(memory_format=fmt) and not t.is_contiguous() for t in laid)
            ):
                assert y.is_contiguous(memory_format=fmt), (algorithm, y.stride())
        assert rel_err(y, want) <= TOL[dtype], (algorithm, rel_err(y, want))
        grads = torch.autograd.grad(y, leaves, torch.ones_like(y), allow_unused=True)
        for got, ref, name in zip(grads, g_want, ("input", "weight")):
            if ref is None or got is None:
                assert (got is None or not got.any()) and (ref is None or not ref.any())
                continue
            assert rel_err(got, ref) <= TOL[dtype] * 10, (algorithm, name, rel_err(got, ref))
        assert torch.equal(x.detach(), before[0]) and torch.equal(w.detach(), before[1])


# Invalid arguments: each strategy changes one argument of a valid call into something
# anyconv must refuse.
BAD_INTS = st.one_of(
    st.integers(-3, 0),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=3),
    st.none(),
    st.lists(st.integers(-2, 3), max_size=4).map(tuple),
)
BAD_SCALARS = st.one_of(
    st.integers(-5, -1),
    st.floats(),
    st.sampled_from(["", "SAME", "half", "valid ", "reflect"]),
    st.booleans(),
    st.none(),
)
BAD_ENTRIES = st.one_of(
    BAD_SCALARS,
    st.tuples(st.integers(0, 2), st.integers(-3, -1)),
    st.tuples(st.integers(0, 2)),
    st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2)),
)


@st.composite
def bad_paddings(draw, ndim):
    """A padding anyconv must refuse: a bad entry alone, a tuple of ``ndim`` entries with a
    bad one among them, or a tuple of good entries of the wrong length."""
    good = st.one_of(st.integers(0, 2), st.sampled_from(["same", "valid", "full", "causal"]))
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return draw(BAD_SCALARS)
    if kind == 1:
        entries = [draw(good) for _ in range(ndim)]
        entries[draw(st.integers(0, ndim - 1))] = draw(BAD_ENTRIES)
        return tuple(entries)
    length = draw(st.integers(0, 4).filter(lambda n: (n != ndim and n != 1) or n == 0))
    return tuple(draw(good) for _ in range(length))


BAD_TENSORS = st.sampled_from(
    [
        "int_input",
        "bool_weight",
        "complex_input",
        "scalar_input",
        "2d_input",
        "6d_input",
        "weight_rank",
        "weight_channels",
        "bias_shape",
        "bias_dtype",
        "weight_dtype",
        "list_input",
        "numpy_weight",
        "none_weight",
    ]
)
_TOO_LARGE = 1 << 70  # beyond int64: an int no tensor extent or stride can hold


@st.composite
def invalid_calls(draw):
    spec = draw(conv_specs())
    x, w, b = make_tensors(spec)
    dtype = spec["dtype"]
    x, w = x.to(dtype), w.to(dtype)
    b = b.to(dtype) if b is not None else None
    opts = conv_options(spec)
    opts["algorithm"] = draw(st.sampled_from(ALGORITHMS))
    what = draw(
        st.sampled_from(
            [
                "stride",
                "dilation",
                "padding",
                "groups",
                "padding_mode",
                "flip",
                "algorithm",
                "tensors",
                "huge",
                "overhang",
                "border",
            ]
        )
    )
    if what in ("stride", "dilation"):
        bad = draw(BAD_INTS)
        # a tuple of ndim positive ints is a valid value (found by the long profile)
        assume(not (isinstance(bad, tuple) and len(bad) == x.dim() - 2 and min(bad) >= 1))
        opts[what] = bad
    elif what == "padding":
        opts["padding"] = draw(bad_paddings(x.dim() - 2))
    elif what == "groups":
        bad = draw(st.one_of(BAD_INTS, st.integers(2, 7)))
        assume(not (type(bad) is int and bad > 0 and spec["in_channels"] % bad == 0))
        opts["groups"] = bad
    elif what == "padding_mode":
        opts["padding_mode"] = draw(st.one_of(st.sampled_from(["zero", "", "mirror"]), BAD_INTS))
    elif what == "flip":
        opts["flip"] = draw(st.one_of(st.integers(0, 1), st.none(), st.text(max_size=2)))
    elif what == "algorithm":
        opts["algorithm"] = draw(st.one_of(st.sampled_from(["", "Auto", "winograd"]), BAD_INTS))
    elif what == "huge":
        key = draw(st.sampled_from(["stride", "dilation", "padding"]))
        opts[key] = _TOO_LARGE
    elif what == "overhang":  # a kernel larger than the input, without padding
        opts["padding"] = "valid"
        opts["dilation"] = 1
        w = torch.randn(*w.shape[:2], *(n + 1 for n in x.shape[2:]), dtype=dtype)
    elif what == "border":  # a border wider than reflect or circular allow
        opts["padding_mode"] = draw(st.sampled_from(["reflect", "circular"]))
        opts["padding"] = max(x.shape[2:]) + 1
    else:
        x, w, b = _break_tensors(draw(BAD_TENSORS), x, w, b)
    return x, w, b, opts


def _break_tensors(kind, x, w, b):
    if kind == "int_input":
        x = x.to(torch.int64)
    elif kind == "bool_weight":
        w = w > 0
    elif kind == "complex_input":
        x = x.to(torch.complex128)
    elif kind == "scalar_input":
        x = x.sum()
    elif kind == "2d_input":  # (N, C*L) would read as an unbatched 1-D input: flatten all
        x = x.reshape(-1)
    elif kind == "6d_input":
        x = x.reshape(*x.shape, *(1,) * (6 - x.dim()))
    elif kind == "weight_rank":  # one more axis would read x as unbatched: add two
        w = w[..., None, None]
    elif kind == "weight_channels":
        w = torch.cat([w, w[:, :1]], 1)
    elif kind == "bias_shape":
        b = torch.zeros(w.shape[0] + 1, dtype=x.dtype)
    elif kind == "bias_dtype":
        b = torch.zeros(w.shape[0], dtype=torch.float16)
    elif kind == "weight_dtype":
        w = w.to(torch.float16 if x.dtype != torch.float16 else torch.float32)
    elif kind == "list_input":
        x = x.tolist()
    elif kind == "numpy_weight":
        w = w.numpy()
    else:
        w = None
    return x, w, b


@FUZZ
@given(call=invalid_calls())
def test_invalid_arguments_raise_anyconvs_own_errors(call):
    x, w, b, opts = call
    try:
        y = anyconv.conv(x, w, b, **opts)
    except (ValueError, TypeError) as error:
        assert str(error).startswith("conv("), str(error)
        return
    pytest.fail(f"conv accepted {opts} and returned {tuple(y.shape)}")


LARGE = st.one_of(st.integers(1, 4), st.integers(1, 1 << 40), st.just((1 << 62) - 1))


@FUZZ
@given(spec=conv_specs(), stride=LARGE, dilation=LARGE, pad=st.one_of(LARGE, st.just(0)))
def test_large_arguments_compute_or_are_refused_cleanly(spec, stride, dilation, pad):
    """Large (up to int64) strides, dilations and paddings: a result equal to the reference
    when the problem is small enough to compute, else anyconv's ValueError."""
    x, w, b = make_tensors(spec)
    opts = dict(conv_options(spec), stride=stride, dilation=dilation, padding=pad)
    algorithm = ALGORITHMS[spec["seed"] % len(ALGORITHMS)]
    try:
        y = anyconv.conv(x, w, b, algorithm=algorithm, **opts)
    except ValueError as error:
        assert str(error).startswith("conv("), str(error)
        return
    assert y.shape[2:] == anyconv.output_shape(
        spec["spatial"], spec["kernel"], stride=stride, padding=pad, dilation=dilation
    )
    if pad <= 64 and dilation <= 64:
        want = torch.as_tensor(conv_reference(x, w, b, **opts))
        assert rel_err(y, want) <= 1e-9


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("key", ["stride", "dilation"])
def test_a_size_one_kernel_with_an_int_beyond_int64_is_refused(algorithm, key):
    """Found by the long profile: a dilation of 2**70 does not widen a kernel of size 1, so
    no extent check saw it; ``direct`` returned a result and ``native`` leaked PyTorch's
    "Overflow when unpacking long long"."""
    x, w = torch.randn(1, 1, 3, dtype=torch.float64), torch.randn(1, 1, 1, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"^conv\(\): .*2\*\*48"):
        anyconv.conv(x, w, algorithm=algorithm, **{key: _TOO_LARGE})


@pytest.mark.parametrize("pool", ["max_pool", "avg_pool", "lp_pool", "soft_pool"])
@pytest.mark.parametrize("key", ["stride", "dilation"])
def test_pooling_with_an_int_beyond_int64_is_refused(pool, key):
    """The same bound for pooling, which leaked PyTorch's overflow the same way."""
    from anyconv.functional import pool as pooling

    x = torch.randn(1, 1, 3)
    args = (2.0, 1) if pool == "lp_pool" else (1,)
    with pytest.raises(ValueError, match=rf"^{pool}\(\): .*2\*\*48"):
        getattr(pooling, pool)(x, *args, **{key: _TOO_LARGE})
