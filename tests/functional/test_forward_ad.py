"""Forward-mode AD (``torch.func.jvp``, ``torch.autograd.forward_ad``,
``gradcheck(check_forward_ad=True)``) through every algorithm and every custom
``autograd.Function``: the im2col GEMM, the matrix's sparse product, the FFT path's spectral
product and overlap-save cut, locally connected, the native tiled phases and their
interleave, and SoftPool's tiled windows.

The references are independent of anyconv: a convolution is bilinear, so its tangent is
``conv(dx, w) + conv(x, dw) + db``, each term from the float64 brute force of
``tests/reference.py``; ``gradcheck`` compares against finite differences.
"""

from __future__ import annotations

import functools

import pytest
import torch
import torch.autograd.forward_ad as fwAD
from hypothesis import HealthCheck, given, settings
from reference import conv_reference, rel_err
from strategies import conv_options, conv_specs, laid_out, make_tensors, reference_layout

import anyconv
from anyconv import functional as F

ALGORITHMS = [a for a in anyconv.list_algorithms() if a != "auto"]


def _tangent_reference(x, w, b, dx, dw, db, **options):
    """``conv(dx, w) + conv(x, dw) + db`` by the float64 brute force."""
    n = lambda t: t.detach().numpy()  # noqa: E731
    ref = conv_reference(n(dx), n(w), **options) + conv_reference(n(x), n(dw), **options)
    if db is not None:
        ref = ref + n(db).reshape(-1, *(1,) * (x.dim() - 2))
    return torch.from_numpy(ref)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize(
    "options",
    [
        dict(padding="same"),
        dict(stride=2, padding="full", dilation=2, groups=2),
        dict(stride=(1, 2), padding=("causal", (1, 0)), padding_mode="reflect"),
        dict(padding=1, padding_mode="circular", flip=True),
    ],
)
def test_gradcheck_forward_mode(algorithm, options):
    g = torch.Generator().manual_seed(0)
    x, w, b = (
        torch.randn(shape, dtype=torch.float64, generator=g).requires_grad_()
        for shape in ((1, 2, 4, 4), (2, 2 // options.get("groups", 1), 2, 2), (2,))
    )
    assert torch.autograd.gradcheck(
        lambda x, w, b: anyconv.conv(x, w, b, algorithm=algorithm, **options),
        (x, w, b),
        check_forward_ad=True,
        check_backward_ad=False,  # the backward pass: tests/functional/test_conv.py
        check_undefined_grad=False,
    )


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_torch_func_jvp_and_dual_numbers_against_the_brute_force(algorithm):
    g = torch.Generator().manual_seed(1)
    x, dx = (torch.randn(2, 3, 7, 6, dtype=torch.float64, generator=g) for _ in range(2))
    w, dw = (torch.randn(4, 3, 3, 3, dtype=torch.float64, generator=g) for _ in range(2))
    b, db = (torch.randn(4, dtype=torch.float64, generator=g) for _ in range(2))
    options = dict(stride=2, padding="same", padding_mode="replicate")
    want = _tangent_reference(x, w, b, dx, dw, db, **options)

    def f(x, w, b):
        return anyconv.conv(x, w, b, algorithm=algorithm, **options)

    y, tangent = torch.func.jvp(f, (x, w, b), (dx, dw, db))
    assert rel_err(tangent, want) <= 1e-12
    assert rel_err(y, conv_reference(x, w, b, **options)) <= 1e-12
    with fwAD.dual_level():
        duals = [fwAD.make_dual(p, t) for p, t in ((x, dx), (w, dw), (b, db))]
        dual = fwAD.unpack_dual(f(*duals)).tangent
    assert rel_err(dual, want) <= 1e-12
    # a tangent for the input alone (the FFT path then reads its kernel cache)
    _, only_x = torch.func.jvp(lambda x: f(x, w, b), (x,), (dx,))
    assert rel_err(only_x, conv_reference(dx, w, **options)) <= 1e-12


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(spec=conv_specs(dtypes=(torch.float64,), max_size=(8, 6, 4)))
def test_every_algorithms_tangent_matches_the_brute_force(spec):
    """Random problems, in every layout users bring (unbatched, channels_last)."""
    options = conv_options(spec)
    x, w, b = make_tensors(spec)
    g = torch.Generator().manual_seed(spec["seed"] + 1)
    dx, dw = (torch.randn(t.shape, dtype=torch.float64, generator=g) for t in (x, w))
    db = None if b is None else torch.randn(b.shape, dtype=torch.float64, generator=g)
    want = reference_layout(spec, _tangent_reference(x, w, b, dx, dw, db, **options))
    primals = (laid_out(spec, x), w) + (() if b is None else (b,))
    tangents = (laid_out(spec, dx), dw) + (() if b is None else (db,))
    for algorithm in ALGORITHMS:
        run = functools.partial(anyconv.conv, algorithm=algorithm, **options)
        _, tangent = torch.func.jvp(run, primals, tangents)
        assert rel_err(tangent, want) <= 1e-10, algorithm


def _layer_cases():
    """The functions with custom autograd.Functions beside conv, and the paths into them."""
    d = dict(dtype=torch.float64)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(1, 2, 5, 5, generator=g, **d)
    local = torch.randn(2, 1, 2, 2, 3, 3, generator=g, **d)
    tiles = torch.randn(2, 2, 2, 2, 2, 2, generator=g, **d)
    factors = tuple(torch.randn(2, 2, 1, 3, generator=g, **d) for _ in range(2))
    long = torch.randn(1, 1, 200, generator=g, **d)
    return {
        "locally_connected": (
            lambda x, w: F.locally_connected(x, w, stride=2, padding=1, groups=2),
            (x, local),
        ),
        "tiled/phases-native": (
            lambda x, w: F.tiled_conv(x, w, tiles=2, padding="same", method="phases"),
            (x, tiles),
        ),
        "tiled/phases-im2col": (
            lambda x, w: F.tiled_conv(x, w, tiles=2, stride=2, method="phases", algorithm="im2col"),
            (x, tiles),
        ),
        "tiled/blocks-matrix": (
            lambda x, w: F.tiled_conv(x, w, tiles=2, method="blocks", algorithm="matrix"),
            (x, tiles),
        ),
        "soft_pool/tiled": (lambda x: F.soft_pool(x, 2, ceil_mode=True), (x,)),
        "soft_pool/tiled-shifted": (lambda x: F.soft_pool(60 * x, 2), (x,)),
        "soft_pool/overlapping": (lambda x: F.soft_pool(60 * x, 3, 1, padding=1), (x,)),
        "separable_conv": (
            lambda x, a, b: F.separable_conv(x, (a, b), padding="same"),
            (x, *factors),
        ),
        "blur_pool": (lambda x: F.blur_pool(x, 4), (x,)),
        "fft/overlap-save": (
            lambda x: anyconv.conv(x, torch.ones(1, 1, 5, **d), algorithm="fft"),
            (long,),
        ),
    }


@pytest.mark.parametrize("name", sorted(_layer_cases()))
def test_layers_with_custom_functions_have_forward_mode(name):
    f, args = _layer_cases()[name]
    args = tuple(a.clone().requires_grad_() for a in args)
    assert torch.autograd.gradcheck(
        f, args, check_forward_ad=True, check_backward_ad=False, check_undefined_grad=False
    )
    # torch.func.jvp too (it needs setup_context), against a central difference
    primals = tuple(a.detach() for a in args)
    g = torch.Generator().manual_seed(3)
    tangents = tuple(torch.randn(a.shape, dtype=a.dtype, generator=g) for a in primals)
    _, tangent = torch.func.jvp(f, primals, tangents)
    eps = 1e-6
    plus = f(*(p + eps * t for p, t in zip(primals, tangents)))
    minus = f(*(p - eps * t for p, t in zip(primals, tangents)))
    assert rel_err(tangent, (plus - minus) / (2 * eps)) <= 1e-6
