"""The hypothesis strategy shared by the tests: random, valid convolution problems.

One strategy, :func:`conv_specs`, with options that narrow it for a layer that takes less
than the whole operator (no groups, no flip, 2-D and 3-D only, float64 only) or that needs
more (a tile period). The geometry is checked with the reference's own padding table, so a
drawn problem is valid by the GUIDE's rules, independently of anyconv.

Inputs are drawn the way users' tensors come, too: sizes of every parity (1 to 9 per
axis), and a ``layout`` (:data:`LAYOUTS`): batched, unbatched ``(C, *spatial)`` as
``torch.nn`` takes it, or ``channels_last`` memory. :func:`laid_out` gives the input in its
layout and :func:`reference_layout` the reference output it must then equal.
"""

from __future__ import annotations

import math

import torch
from hypothesis import assume
from hypothesis import strategies as st
from reference import output_size, resolve

MODES = ("zeros", "reflect", "replicate", "circular")
LAYOUTS = ("batched", "unbatched", "channels_last")
FORMATS = {4: torch.channels_last, 5: torch.channels_last_3d}
RULES = ("valid", "same", "full", "causal")
DTYPES = (torch.float64, torch.float32)


@st.composite
def conv_specs(
    draw,
    *,
    dims=(1, 2, 3),
    max_kernel=(4, 4, 3),
    max_stride=3,
    max_dilation=3,
    max_pad=3,
    max_groups=3,
    max_per_group=2,
    max_batch=3,
    max_size=(9, 9, 6),
    padding_modes=MODES,
    dtypes=DTYPES,
    flip=True,
    tiles=0,
):
    """A random, valid convolution problem: dims 1-3 and every option of the operator.

    Keys: ``batch, groups, in_channels, out_channels, spatial, kernel, stride, dilation,
    padding, padding_mode, bias, dtype, seed, layout`` and, from the reference, ``pads``
    (``(lo, hi)`` per axis) and ``out`` (the output size); ``flip`` unless ``flip=False``
    (layers without a flip argument); ``tiles`` (a period per axis, 1..``tiles``) if
    ``tiles > 0``. An ``"unbatched"`` layout comes with ``batch == 1``, ``"channels_last"``
    with 2 or 3 spatial axes.
    ``max_kernel`` and ``max_size`` give a bound per number of dims (index ``ndim - 1``);
    sizes reach past ``max_size`` when the dilated kernel needs it.
    """
    ndim = draw(st.sampled_from(dims))
    kernel = tuple(draw(st.integers(1, _per_dim(max_kernel, ndim))) for _ in range(ndim))
    stride = tuple(draw(st.integers(1, max_stride)) for _ in range(ndim))
    dilation = tuple(draw(st.integers(1, max_dilation)) for _ in range(ndim))
    if draw(st.booleans()):  # one int for every axis, as users often write
        stride, dilation = (stride[0],) * ndim, (dilation[0],) * ndim
    mode = draw(st.sampled_from(padding_modes))
    entry = st.one_of(
        st.sampled_from(RULES),
        st.integers(0, max_pad),
        st.tuples(st.integers(0, max_pad), st.integers(0, max_pad)),
    )
    padding = draw(
        st.one_of(
            st.sampled_from(RULES),
            st.integers(0, min(2, max_pad)),
            st.tuples(*[entry] * ndim),
        )
    )
    limit = _per_dim(max_size, ndim)
    spatial = []
    for k, d in zip(kernel, dilation):
        k_eff = d * (k - 1) + 1
        spatial.append(draw(st.integers(max(1, min(k_eff - 2, limit)), max(limit, k_eff + 2))))
    pads = resolve(padding, spatial, kernel, stride, dilation)
    for n, (lo, hi), k, d in zip(spatial, pads, kernel, dilation):
        assume(n + lo + hi >= d * (k - 1) + 1)  # else the kernel overhangs the padded input
        assume(not (mode == "reflect" and max(lo, hi) > n - 1))
        assume(not (mode == "circular" and max(lo, hi) > n))
    groups = draw(st.integers(1, max_groups))
    layout = draw(st.sampled_from(LAYOUTS if ndim > 1 else LAYOUTS[:2]))
    spec = dict(
        layout=layout,
        batch=1 if layout == "unbatched" else draw(st.integers(1, max_batch)),
        groups=groups,
        in_channels=groups * draw(st.integers(1, max_per_group)),
        out_channels=groups * draw(st.integers(1, max_per_group)),
        spatial=tuple(spatial),
        kernel=kernel,
        stride=stride[0] if len(set(stride)) == 1 else stride,
        dilation=dilation[0] if len(set(dilation)) == 1 else dilation,
        padding=padding,
        padding_mode=mode,
        bias=draw(st.booleans()),
        dtype=draw(st.sampled_from(dtypes)),
        seed=draw(st.integers(0, 2**16)),
        pads=pads,
        out=output_size(spatial, pads, kernel, stride, dilation),
    )
    if flip:
        spec["flip"] = draw(st.booleans())
    if tiles:
        spec["tiles"] = tuple(draw(st.integers(1, tiles)) for _ in range(ndim))
    return spec


def make_tensors(spec, requires_grad=False, *, weight_extra=(), bias_shape=None):
    """float64 ``(x, w, b)`` for ``spec``, seeded by ``spec["seed"]``; ``b`` is ``None``
    without bias. ``weight_extra`` is appended to the weight's shape (output positions for a
    locally connected layer, the tile period for a tiled one); ``bias_shape`` defaults to
    ``(out_channels,)``."""
    g = torch.Generator().manual_seed(spec["seed"])
    x = torch.randn(
        spec["batch"], spec["in_channels"], *spec["spatial"], generator=g, dtype=torch.float64
    )
    w = torch.randn(
        spec["out_channels"],
        spec["in_channels"] // spec["groups"],
        *spec["kernel"],
        *weight_extra,
        generator=g,
        dtype=torch.float64,
    )
    b = (
        torch.randn(bias_shape or (spec["out_channels"],), generator=g, dtype=torch.float64)
        if spec["bias"]
        else None
    )
    return [t.requires_grad_(requires_grad) if t is not None else None for t in (x, w, b)]


def laid_out(spec, x):
    """``x`` (batched, as :func:`make_tensors` gives it) in ``spec``'s layout: the one sample
    of an unbatched spec (a view, so gradients reach ``x``), or a ``channels_last`` copy."""
    if spec.get("layout") == "unbatched":
        return x[0]
    if spec.get("layout") == "channels_last":
        return x.contiguous(memory_format=FORMATS[x.dim()])
    return x


def reference_layout(spec, y):
    """The reference output ``y`` ``(N, ...)`` as a result for ``spec``'s layout must be."""
    return y[0] if spec.get("layout") == "unbatched" else y


def assert_layout(spec, x, y):
    """``y`` in the layout PyTorch gives for input ``x`` in ``spec``'s layout: channels_last
    kept, where input and output can tell the formats apart (more than one channel and one
    position; with one, both readings of the strides are contiguous)."""

    def distinct(t):
        return t.shape[1] > 1 and math.prod(t.shape[2:]) > 1

    if spec.get("layout") == "channels_last" and distinct(x) and distinct(y):
        assert y.is_contiguous(memory_format=FORMATS[y.dim()]), tuple(y.stride())


def conv_options(spec, without=()):
    """The keyword arguments of ``anyconv.conv`` (and of the reference) in ``spec``, less
    those named in ``without`` (for a function that lacks them)."""
    keys = ("stride", "padding", "dilation", "groups", "padding_mode", "flip")
    return {k: spec[k] for k in keys if k in spec and k not in without}


def _per_dim(bound, ndim):
    return bound if isinstance(bound, int) else bound[ndim - 1]


# Small fixed problems for gradcheck, which perturbs every input element: per row the number
# of dims, groups, stride, padding (rules mixed per axis) and border.
GRADCHECK_CASES = [
    (1, 1, 2, "same", "reflect"),
    (2, 2, (1, 2), ("causal", 1), "circular"),
    (3, 1, 1, ("full", 1, "same"), "replicate"),
    (2, 1, 2, (1, (0, 2)), "zeros"),
]


def gradcheck_input(ndim, groups):
    """``(x, kernel, per_group)``: a float64 input ``(1, per_group * groups, *spatial)``
    that needs gradients, few enough elements for gradcheck, and a kernel size to go with
    it. Seeds torch's global generator, for the weights the caller draws next."""
    torch.manual_seed(0)
    spatial = {1: (5,), 2: (4, 4), 3: (3, 3, 2)}[ndim]
    kernel = {1: (3,), 2: (3, 2), 3: (2, 2, 1)}[ndim]
    per_group = (2, 1, 1)[ndim - 1]
    x = torch.randn(1, per_group * groups, *spatial, dtype=torch.float64, requires_grad=True)
    return x, kernel, per_group
