"""Differential fuzzing of ``anyconv.conv_transpose``: random problems (empty batches,
channels-last, strided and stride-0 expanded operands, every output size that maps back)
through every algorithm against the float64 scatter loop, and random invalid or huge
arguments, which must end in anyconv's own ValueError or TypeError and nothing else.

The number of examples comes from the hypothesis profile (``--hypothesis-profile=long``
for many more)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import conv_transpose_reference, rel_err, torch_reference, transposed_sizes
from strategies import conv_options, conv_specs, make_tensors
from trust.test_fuzz_conv import BAD_INTS, LAYOUTS, _break_tensors, bad_paddings, with_layout

import anyconv

ALGORITHMS = anyconv.list_algorithms()
TOL = {torch.float64: 1e-9, torch.float32: 2e-4}
FUZZ = settings(
    deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
_TOO_LARGE = 1 << 70


@st.composite
def problems(draw):
    """A convolution problem (zero borders) read backwards: ``y`` of its output's shape,
    an output size among those that map back, layouts for ``y`` and the weight."""
    spec = draw(conv_specs(padding_modes=("zeros",)))
    if draw(st.integers(0, 9)) == 0:
        spec["batch"] = 0
    sizes = transposed_sizes(
        spec["padding"], spec["out"], spec["kernel"], spec["stride"], spec["dilation"]
    )
    spec["size"] = tuple(draw(st.sampled_from(s)) for s in sizes)
    spec["y_layout"] = draw(st.sampled_from(LAYOUTS))
    spec["w_layout"] = draw(st.sampled_from(LAYOUTS))
    return spec


@FUZZ
@given(spec=problems())
def test_every_algorithm_matches_the_float64_scatter(spec, device):
    _, w0, _ = make_tensors(spec)
    g = torch.Generator().manual_seed(spec["seed"])
    y0 = torch.randn(spec["batch"], spec["out_channels"], *spec["out"], generator=g).double()
    b0 = torch.randn(spec["in_channels"], generator=g).double() if spec["bias"] else None
    opts = conv_options(spec, without=("padding_mode",))
    y_ref = with_layout(y0, spec["y_layout"])
    w_ref = with_layout(w0, spec["w_layout"])
    want = torch.as_tensor(conv_transpose_reference(y_ref, w_ref, b0, out=spec["size"], **opts))
    # the gradients: PyTorch's double backward of its own conv (whose input gradient is the
    # transposed convolution), through the same layouts
    leaves = [t.clone().requires_grad_() for t in (y0, w0)]
    probe = torch.zeros(want.shape, dtype=torch.float64, requires_grad=True)
    y_l, w_l = (with_layout(t, spec[k]) for t, k in zip(leaves, ("y_layout", "w_layout")))
    (xt,) = torch.autograd.grad(
        torch_reference(probe, w_l, None, padding_mode="zeros", **opts),
        probe,
        y_l,
        create_graph=True,
        allow_unused=True,
    )
    g_y = g_w = None
    if xt is not None and xt.requires_grad:
        g_y, g_w = torch.autograd.grad(xt, leaves, torch.ones_like(xt), allow_unused=True)
    dtype = spec["dtype"]
    for algorithm in ALGORITHMS:
        leaves = [t.detach().to(device, dtype).requires_grad_() for t in (y0, w0)]
        y = with_layout(leaves[0], spec["y_layout"])
        w = with_layout(leaves[1], spec["w_layout"])
        b = None if b0 is None else b0.to(device, dtype)
        x = anyconv.conv_transpose(y, w, b, output_size=spec["size"], algorithm=algorithm, **opts)
        assert x.dtype == dtype and x.shape == want.shape, algorithm
        assert x.device.type == device, algorithm
        assert rel_err(x, want) <= TOL[dtype], (algorithm, rel_err(x, want))
        grads = torch.autograd.grad(x, leaves, torch.ones_like(x), allow_unused=True)
        for got, ref, name in zip(grads, (g_y, g_w), ("input", "weight")):
            if ref is None or got is None or got.numel() == 0:
                assert got is None or not got.any(), (algorithm, name)
                continue
            assert rel_err(got, ref) <= TOL[dtype] * 10, (algorithm, name, rel_err(got, ref))


@st.composite
def invalid_calls(draw):
    spec = draw(conv_specs(padding_modes=("zeros",)))
    _, w, b = make_tensors(spec)
    dtype = spec["dtype"]
    y = torch.randn(spec["batch"], spec["out_channels"], *spec["out"], dtype=dtype)
    w = w.to(dtype)
    b = None if b is None else torch.zeros(spec["in_channels"], dtype=dtype)
    opts = conv_options(spec, without=("padding_mode",))
    opts["algorithm"] = draw(st.sampled_from(ALGORITHMS))
    what = draw(
        st.sampled_from(
            [
                "stride",
                "dilation",
                "padding",
                "groups",
                "output_padding",
                "output_size",
                "flip",
                "algorithm",
                "tensors",
                "huge",
            ]
        )
    )
    ndim = y.dim() - 2
    if what in ("stride", "dilation"):
        bad = draw(BAD_INTS)
        if isinstance(bad, tuple) and len(bad) == ndim and min(bad) >= 1:
            bad = 0
        opts[what] = bad
    elif what == "padding":
        opts["padding"] = draw(bad_paddings(ndim))
    elif what == "groups":
        bad = draw(st.one_of(BAD_INTS, st.integers(2, 7)))
        if type(bad) is int and bad > 0 and spec["out_channels"] % bad == 0:
            bad = 0
        opts["groups"] = bad
    elif what == "output_padding":  # at least max(stride, dilation), or not an int >= 0
        opts["output_padding"] = draw(st.one_of(BAD_INTS.filter(lambda v: v != 0), st.just(9)))
    elif what == "output_size":
        sizes = transposed_sizes(
            spec["padding"], spec["out"], spec["kernel"], spec["stride"], spec["dilation"]
        )
        opts["output_size"] = draw(
            st.one_of(
                st.just(tuple(s[-1] + 1 for s in sizes)),  # one too large on every axis
                st.just(tuple(sizes[0][:1]) * (ndim + 1)),  # the wrong number of axes
                BAD_INTS,
            )
        )
    elif what == "flip":
        opts["flip"] = draw(st.one_of(st.integers(0, 1), st.none(), st.text(max_size=2)))
    elif what == "algorithm":
        opts["algorithm"] = draw(st.one_of(st.sampled_from(["", "Auto", "winograd"]), BAD_INTS))
    elif what == "huge":
        opts[draw(st.sampled_from(["stride", "dilation", "padding"]))] = _TOO_LARGE
    else:
        y, w, b = _break_tensors(draw(_TENSOR_KINDS), y, w, b)
    return y, w, b, opts


_TENSOR_KINDS = st.sampled_from(
    [
        "int_input",
        "bool_weight",
        "complex_input",
        "scalar_input",
        "2d_input",
        "6d_input",
        "weight_rank",
        "bias_shape",
        "bias_dtype",
        "weight_dtype",
        "list_input",
        "numpy_weight",
        "none_weight",
    ]
)


@FUZZ
@given(call=invalid_calls())
def test_invalid_arguments_raise_anyconvs_own_errors(call):
    y, w, b, opts = call
    if opts.get("output_size") is not None and opts.get("output_padding"):
        opts.pop("output_padding")
    try:
        x = anyconv.conv_transpose(y, w, b, **opts)
    except (ValueError, TypeError) as error:
        assert str(error).startswith("conv_transpose("), str(error)
        return
    # None and 0 are valid output_size / output_padding values; the rest must be refused
    harmless = {"output_size": None, "output_padding": 0}
    if any(opts.get(k, v) == v for k, v in harmless.items() if k in opts):
        return
    pytest.fail(f"conv_transpose accepted {opts} and returned {tuple(x.shape)}")
