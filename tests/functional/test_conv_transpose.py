"""conv_transpose(): the adjoint of conv, every algorithm against independent references."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from reference import (
    conv_transpose_reference,
    rel_err,
    torch_reference,
    transposed_sizes,
)
from strategies import conv_options, conv_specs, make_tensors

import anyconv

ALGOS = ["native", "direct", "im2col", "fft", "matrix", "auto"]
TOL = {torch.float64: 1e-10, torch.float32: 1e-4}
_HEALTH = [HealthCheck.filter_too_much, HealthCheck.too_slow]


def examples(count):
    return settings(max_examples=count, deadline=None, suppress_health_check=_HEALTH)


_TORCH_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def _transpose_options(spec):
    return conv_options(spec, without=("padding_mode",))


@examples(50)
@given(spec=conv_specs(padding_modes=("zeros",)))
def test_adjoint_identity_and_references_for_every_algorithm(spec, device):
    """<conv(u), y> == <u, conv_transpose(y)>; the output equals the float64 scatter loop
    and PyTorch's input gradient of its own conv; both gradients equal PyTorch's (its conv
    for grad_y, the double backward of its conv for grad_w)."""
    opts = _transpose_options(spec)
    u, w, b = make_tensors(spec)  # u: an input of the convolution, the transpose's output
    n = spec["spatial"]
    g = torch.Generator().manual_seed(spec["seed"] + 1)
    y = torch.randn(spec["batch"], spec["out_channels"], *spec["out"], generator=g).double()
    # the transposed convolution runs from out_channels back to in_channels: its bias
    bias = None if b is None else torch.randn(spec["in_channels"], generator=g).double()
    brute = conv_transpose_reference(y, w, bias, out=n, **opts)
    # PyTorch's own: the input gradient of its conv on the explicitly padded input
    probe = torch.zeros_like(u, requires_grad=True)
    (by_grad,) = torch.autograd.grad(
        torch_reference(probe, w, None, padding_mode="zeros", **opts), probe, y
    )
    bias_term = 0 if bias is None else bias.view(-1, *(1,) * len(n))
    ref = by_grad + bias_term
    assert rel_err(ref, brute) <= 1e-12
    conv_u = torch_reference(u, w, None, padding_mode="zeros", **opts)
    grad_out = torch.randn(ref.shape, generator=g).double()
    # grad_y of the transpose is conv(grad_out); grad_w through PyTorch's double backward
    want_gy = torch_reference(grad_out, w, None, padding_mode="zeros", **opts)
    w_ref = w.clone().requires_grad_()
    probe = torch.zeros_like(u, requires_grad=True)
    (xt,) = torch.autograd.grad(
        torch_reference(probe, w_ref, None, padding_mode="zeros", **opts),
        probe,
        y,
        create_graph=True,
    )
    (want_gw,) = torch.autograd.grad(xt, w_ref, grad_out)
    dtype, tol = spec["dtype"], TOL[spec["dtype"]]
    for algo in ALGOS:
        yd, wd = (t.to(device, dtype).requires_grad_() for t in (y, w))
        bd = None if bias is None else bias.to(device, dtype)
        got = anyconv.conv_transpose(yd, wd, bd, output_size=n, algorithm=algo, **opts)
        assert got.dtype == dtype and got.device.type == device
        assert rel_err(got, brute) <= tol, algo
        inner = (conv_u * y).sum()
        plain = got.detach().cpu().double() - bias_term
        adjoint = (u * plain).sum()
        assert abs(inner - adjoint) <= tol * (1 + (u.abs() * plain.abs()).sum()), algo
        gy, gw = torch.autograd.grad(got, (yd, wd), grad_out.to(device, dtype))
        assert rel_err(gy, want_gy) <= tol, (algo, "grad_y")
        assert rel_err(gw, want_gw) <= tol, (algo, "grad_w")


@examples(60)
@given(spec=conv_specs(padding_modes=("zeros",), dtypes=(torch.float64,)), data=st.data())
def test_default_output_size_and_every_size_that_maps_back(spec, data):
    """The default size is PyTorch's for ints and pairs (plus output_padding), m*stride for
    "same"; output_size takes exactly the sizes whose convolution has m outputs (scanned
    one by one by the reference), and conv maps each back."""
    opts = _transpose_options(spec)
    m = spec["out"]
    sizes = transposed_sizes(spec["padding"], m, spec["kernel"], spec["stride"], spec["dilation"])
    ranges = anyconv.transposed_output_sizes(
        m, spec["kernel"], stride=spec["stride"], padding=spec["padding"], dilation=spec["dilation"]
    )
    assert [list(r) for r in ranges] == sizes
    ndim = len(m)
    entries = spec["padding"] if isinstance(spec["padding"], tuple) else (spec["padding"],) * ndim
    strides = spec["stride"] if isinstance(spec["stride"], tuple) else (spec["stride"],) * ndim
    # "same": the largest; the other rules: the smallest; ints and pairs: PyTorch's formula,
    # the largest minus (stride - 1), which may be below 0 (then an error, as in PyTorch)
    want = tuple(
        s[-1] if e == "same" else (s[0] if isinstance(e, str) else s[-1] - st + 1)
        for s, e, st in zip(sizes, entries, strides)
    )
    options = dict(stride=spec["stride"], padding=spec["padding"], dilation=spec["dilation"])
    if min(want) < 0:
        with pytest.raises(ValueError, match="the output size would be -"):
            anyconv.transposed_output_shape(m, spec["kernel"], **options)
    else:
        assert anyconv.transposed_output_shape(m, spec["kernel"], **options) == want
    chosen = tuple(data.draw(st.sampled_from(s)) for s in sizes)
    _, w, _ = make_tensors(spec)
    y = torch.randn(1, spec["out_channels"], *m, dtype=torch.float64)
    x = anyconv.conv_transpose(y, w, output_size=chosen, algorithm="direct", **opts)
    assert tuple(x.shape[2:]) == chosen
    assert tuple(anyconv.conv(x, w, **opts).shape[2:]) == m


@st.composite
def torch_specs(draw):
    """Specs that PyTorch's conv_transpose takes: int padding, output_padding below
    max(stride, dilation) (also past the stride, which it allows below the dilation)."""
    ndim = draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(ndim))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    dilation = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    m = tuple(draw(st.integers(1, (6, 5, 3)[ndim - 1])) for _ in range(ndim))
    padding = tuple(draw(st.integers(0, 3)) for _ in range(ndim))
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    for mm, k, s, d, p, op in zip(m, kernel, stride, dilation, padding, output_padding):
        assume((mm - 1) * s + d * (k - 1) + 1 - 2 * p + op > 0)
    groups = draw(st.integers(1, 3))
    return dict(
        m=m,
        kernel=kernel,
        stride=stride,
        dilation=dilation,
        padding=padding,
        output_padding=output_padding,
        groups=groups,
        c_in=groups * draw(st.integers(1, 2)),
        c_out=groups * draw(st.integers(1, 2)),
        bias=draw(st.booleans()),
        batch=draw(st.integers(1, 2)),
    )


@examples(60)
@given(spec=torch_specs())
def test_equals_pytorch_conv_transpose_where_it_has_the_spec(spec):
    y = torch.randn(spec["batch"], spec["c_in"], *spec["m"], dtype=torch.float64)
    w = torch.randn(spec["c_in"], spec["c_out"] // spec["groups"], *spec["kernel"]).double()
    b = torch.randn(spec["c_out"], dtype=torch.float64) if spec["bias"] else None
    opts = {k: spec[k] for k in ("stride", "padding", "output_padding", "dilation", "groups")}
    want = _TORCH_T[len(spec["m"])](y, w, b, **opts)
    for algo in ALGOS:
        got = anyconv.conv_transpose(y, w, b, algorithm=algo, **opts)
        assert rel_err(got, want) <= 1e-10, algo


# gradcheck perturbs every element: small problems, the spec's variety in the rows
GRADCHECK_SPECS = [
    dict(stride=2, padding=1, output_padding=1),
    dict(stride=(2, 1), padding=("same", "causal"), dilation=(1, 2), groups=2),
    dict(stride=1, padding=("full", (2, 0))),
    dict(stride=(1, 2), padding=0, output_padding=(1, 1), dilation=(2, 1)),  # op >= stride
    dict(stride=2, padding="valid", flip=True, output_size=(8, 7)),
]


@pytest.mark.parametrize("algo", ALGOS[:-1])
@pytest.mark.parametrize("opts", GRADCHECK_SPECS)
def test_gradcheck_with_forward_mode(algo, opts):
    g = torch.Generator().manual_seed(0)
    groups = opts.get("groups", 1)
    y, w, b = (
        torch.randn(shape, dtype=torch.float64, generator=g).requires_grad_()
        for shape in ((1, 2, 3, 3), (2, 2 // groups, 3, 2), (2,))
    )

    def f(y, w, b):
        return anyconv.conv_transpose(y, w, b, algorithm=algo, **opts)

    assert torch.autograd.gradcheck(f, (y, w, b), check_forward_ad=True)


@pytest.mark.parametrize("algo", ["native", "direct", "im2col", "fft", "matrix"])
def test_gradgradcheck(algo):
    g = torch.Generator().manual_seed(1)
    y = torch.randn(1, 2, 4, dtype=torch.float64, generator=g, requires_grad=True)
    w = torch.randn(2, 3, 3, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradgradcheck(
        lambda y, w: anyconv.conv_transpose(y, w, padding="same", stride=2, algorithm=algo),
        (y, w),
    )


@pytest.mark.parametrize("algo", ALGOS)
def test_forward_mode_jvp_equals_finite_difference(algo):
    g = torch.Generator().manual_seed(3)
    y, w, dy, dw = (
        torch.randn(shape, dtype=torch.float64, generator=g)
        for shape in ((2, 3, 5, 4), (3, 2, 3, 3)) * 2
    )

    def f(y, w):
        return anyconv.conv_transpose(y, w, stride=2, padding="same", algorithm=algo)

    _, tangent = torch.func.jvp(f, (y, w), (dy, dw))
    # bilinear: f(y + dy, w + dw) - f(y, w) - f(dy, dw) is exactly the tangent
    want = f(y + dy, w + dw) - f(y, w) - f(dy, dw)
    assert rel_err(tangent, want) <= 1e-12


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_keeps_dtype(algo, dtype):
    g = torch.Generator().manual_seed(2)
    y = torch.randn(2, 4, 5, 4, generator=g)
    w = torch.randn(4, 3, 3, 3, generator=g) / 3
    want = conv_transpose_reference(y, w, out=(10, 8), stride=2, padding="same", groups=2)
    got = anyconv.conv_transpose(
        y.to(dtype), w.to(dtype), stride=2, padding="same", groups=2, algorithm=algo
    )
    assert got.dtype == dtype
    assert rel_err(got, want) <= 2e-2


@pytest.mark.parametrize("algo", ALGOS)
def test_nan_and_inf_reach_only_the_outputs_they_scatter_to(algo):
    """As the direct scatter: the FFT path puts its pattern back (it would spread one NaN
    over every output), the gradients too."""
    y = torch.randn(1, 2, 6, dtype=torch.float64)
    y[0, 0, 1], y[0, 1, 4] = float("nan"), float("inf")
    w = torch.randn(2, 1, 3, dtype=torch.float64)
    want = conv_transpose_reference(y, w, out=(13,), stride=2)
    yd, wd = (t.clone().requires_grad_() for t in (y, w))
    got = anyconv.conv_transpose(yd, wd, stride=2, algorithm=algo)
    assert torch.equal(got.isnan(), torch.from_numpy(want).isnan())
    finite = torch.from_numpy(want).isfinite()
    assert torch.equal(got.isinf(), torch.from_numpy(want).isinf())
    assert rel_err(got[finite], want[finite.numpy()]) <= 1e-12
    direct = [t.clone().requires_grad_() for t in (y, w)]
    grad = torch.randn(1, 1, 13, dtype=torch.float64)
    want_grads = torch.autograd.grad(
        anyconv.conv_transpose(*direct, stride=2, algorithm="direct"), direct, grad
    )
    for got_g, want_g in zip(torch.autograd.grad(got, (yd, wd), grad), want_grads):
        assert torch.equal(got_g.isnan(), want_g.isnan())
        assert torch.equal(got_g.isinf(), want_g.isinf())


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize(
    ("y_shape", "w_shape"),
    [((0, 2, 5), (2, 3, 3)), ((2, 0, 5), (0, 3, 3)), ((2, 2, 5), (2, 0, 3))],
)
def test_zero_size_problems_give_the_bias(algo, y_shape, w_shape):
    y, w = torch.randn(y_shape, requires_grad=True), torch.randn(w_shape, requires_grad=True)
    b = torch.randn(w_shape[1], requires_grad=True)
    x = anyconv.conv_transpose(y, w, b, stride=2, algorithm=algo)
    assert x.shape == (y_shape[0], w_shape[1], 11)
    assert torch.equal(x, b.view(-1, 1).expand_as(x))
    x.sum().backward()
    assert torch.equal(y.grad, torch.zeros_like(y))


def test_empty_output_axis():
    """ "full" padding maps a 1-sample input back to size 0 for a kernel of 2."""
    x = anyconv.conv_transpose(torch.randn(1, 1, 1), torch.randn(1, 2, 2), padding="full")
    assert x.shape == (1, 2, 0)


def test_flip_is_the_adjoint_of_true_convolution():
    y = torch.randn(1, 2, 5, 5, dtype=torch.float64)
    w = torch.randn(2, 3, 3, 2, dtype=torch.float64)
    a = anyconv.conv_transpose(y, w, flip=True, padding="same")
    b = anyconv.conv_transpose(y, w.flip(2, 3), padding="same")
    assert torch.equal(a, b)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(output_padding=2, stride=2), ValueError, "smaller than the stride or the dilation"),
        (dict(output_padding=1, stride=2, padding="same"), ValueError, "must be 0 on spatial"),
        (dict(output_size=(20, 20), stride=2), ValueError, "one of 9..10, 9..10"),
        (dict(output_size=(10,), stride=2), ValueError, "a tuple of 2 ints"),
        (dict(output_size=(10, 10), output_padding=1, stride=2), ValueError, "not both"),
        (dict(padding=9), ValueError, "no output size maps back"),
        (dict(groups=3), ValueError, "dividing in_channels"),
        (dict(padding_mode="reflect"), ValueError, "'padding_mode' must be 'zeros' .*adjoint"),
        (dict(padding_mode="mirror"), ValueError, "'padding_mode' must be one of"),
        (dict(stride=0), ValueError, "'stride' must be a positive int"),
    ],
)
def test_errors_name_the_argument(kwargs, error, match):
    y, w = torch.randn(1, 4, 4, 4), torch.randn(4, 2, 3, 3)
    with pytest.raises(error, match=match):
        anyconv.conv_transpose(y, w, **kwargs)


def test_channel_and_shape_errors():
    with pytest.raises(ValueError, match=r"expects weight.shape\[0\] = 4 input channels"):
        anyconv.conv_transpose(torch.randn(1, 3, 5), torch.randn(4, 2, 3))
    with pytest.raises(ValueError, match=r"in_channels, out_channels/groups"):
        anyconv.conv_transpose(torch.randn(1, 4, 5), torch.randn(4, 2, 3, 3))
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        anyconv.conv_transpose(torch.randn(1, 4, 5), torch.randn(4, 2, 3), torch.randn(2), groups=2)
    with pytest.raises(ValueError, match="no output size maps back"):
        anyconv.conv_transpose(torch.randn(1, 4, 0), torch.randn(4, 2, 3))


@pytest.mark.parametrize("algo", ALGOS)
def test_expanded_and_channels_last_inputs(algo):
    """Found by the fuzz test: the FFT path's spectrum of a stride-0 expanded input (the
    transform at the input's own size) had strides its grouped contraction could not view."""
    y = torch.randn(1, 2, 2, dtype=torch.float64).expand(2, 2, 2)
    w = torch.randn(2, 2, 1, dtype=torch.float64)
    want = conv_transpose_reference(y, w, out=(2,), groups=2)
    assert rel_err(anyconv.conv_transpose(y, w, groups=2, algorithm=algo), want) <= 1e-12
    y4 = torch.randn(2, 4, 5, 5, dtype=torch.float64).to(memory_format=torch.channels_last)
    w4 = torch.randn(4, 1, 3, 3, dtype=torch.float64)
    want = conv_transpose_reference(y4, w4, out=(10, 10), stride=2, padding="same", groups=4)
    got = anyconv.conv_transpose(y4, w4, stride=2, padding="same", groups=4, algorithm=algo)
    assert rel_err(got, want) <= 1e-12


@pytest.mark.parametrize("algo", ALGOS)
def test_unbatched_input_and_channels_last_output(algo):
    """As torch.nn.functional.conv_transpose2d: an unbatched (C, *spatial) input, and
    output_size with the channel axis; a channels-last input gives a channels-last output."""
    y = torch.randn(4, 5, 5, dtype=torch.float64)
    w = torch.randn(4, 3, 3, 3, dtype=torch.float64)
    want = F.conv_transpose2d(y, w, stride=2, padding=1, output_padding=1)
    got = anyconv.conv_transpose(y, w, stride=2, padding=1, output_size=(3, 10, 10), algorithm=algo)
    assert got.shape == (3, 10, 10) and rel_err(got, want) <= 1e-12
    y4 = y[None].to(memory_format=torch.channels_last)
    out = anyconv.conv_transpose(y4, w, stride=2, padding="same", algorithm=algo)
    assert out.is_contiguous(memory_format=torch.channels_last)
