"""Hypothesis strategies shared by the tests: random, valid convolution problems."""

from __future__ import annotations

import torch
from hypothesis import assume
from hypothesis import strategies as st
from reference import resolve


@st.composite
def conv_specs(draw):
    """A random, valid convolution problem: dims 1-3 and every option of the operator."""
    ndim = draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 4 if ndim < 3 else 3)) for _ in range(ndim))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    dilation = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    if draw(st.booleans()):  # one int for every axis, as users often write
        stride, dilation = (stride[0],) * ndim, (dilation[0],) * ndim
    mode = draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
    entry = st.one_of(
        st.sampled_from(["valid", "same", "full", "causal"]),
        st.integers(0, 3),
        st.tuples(st.integers(0, 3), st.integers(0, 3)),
    )
    padding = draw(
        st.one_of(
            st.sampled_from(["valid", "same", "full", "causal"]),
            st.integers(0, 2),
            st.tuples(*[entry] * ndim),
        )
    )
    limit = 9 if ndim < 3 else 6
    spatial = []
    for k, d in zip(kernel, dilation):
        k_eff = d * (k - 1) + 1
        spatial.append(draw(st.integers(max(1, min(k_eff - 2, limit)), max(limit, k_eff + 2))))
    pads = resolve(padding, spatial, kernel, stride, dilation)
    for n, (lo, hi), k, d in zip(spatial, pads, kernel, dilation):
        assume(n + lo + hi >= d * (k - 1) + 1)  # else the kernel overhangs the padded input
        assume(not (mode == "reflect" and max(lo, hi) > n - 1))
        assume(not (mode == "circular" and max(lo, hi) > n))
    groups = draw(st.integers(1, 3))
    return dict(
        batch=draw(st.integers(1, 3)),
        groups=groups,
        in_channels=groups * draw(st.integers(1, 2)),
        out_channels=groups * draw(st.integers(1, 2)),
        spatial=tuple(spatial),
        kernel=kernel,
        stride=stride[0] if len(set(stride)) == 1 else stride,
        dilation=dilation[0] if len(set(dilation)) == 1 else dilation,
        padding=padding,
        padding_mode=mode,
        flip=draw(st.booleans()),
        bias=draw(st.booleans()),
        dtype=draw(st.sampled_from([torch.float64, torch.float32])),
        seed=draw(st.integers(0, 2**16)),
    )


def make_tensors(spec, requires_grad=False):
    g = torch.Generator().manual_seed(spec["seed"])
    x = torch.randn(
        spec["batch"], spec["in_channels"], *spec["spatial"], generator=g, dtype=torch.float64
    )
    w = torch.randn(
        spec["out_channels"],
        spec["in_channels"] // spec["groups"],
        *spec["kernel"],
        generator=g,
        dtype=torch.float64,
    )
    b = (
        torch.randn(spec["out_channels"], generator=g, dtype=torch.float64)
        if spec["bias"]
        else None
    )
    return [t.requires_grad_(requires_grad) if t is not None else None for t in (x, w, b)]


def conv_options(spec):
    keys = ("stride", "padding", "dilation", "groups", "padding_mode", "flip")
    return {k: spec[k] for k in keys}
