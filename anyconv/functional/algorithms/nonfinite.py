"""The direct sum's NaN/inf pattern for algorithms that mix every input into every output.

In the direct sum ``y[j] = sum_p w[p] · x[j·s + p·d]`` a NaN or an infinity in the input
reaches only the outputs whose window touches it. A transform-based algorithm (the FFT)
spreads it to every output instead. :func:`exact` restores the direct sum's answer: it runs
the algorithm on the finite parts (non-finite entries replaced by zeros) and puts NaN and
±inf back where the direct sum has them, found by correlating masks of the non-finite
entries with masks of the other operand's signs. IEEE arithmetic decides each term:

- NaN times anything, and ±inf times zero, is NaN;
- ±inf times a nonzero value is an infinity of the product's sign;
- a sum holding a NaN, or both +inf and -inf, is NaN; else one infinity sets its sign.

Zero padding counts as zeros (so ``inf`` weights give NaN where they reach the border). The
same rule gives the backward pass: the input gradient pairs the output gradient with the
weight, the weight gradient pairs the input with the output gradient. The mask
correlations run through the algorithm itself in float64, where counts (integers) stay
exact far beyond any kernel's size.

The caller detects the case cheaply: only an output with a non-finite value, and then only
non-finite operands, lead here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch
from torch.autograd.function import once_differentiable

from anyconv.padding import ConvSpec, Padding, pad

Correlate = Callable[[torch.Tensor, torch.Tensor, ConvSpec], torch.Tensor]
"""A zero-padded correlation ``(x, w, spec) -> y`` with ``spec.padding`` all zeros."""

Pattern = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
"""Boolean masks ``(nan, pinf, ninf)`` of where a result is NaN, +inf, -inf."""

_INF = ("pinf", "ninf")
_SIGNS = ("pos", "neg", "zero")
PRODUCTS: dict[tuple[str, str], str] = {
    ("nan", "all"): "nan",
    ("all", "nan"): "nan",
    **{(a, "zero"): "nan" for a in _INF},
    **{("zero", b): "nan" for b in _INF},
    **{
        (a, b): "pinf" if (a in ("pinf", "pos")) == (b in ("pinf", "pos")) else "ninf"
        for a in (*_INF, "pos", "neg")
        for b in (*_INF, "pos", "neg")
        if a in _INF or b in _INF
    },
}
"""Kind of the product of an entry of category ``a`` and one of category ``b`` that is not
finite: ``"nan"``, ``"pinf"`` or ``"ninf"``. Categories: ``nan``, ``pinf``, ``ninf`` and the
finite ``pos``, ``neg``, ``zero``; ``all`` is every entry."""


def _mask(t: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "all":
        return torch.ones_like(t, dtype=torch.bool)
    if kind == "nan":
        return torch.isnan(t)
    if kind == "pinf":
        return torch.isposinf(t)
    if kind == "ninf":
        return torch.isneginf(t)
    finite = torch.isfinite(t)
    if kind == "pos":
        return finite & (t > 0)
    if kind == "neg":
        return finite & (t < 0)
    return t == 0


def _present(t: torch.Tensor, padded: bool) -> set[str]:
    """The categories with at least one entry (``zero`` also when zero padding is added)."""
    kinds = {"all"}
    for kind in ("nan", *_INF, *_SIGNS):
        if bool(_mask(t, kind).any()) or (padded and kind == "zero"):
            kinds.add(kind)
    return kinds


def _pairs(a: torch.Tensor, b: torch.Tensor, a_padded: bool, b_padded: bool = False):
    """The ``(category of a, category of b)`` pairs whose products are not finite and that
    occur (both categories have entries), and the categories each side needs."""
    have_a, have_b = _present(a, a_padded), _present(b, b_padded)
    pairs = [p for p in PRODUCTS if p[0] in have_a and p[1] in have_b]
    return pairs, sorted({p[0] for p in pairs}), sorted({p[1] for p in pairs})


def _masks(t: torch.Tensor, kinds, padding: Padding | None = None) -> list[torch.Tensor]:
    """float64 masks of ``t`` per kind; with ``padding``, zero-padded (the padding's zeros
    count in ``zero`` and ``all``)."""
    out = []
    for kind in kinds:
        m = _mask(t, kind).double()
        if padding is not None:
            m = pad(m, padding, value=1.0 if kind in ("zero", "all") else 0.0)
        out.append(m)
    return out


def _combine(counts: dict[tuple[str, str], torch.Tensor], pairs) -> Pattern:
    """``(nan, pinf, ninf)`` boolean masks from the pair counts (a count is an integer, so
    ``> 0.5`` is exact whatever the rounding of the correlation)."""
    found: dict[str, torch.Tensor] = {}
    for pair in pairs:
        hit = counts[pair] > 0.5
        kind = PRODUCTS[pair]
        found[kind] = hit if kind not in found else found[kind] | hit
    none = torch.zeros_like(next(iter(found.values())))
    return tuple(found.get(kind, none) for kind in ("nan", "pinf", "ninf"))


def place(value: torch.Tensor, pattern: Pattern | None) -> torch.Tensor:
    """``value`` with NaN and ±inf put where ``pattern = (nan, pinf, ninf)`` says (both
    infinities in one sum make NaN); ``value`` itself for ``None``."""
    if pattern is None:
        return value
    nan, pinf, ninf = pattern
    inf = torch.tensor(float("inf"), dtype=value.dtype, device=value.device)
    value = torch.where(pinf, inf, torch.where(ninf, -inf, value))
    return torch.where(nan | (pinf & ninf), torch.nan, value)


def _valid(spec: ConvSpec) -> ConvSpec:
    """``spec`` without padding: the masks are padded explicitly."""
    return dataclasses.replace(spec, padding=((0, 0),) * len(spec.stride), padding_mode="zeros")


def forward_pattern(correlate: Correlate, x, w, spec: ConvSpec) -> Pattern | None:
    """Where the direct sum's output ``(N, O, *out)`` is NaN, +inf, -inf."""
    pairs, kinds_x, kinds_w = _pairs(x, w, any(lo or hi for lo, hi in spec.padding))
    if not pairs:
        return None
    n, o, g = x.shape[0], w.shape[0], spec.groups
    xs = torch.cat(_masks(x, kinds_x, spec.padding))  # (K·N, C, *P)
    ws = torch.stack([m.view(g, o // g, *m.shape[1:]) for m in _masks(w, kinds_w)], 1)
    y = correlate(xs, ws.reshape(-1, *w.shape[1:]), _valid(spec))
    y = y.view(len(kinds_x), n, g, len(kinds_w), o // g, *y.shape[2:])
    counts = {
        (a, b): y[i, :, :, j].reshape(n, o, *y.shape[5:])
        for i, a in enumerate(kinds_x)
        for j, b in enumerate(kinds_w)
    }
    return _combine(counts, pairs)


def grad_input_pattern(correlate: Correlate, grad, w, x_shape, spec: ConvSpec):
    """Where the direct sum's input gradient ``x_shape`` is NaN, +inf, -inf, from the output
    gradient ``grad`` and the weight (zero padding's gradient is dropped)."""
    pairs, kinds_g, kinds_w = _pairs(grad, w, False)
    if not pairs:
        return None
    n, c = x_shape[:2]
    o, g = w.shape[0], spec.groups
    padded = [s + lo + hi for s, (lo, hi) in zip(x_shape[2:], spec.padding, strict=True)]
    ws = torch.stack(_masks(w, kinds_w), 1).reshape(o, -1, *w.shape[2:])  # (O, L·C/g, *k)
    probe = ws.new_zeros(len(kinds_g) * n, g * len(kinds_w) * (c // g), *padded)
    probe.requires_grad_()
    with torch.enable_grad():
        y = correlate(probe, ws, _valid(spec))
        (counts_x,) = torch.autograd.grad(y, probe, torch.cat(_masks(grad, kinds_g)))
    counts_x = counts_x.view(len(kinds_g), n, g, len(kinds_w), c // g, *padded)
    # the padding cut off (a negative hi, which a transposed convolution's spec may have,
    # gives back input positions that no window reads: zero counts)
    crop = tuple((-lo, -hi) for lo, hi in spec.padding)
    counts = {
        (a, b): pad(counts_x[i, :, :, j].reshape(n, c, *padded), crop)
        for i, a in enumerate(kinds_g)
        for j, b in enumerate(kinds_w)
    }
    return _combine(counts, pairs)


def grad_weight_pattern(correlate: Correlate, x, grad, w_shape, spec: ConvSpec):
    """Where the direct sum's weight gradient ``w_shape`` is NaN, +inf, -inf, from the input
    (zero padding included) and the output gradient."""
    pairs, kinds_x, kinds_g = _pairs(x, grad, any(lo or hi for lo, hi in spec.padding))
    if not pairs:
        return None
    n = x.shape[0]
    o, per_group, *kernel = w_shape
    g = spec.groups
    xs = torch.stack(_masks(x, kinds_x, spec.padding), 1)  # (N, K, C, *P)
    xs = xs.view(n, len(kinds_x), g, per_group, *xs.shape[3:]).transpose(1, 2)
    xs = xs.reshape(n, -1, *xs.shape[4:])  # (N, g·K·C/g, *P)
    gs = torch.stack(_masks(grad, kinds_g), 1)  # (N, L, O, *out)
    gs = gs.view(n, len(kinds_g), g, o // g, *gs.shape[3:]).transpose(1, 2)
    gs = gs.reshape(n, -1, *gs.shape[4:])  # (N, g·L·O/g, *out)
    probe = xs.new_zeros(g * len(kinds_g) * (o // g), len(kinds_x) * per_group, *kernel)
    probe.requires_grad_()
    with torch.enable_grad():
        y = correlate(xs, probe, _valid(spec))
        (counts_w,) = torch.autograd.grad(y, probe, gs)
    counts_w = counts_w.view(g, len(kinds_g), o // g, len(kinds_x), per_group, *kernel)
    counts = {
        (a, b): counts_w[:, j, :, i].reshape(o, per_group, *kernel)
        for i, a in enumerate(kinds_x)
        for j, b in enumerate(kinds_g)
    }
    return _combine(counts, pairs)


def _finite(t: torch.Tensor) -> torch.Tensor:
    return torch.where(torch.isfinite(t), t, 0.0)


def _has_nonfinite(t: torch.Tensor) -> bool:
    """Whether ``t`` holds NaN or an infinity. The sum is the fast test (NaN and infinities
    make it non-finite; one reduction without a mask, some 40x cheaper than
    ``isfinite(t).all()`` on large tensors); only a non-finite sum, which finite values can
    also give by overflowing, is checked element by element."""
    if t.numel() == 0 or bool(torch.isfinite(t.detach().sum())):
        return False
    return not bool(torch.isfinite(t).all())


class _Exact(torch.autograd.Function):
    """The correlation of the finite parts, with the direct sum's NaN/inf pattern put back,
    forward and backward (first-order gradients only)."""

    @staticmethod
    def forward(ctx, x, w, correlate: Correlate, spec: ConvSpec):
        with torch.enable_grad():
            leaves = [
                _finite(t).detach().requires_grad_(need)
                for t, need in zip((x, w), ctx.needs_input_grad[:2], strict=True)
            ]
            y0 = correlate(*leaves, spec)
        ctx.graph = (y0, leaves)
        ctx.correlate, ctx.spec = correlate, spec
        ctx.save_for_backward(x, w)
        return place(y0.detach(), forward_pattern(correlate, x, w, spec))

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        y0, leaves = ctx.graph
        wanted = [leaf for leaf in leaves if leaf.requires_grad]
        grads = iter(torch.autograd.grad(y0, wanted, _finite(grad)) if wanted else ())
        gx = next(grads) if leaves[0].requires_grad else None
        gw = next(grads) if leaves[1].requires_grad else None
        bad_grad = _has_nonfinite(grad)
        if gx is not None and (bad_grad or _has_nonfinite(w)):
            gx = place(gx, grad_input_pattern(ctx.correlate, grad, w, x.shape, ctx.spec))
        if gw is not None and (bad_grad or _has_nonfinite(x)):
            gw = place(gw, grad_weight_pattern(ctx.correlate, x, grad, w.shape, ctx.spec))
        return gx, gw, None, None


def spreads(y: torch.Tensor, x: torch.Tensor, w: torch.Tensor) -> bool:
    """Whether ``y`` needs :func:`exact`: it has a non-finite value (one reduction over the
    output, the only cost on finite data) and an operand has one too."""
    if not _has_nonfinite(y):
        return False
    return _has_nonfinite(x) or _has_nonfinite(w)


def exact(correlate: Correlate, x: torch.Tensor, w: torch.Tensor, spec: ConvSpec):
    """``correlate(x, w, spec)`` (zero padding as in ``spec``) with the direct sum's NaN and
    ±inf pattern in the output and in both gradients. A border other than zeros is applied
    to ``x`` first (with :func:`anyconv.pad`, whose gradient folds the border back).

    Example:
        >>> from anyconv.functional.algorithms.direct import conv_direct
        >>> x = torch.tensor([[[1.0, float("nan"), 2.0, 3.0, 4.0]]])
        >>> spec = ConvSpec((1,), (1,), ((0, 0),), 1, "zeros", (4,))
        >>> exact(lambda a, b, s: conv_direct(a, b, None, s), x, torch.ones(1, 1, 2), spec)
        tensor([[[nan, nan, 5., 7.]]])
    """
    if spec.padding_mode != "zeros":
        x = pad(x, spec.padding, spec.padding_mode)
        spec = _valid(spec)
    return _Exact.apply(x, w, correlate, spec)


class _ExactTranspose(torch.autograd.Function):
    """The transposed convolution of the finite parts, with the direct scatter's NaN/inf
    pattern put back, forward and backward (first-order gradients only). The transposed
    convolution is its convolution's input gradient, so its pattern is
    :func:`grad_input_pattern`'s; its own gradients are the convolution of the output
    gradient (:func:`forward_pattern`) and the convolution's weight gradient with the output
    gradient as input (:func:`grad_weight_pattern`)."""

    @staticmethod
    def forward(ctx, y, w, transpose: Correlate, correlate: Correlate, spec: ConvSpec):
        with torch.enable_grad():
            leaves = [
                _finite(t).detach().requires_grad_(need)
                for t, need in zip((y, w), ctx.needs_input_grad[:2], strict=True)
            ]
            x0 = transpose(*leaves, spec)
        ctx.graph = (x0, leaves)
        ctx.correlate, ctx.spec = correlate, spec
        ctx.save_for_backward(y, w)
        pattern = grad_input_pattern(correlate, y, w, tuple(x0.shape), spec)
        return place(x0.detach(), pattern)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        y, w = ctx.saved_tensors
        x0, leaves = ctx.graph
        wanted = [leaf for leaf in leaves if leaf.requires_grad]
        grads = iter(torch.autograd.grad(x0, wanted, _finite(grad)) if wanted else ())
        gy = next(grads) if leaves[0].requires_grad else None
        gw = next(grads) if leaves[1].requires_grad else None
        bad_grad = _has_nonfinite(grad)
        if gy is not None and (bad_grad or _has_nonfinite(w)):
            gy = place(gy, forward_pattern(ctx.correlate, grad, w, ctx.spec))
        if gw is not None and (bad_grad or _has_nonfinite(y)):
            gw = place(gw, grad_weight_pattern(ctx.correlate, grad, y, w.shape, ctx.spec))
        return gy, gw, None, None, None


def exact_transpose(
    transpose: Correlate, correlate: Correlate, y: torch.Tensor, w: torch.Tensor, spec: ConvSpec
):
    """``transpose(y, w, spec)``, the adjoint of the zero-padded ``correlate``, with the
    direct scatter's NaN and ±inf pattern in the output and in both gradients (the patterns
    come from ``correlate``, through which the masks run)."""
    return _ExactTranspose.apply(y, w, transpose, correlate, spec)
