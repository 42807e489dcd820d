"""Locally connected and tiled convolution against a float64 brute-force loop, identities,
equivariance, gradients and error messages."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import anyconv
from anyconv.functional.local import locally_connected
from anyconv.functional.tiled import tiled_conv

NP_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def brute_force(x, weight, bias, *, stride, dilation, padding, groups, mode, kernel_at):
    """``y[n, o, j] = sum_{c, p} kernel_at(j)[o, c, p] * x_pad[n, c, j*s + p*d]`` by a loop
    over output positions, in float64 numpy; ``padding`` is explicit ``(lo, hi)`` per axis."""
    x = np.asarray(x, dtype=np.float64)
    xp = np.pad(x, ((0, 0), (0, 0), *padding), mode=NP_MODES[mode])
    out_channels, per_group = weight.shape[:2]
    ndim = x.ndim - 2
    kernel = weight.shape[2 : 2 + ndim]
    out = tuple(
        (xp.shape[2 + a] - dilation[a] * (kernel[a] - 1) - 1) // stride[a] + 1 for a in range(ndim)
    )
    y = np.zeros((x.shape[0], out_channels, *out))
    og = out_channels // groups
    for j in itertools.product(*map(range, out)):
        idx = [j[a] * stride[a] + np.arange(kernel[a]) * dilation[a] for a in range(ndim)]
        window = xp[np.ix_(range(x.shape[0]), range(x.shape[1]), *idx)]
        w = kernel_at(j)
        for g in range(groups):
            y[(slice(None), slice(g * og, (g + 1) * og), *j)] = np.tensordot(
                window[:, g * per_group : (g + 1) * per_group],
                w[g * og : (g + 1) * og],
                axes=(list(range(1, 2 + ndim)), list(range(1, 2 + ndim))),
            )
        if bias is not None:
            y[(slice(None), slice(None), *j)] += bias[(slice(None), *j)] if bias.ndim > 1 else bias
    return y


@st.composite
def specs(draw, max_size=5):
    """A random valid spec: dims, sizes, kernel, stride, dilation, groups, padding, mode."""
    ndim = draw(st.integers(1, 3))
    size_cap = {1: 9, 2: 6, 3: 4}[ndim] if max_size == 5 else max_size
    groups = draw(st.sampled_from([1, 2]))
    per_group_in = draw(st.integers(1, 2))
    per_group_out = draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    stride = tuple(draw(st.integers(1, 2)) for _ in range(ndim))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(ndim))
    entry = st.one_of(
        st.sampled_from(["valid", "same", "full", "causal"]),
        st.integers(0, 2),
        st.tuples(st.integers(0, 2), st.integers(0, 2)),
    )
    padding = draw(
        st.one_of(st.sampled_from(["valid", "same", "full", "causal"]), st.tuples(*[entry] * ndim))
    )
    mode = draw(st.sampled_from(list(NP_MODES)))
    spatial = tuple(draw(st.integers(1, size_cap + 2)) for _ in range(ndim))
    try:
        pads = anyconv.resolve_padding(
            spatial, kernel, stride=stride, padding=padding, dilation=dilation
        )
    except ValueError:
        assume(False)
    for (lo, hi), n in zip(pads, spatial, strict=True):
        limit = n - 1 if mode == "reflect" else n
        assume(mode not in ("reflect", "circular") or max(lo, hi) <= limit)
    out = anyconv.output_shape(spatial, kernel, stride=stride, padding=padding, dilation=dilation)
    return dict(
        batch=draw(st.integers(1, 2)),
        in_channels=groups * per_group_in,
        out_channels=groups * per_group_out,
        spatial=spatial,
        kernel=kernel,
        stride=stride,
        dilation=dilation,
        padding=padding,
        pads=pads,
        mode=mode,
        groups=groups,
        out=out,
        tiles=tuple(draw(st.integers(1, 3)) for _ in kernel),
        bias=draw(st.booleans()),
    )


def _kwargs(spec):
    return dict(
        stride=spec["stride"],
        padding=spec["padding"],
        dilation=spec["dilation"],
        groups=spec["groups"],
        padding_mode=spec["mode"],
    )


def _ref_kwargs(spec):
    return dict(
        stride=spec["stride"],
        dilation=spec["dilation"],
        padding=spec["pads"],
        groups=spec["groups"],
        mode=spec["mode"],
    )


def _tensors(spec, trailing, bias_shape, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(
        spec["batch"], spec["in_channels"], *spec["spatial"], dtype=torch.float64, generator=gen
    )
    w = torch.randn(
        spec["out_channels"],
        spec["in_channels"] // spec["groups"],
        *spec["kernel"],
        *trailing,
        dtype=torch.float64,
        generator=gen,
    )
    b = torch.randn(*bias_shape, dtype=torch.float64, generator=gen) if spec["bias"] else None
    return x, w, b


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(specs())
def test_locally_connected_matches_brute_force(spec):
    x, w, b = _tensors(spec, spec["out"], (spec["out_channels"], *spec["out"]))
    y = locally_connected(x, w, b, **_kwargs(spec))
    ndim = len(spec["spatial"])
    ref = brute_force(
        x.numpy(),
        w.numpy(),
        None if b is None else b.numpy(),
        kernel_at=lambda j: w.numpy()[(..., *j)],
        **_ref_kwargs(spec),
    )
    assert y.shape == ref.shape == (spec["batch"], spec["out_channels"], *spec["out"])
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-10, atol=1e-10)
    assert ndim == y.dim() - 2


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    specs(),
    st.sampled_from(["auto", "native", "direct", "im2col"]),
    st.sampled_from(["auto", "phases", "blocks"]),
)
def test_tiled_conv_matches_brute_force(spec, algorithm, method):
    tiles = spec["tiles"]
    x, w, b = _tensors(spec, tiles, (spec["out_channels"],))
    y = tiled_conv(x, w, b, tiles=tiles, algorithm=algorithm, method=method, **_kwargs(spec))
    ref = brute_force(
        x.numpy(),
        w.numpy(),
        None if b is None else b.numpy(),
        kernel_at=lambda j: w.numpy()[(..., *(i % t for i, t in zip(j, tiles, strict=True)))],
        **_ref_kwargs(spec),
    )
    assert y.shape == ref.shape
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-10, atol=1e-10)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(specs())
def test_tiled_native_phases_backward_matches_autograd(spec):
    """The native phases' own backward (PhaseConv) against autograd through the direct sum."""
    tiles = spec["tiles"]
    x, w, b = _tensors(spec, tiles, (spec["out_channels"],))
    leaves = [t.requires_grad_() for t in (x, w, b) if t is not None]
    y = tiled_conv(x, w, b, tiles=tiles, algorithm="native", method="phases", **_kwargs(spec))
    ref = tiled_conv(x, w, b, tiles=tiles, algorithm="direct", method="phases", **_kwargs(spec))
    grad = torch.randn(ref.shape, dtype=ref.dtype, generator=torch.Generator().manual_seed(1))
    got = torch.autograd.grad(y, leaves, grad)
    want = torch.autograd.grad(ref, leaves, grad)
    torch.testing.assert_close(y, ref, rtol=1e-10, atol=1e-10)
    for a, b_ in zip(got, want, strict=True):
        torch.testing.assert_close(a, b_, rtol=1e-10, atol=1e-10)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(specs())
def test_tiled_with_one_tile_is_conv(spec):
    x, w, b = _tensors(spec, (1,) * len(spec["kernel"]), (spec["out_channels"],))
    y = tiled_conv(x, w, b, tiles=1, **_kwargs(spec))
    w0 = w[(..., *(0,) * len(spec["kernel"]))]
    torch.testing.assert_close(y, anyconv.conv(x, w0, b, **_kwargs(spec)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(specs(), st.integers(0, 2))
def test_tiled_covering_output_is_locally_connected(spec, extra):
    tiles = tuple(m + extra for m in spec["out"])
    x, w, _ = _tensors(dict(spec, bias=False), tiles, ())
    y = tiled_conv(x, w, tiles=tiles, **_kwargs(spec))
    w_local = w[(..., *(slice(0, m) for m in spec["out"]))]
    torch.testing.assert_close(y, locally_connected(x, w_local, **_kwargs(spec)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(specs())
def test_locally_connected_with_equal_kernels_is_conv(spec):
    ndim = len(spec["kernel"])
    x, w, b = _tensors(spec, (1,) * ndim, (spec["out_channels"],))
    w_local = w.expand(*w.shape[: 2 + ndim], *spec["out"])
    b_local = None if b is None else b.view(-1, *(1,) * ndim).expand(-1, *spec["out"])
    y = locally_connected(x, w_local, b_local, **_kwargs(spec))
    torch.testing.assert_close(y, anyconv.conv(x, w[(..., *(0,) * ndim)], b, **_kwargs(spec)))


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_tiled_equivariant_to_shifts_by_multiples_of_tiles(ndim):
    torch.manual_seed(0)
    size, tiles = {1: 12, 2: 12, 3: 6}[ndim], (2, 3, 2)[:ndim]
    x = torch.randn(2, 3, *(size,) * ndim)
    w = torch.randn(4, 3, *(3,) * ndim, *tiles)
    dims = tuple(range(2, 2 + ndim))

    def f(v):
        return tiled_conv(v, w, tiles=tiles, padding="same", padding_mode="circular")

    multiple = tuple(2 * t for t in tiles)
    err = (f(x.roll(multiple, dims)) - f(x).roll(multiple, dims)).abs().max()
    assert err <= 1e-5
    # a shift that is not a multiple of the period breaks it
    err = (f(x.roll(1, dims[-1])) - f(x).roll(1, dims[-1])).abs().max()
    assert err > 1e-1


def test_locally_connected_is_not_translation_equivariant():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 10, 10)
    w = torch.randn(4, 3, 3, 3, 10, 10)

    def f(v):
        return locally_connected(v, w, padding="same", padding_mode="circular")

    err = (f(x.roll(1, -1)) - f(x).roll(1, -1)).abs().max()
    assert err > 1.0, err


@pytest.mark.parametrize(
    ("ndim", "groups", "stride", "padding", "mode"),
    [
        (1, 1, 2, "same", "reflect"),
        (2, 2, (1, 2), ("causal", 1), "circular"),
        (3, 1, 1, ("full", 1, "same"), "replicate"),
        (2, 1, 2, (1, (0, 2)), "zeros"),
    ],
)
def test_gradcheck(ndim, groups, stride, padding, mode):
    torch.manual_seed(0)
    # few weights: gradcheck perturbs every one of them
    spatial = {1: (5,), 2: (4, 4), 3: (3, 3, 2)}[ndim]
    kernel = {1: (3,), 2: (3, 2), 3: (2, 2, 1)}[ndim]
    per_group = (2, 1, 1)[ndim - 1]
    x = torch.randn(1, per_group * groups, *spatial, dtype=torch.float64, requires_grad=True)
    out = anyconv.output_shape(spatial, kernel, stride=stride, padding=padding)
    kw = dict(stride=stride, padding=padding, groups=groups, padding_mode=mode)
    w = torch.randn(groups, per_group, *kernel, *out, dtype=torch.float64, requires_grad=True)
    b = torch.randn(groups, *out, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda *t: locally_connected(*t, **kw), (x, w, b))
    wt = torch.randn(
        groups, per_group, *kernel, *(2,) * ndim, dtype=torch.float64, requires_grad=True
    )
    bt = torch.randn(groups, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda *t: tiled_conv(*t, tiles=2, **kw), (x, wt, bt))


def test_gradient_only_for_what_needs_it():
    torch.manual_seed(0)
    x = torch.randn(2, 2, 5, 5, dtype=torch.float64)
    w = torch.randn(3, 2, 3, 3, 3, 3, dtype=torch.float64, requires_grad=True)
    locally_connected(x, w).sum().backward()
    assert x.grad is None and w.grad is not None
    # the input gradient alone, against autograd through the unfold + einsum recipe
    x.requires_grad_()
    w = w.detach()
    g = torch.randn(2, 3, 3, 3, dtype=torch.float64)
    (gx,) = torch.autograd.grad(locally_connected(x, w), x, g)
    cols = torch.nn.functional.unfold(x, 3).view(2, 2, 9, 9)
    ref = torch.einsum("nckl,ockl->nol", cols, w.reshape(3, 2, 9, 9)).view(2, 3, 3, 3)
    (gx_ref,) = torch.autograd.grad(ref, x, g)
    torch.testing.assert_close(gx, gx_ref)


def test_dtype_float32_close_to_float64():
    torch.manual_seed(0)
    x = torch.randn(2, 4, 9, 9)
    w = torch.randn(6, 2, 3, 3, 5, 5)
    y32 = locally_connected(x, w, stride=2, padding="same", groups=2)
    y64 = locally_connected(x.double(), w.double(), stride=2, padding="same", groups=2)
    torch.testing.assert_close(y32, y64.float(), atol=1e-4, rtol=1e-4)


def _lc_args():
    return torch.randn(1, 2, 6, 6), torch.randn(3, 2, 3, 3, 4, 4)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda x, w: locally_connected(x.numpy(), w), TypeError, "'input'"),
        (lambda x, w: locally_connected(x.long(), w), TypeError, "'input'"),
        (lambda x, w: locally_connected(x[0, 0], w), ValueError, "'input'"),
        (lambda x, w: locally_connected(x, w[..., 0]), ValueError, r"'weight'.*out_spatial"),
        (
            lambda x, w: locally_connected(x, w, padding="same"),
            ValueError,
            r"'weight'.*\(4, 4\).*\(6, 6\)",
        ),
        (lambda x, w: locally_connected(x, w.double()), TypeError, "'weight'"),
        (lambda x, w: locally_connected(x, w, torch.zeros(3)), ValueError, r"'bias'.*\(3, 4, 4\)"),
        (lambda x, w: locally_connected(x, w, stride=0), ValueError, "'stride'"),
        (lambda x, w: locally_connected(x, w, dilation=(1,)), ValueError, "'dilation'"),
        (lambda x, w: locally_connected(x, w, groups=2), ValueError, "'groups'"),
        (lambda x, w: locally_connected(x, w, padding="middle"), ValueError, "'padding'"),
        (lambda x, w: locally_connected(x, w, padding_mode="mirror"), ValueError, "'padding_mode'"),
        (lambda x, w: tiled_conv(x, w[..., :2, :2]), TypeError, "tiles"),
        (lambda x, w: tiled_conv(x, w[..., :2, :2], tiles=3), ValueError, r"'weight'.*\(3, 3\)"),
        (lambda x, w: tiled_conv(x, w[..., :2, :2], tiles=0), ValueError, "'tiles'"),
        (lambda x, w: tiled_conv(x, w[..., :2, :2], tiles=(2, 2, 2)), ValueError, "'tiles'"),
        (lambda x, w: tiled_conv(x, w[..., :2, :2], tiles=2.0), TypeError, "'tiles'"),
        (
            lambda x, w: tiled_conv(x, w[..., :2, :2], torch.zeros(3, 2, 2), tiles=2),
            ValueError,
            "'bias'",
        ),
        (
            lambda x, w: tiled_conv(x, w[..., :2, :2], tiles=2, algorithm="magic"),
            ValueError,
            "'algorithm'",
        ),
        (
            lambda x, w: tiled_conv(x, w[..., :2, :2], tiles=2, padding=9, padding_mode="reflect"),
            ValueError,
            "'padding'",
        ),
        (
            lambda x, w: tiled_conv(x, w[:, :, :2, :2, :2, :2], tiles=2, groups=1.5),
            TypeError,
            "'groups'",
        ),
    ],
)
def test_errors_name_the_argument(call, error, match):
    x, w = _lc_args()
    with pytest.raises(error, match=match):
        call(x, w)


@pytest.mark.parametrize("method", ["phases", "blocks"])
def test_tiled_methods_gradcheck(method):
    g = torch.Generator().manual_seed(4)
    x = torch.randn(2, 4, 7, 6, dtype=torch.float64, generator=g, requires_grad=True)
    w = torch.randn(6, 2, 3, 2, 2, 3, dtype=torch.float64, generator=g, requires_grad=True)
    b = torch.randn(6, dtype=torch.float64, generator=g, requires_grad=True)

    def f(x, w, b):
        return tiled_conv(
            x,
            w,
            b,
            tiles=(2, 3),
            stride=(1, 2),
            dilation=(2, 1),
            groups=2,
            padding="same",
            padding_mode="reflect",
            method=method,
        )

    assert torch.autograd.gradcheck(f, (x, w, b))
    assert torch.autograd.gradgradcheck(f, (x, w, b))


def test_tiled_auto_method_avoids_wasteful_blocks():
    from anyconv.functional.conv import conv_spec
    from anyconv.functional.tiled import BLOCKS_MAX_WASTE, _blocks_waste

    def waste(k, tiles):
        spec = conv_spec(
            (1, 1, 64, 64),
            (1, 1, k, k),
            stride=1,
            padding="same",
            dilation=1,
            groups=1,
            padding_mode="zeros",
        )
        return _blocks_waste((k, k), (tiles, tiles), spec)

    assert waste(3, 2) <= BLOCKS_MAX_WASTE < waste(3, 8)


def test_tiled_unknown_method_is_a_clear_error():
    with pytest.raises(ValueError, match="method"):
        tiled_conv(torch.randn(1, 1, 8), torch.randn(1, 1, 3, 2), tiles=2, method="fast")
