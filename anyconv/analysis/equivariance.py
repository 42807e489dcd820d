"""Translation equivariance and invariance, measured: how far ``f(shift(x))`` is from
``shift(f(x))``, layer by layer, and how often a classifier's prediction survives a shift
(the consistency of Zhang, "Making convolutional networks shift-invariant again", 2019)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch

from anyconv._checks import check_input, choice, fail, is_int
from anyconv.analysis.receptive import ReceptiveField, field_of, receptive_field
from anyconv.analysis.trace import trace
from anyconv.padding import MAX_EXTENT

MODES = ("circular", "crop")
SHIFT_MODES = ("circular", "zeros")


MAX_SHIFT = MAX_EXTENT
"""The largest shift (in samples, either way): PyTorch's shifts are int64, and a shift
beyond any axis anyconv can hold moves nothing more (circular shifts wrap)."""


def _shift_list(shifts: Any, naxes: int, func: str) -> list[tuple[int, ...]]:
    """Each shift as one int per shifted axis (an int moves every axis alike); NumPy
    integers are ints too."""
    allowed = f"an iterable of ints or of tuples of {naxes} ints (one per shifted axis)"
    if is_int(shifts) or isinstance(shifts, str) or not isinstance(shifts, Iterable):
        raise fail(func, "shifts", allowed, shifts, TypeError)
    result = []
    for s in shifts:
        if is_int(s):
            s = (s,) * naxes
        elif not (isinstance(s, Sequence) and len(s) == naxes and all(map(is_int, s))):
            raise fail(func, "shifts", allowed, shifts, TypeError)
        if any(abs(v) > MAX_SHIFT for v in s):
            raise fail(func, "shifts", f"{allowed}, each within +-2**48 ({MAX_SHIFT:,})", shifts)
        result.append(tuple(int(v) for v in s))
    if not result:
        raise fail(func, "shifts", allowed + " (at least one)", shifts)
    return result


def _check_batch(x: Any, func: str) -> None:
    """``x`` ``(N, C, *spatial)`` with at least one sample: an empty batch has no error or
    consistency to average (it gave NaN)."""
    check_input(x, func, arg="x")
    if x.shape[0] == 0:
        raise fail(func, "x", "a batch (N, C, *spatial) of at least one sample", x)


def _one_tensor(y: Any, func: str) -> torch.Tensor:
    """``f``'s output, which must be one tensor."""
    if isinstance(y, torch.Tensor):
        return y
    given = f"a {type(y).__name__}" + (f" of {len(y)}" if isinstance(y, tuple | list) else "")
    raise fail(
        func,
        "f",
        "a function returning one tensor (N, C, *spatial) or (N, C) (for several outputs, "
        "pass a function that picks one, e.g. lambda x: model(x)[0])",
        given,
        TypeError,
    )


def _axes(axes: Any, nspatial: int, func: str) -> tuple[int, ...]:
    """Spatial axes to shift, 0-based among the spatial axes (default: all of them)."""
    if axes is None:
        return tuple(range(nspatial))
    values = (axes,) if is_int(axes) else tuple(axes) if isinstance(axes, Iterable) else ()
    if not values or not all(is_int(a) and -nspatial <= a < nspatial for a in values):
        raise fail(
            func, "axes", f"spatial axis indices in [-{nspatial}, {nspatial})", axes, ValueError
        )
    return tuple(sorted({int(a) % nspatial for a in values}))


def translate(
    x: torch.Tensor, shift: Sequence[int], axes: Sequence[int], mode: str = "circular"
) -> torch.Tensor:
    """``x`` moved by ``shift[i]`` samples along spatial axis ``axes[i]`` (dim ``2 + a``):
    ``"circular"`` wraps around (``torch.roll``), ``"zeros"`` fills with zeros.

    Example:
        >>> translate(torch.arange(5.0).view(1, 1, 5), (2,), (0,), "zeros")
        tensor([[[0., 0., 0., 1., 2.]]])
    """
    dims = [2 + a for a in axes]
    if mode == "circular":
        return torch.roll(x, tuple(shift), dims)
    out = torch.zeros_like(x)
    src, dst = [slice(None)] * x.dim(), [slice(None)] * x.dim()
    for d, s in zip(dims, shift, strict=True):
        n = x.shape[d]
        s = max(-n, min(n, s))
        src[d] = slice(max(0, -s), n - max(0, s))
        dst[d] = slice(max(0, s), n - max(0, -s))
    out[tuple(dst)] = x[tuple(src)]
    return out


def _error(a: torch.Tensor, b: torch.Tensor) -> float:
    """``||a - b|| / ||b||`` (the absolute error where ``b`` is zero; NaN when empty)."""
    if a.numel() == 0:
        return math.nan
    a, b = a.double(), b.double()
    scale = float(b.norm())
    diff = float((a - b).norm())
    return diff / scale if scale > 0 else diff


def _valid(field: ReceptiveField, axis: int, length: int, lo: float, hi: float) -> torch.Tensor:
    """Output positions along ``axis`` whose field lies within input samples [lo, hi]."""
    j = torch.arange(length, dtype=torch.float64)
    centre = field.start[axis] + j * field.jump[axis]
    half = (field.size[axis] - 1) / 2
    return (centre - half >= lo) & (centre + half <= hi)


def _compare(
    y: torch.Tensor,
    y_shifted: torch.Tensor,
    shift: tuple[int, ...],
    axes: tuple[int, ...],
    jumps: Sequence[float],
    mode: str,
    field: ReceptiveField | None,
    spatial: Sequence[int],
) -> dict[str, Any]:
    """One row: the output shift, whether it is exact, and the relative error."""
    if y.dim() == 2:  # no spatial axes left: invariance
        return {
            "shift": shift,
            "output_shift": (0,) * len(shift),
            "aligned": True,
            "stride": (math.inf,) * len(shift),
            "error": _error(y_shifted, y),
        }
    stride = tuple(jumps[a] for a in axes)
    out_shift, aligned = [], True
    for s, a in zip(shift, axes, strict=True):
        jump = jumps[a]
        t = s / jump if jump else 0.0
        aligned &= float(t).is_integer()
        out_shift.append(round(t))
    if mode == "circular":
        return {
            "shift": shift,
            "output_shift": tuple(out_shift),
            "aligned": aligned,
            "stride": stride,
            "error": _error(y_shifted, translate(y, out_shift, axes)),
        }
    # crop: compare only where neither field reaches past the input or into the part of
    # the shifted input that wrapped around
    mask = torch.ones(y.shape[2:], dtype=torch.bool)
    for i, a in enumerate(axes):
        n, length, s, t = spatial[a], y.shape[2 + a], shift[i], out_shift[i]
        base = _valid(field, a, length, 0, n - 1)
        moved = _valid(field, a, length, max(s, 0), n - 1 + min(s, 0))
        # position k of f(shift x) against k - t of f(x): both fields must be usable
        ok = moved & torch.roll(base, t)
        if t > 0:
            ok[:t] = False
        elif t < 0:
            ok[t:] = False
        view = [1] * len(spatial)
        view[a] = length
        mask &= ok.view(view)
    for a in set(range(len(spatial))) - set(axes):  # unshifted axes: inside the input
        view = [1] * len(spatial)
        view[a] = y.shape[2 + a]
        mask &= _valid(field, a, y.shape[2 + a], 0, spatial[a] - 1).view(view)
    expanded = translate(y, out_shift, axes)
    keep = mask.expand(y.shape[2:])
    error = _error(y_shifted[..., keep], expanded[..., keep])
    return {
        "shift": shift,
        "output_shift": tuple(out_shift),
        "aligned": aligned,
        "stride": stride,
        "error": error,
        "compared": int(keep.sum()),
    }


class _Function(torch.nn.Module):
    """A plain function as a module, so that the tracer can follow it too."""

    def __init__(self, f: Callable) -> None:
        super().__init__()
        self.f = f

    def forward(self, x: torch.Tensor) -> Any:
        return self.f(x)


def _geometry(f: Any, x: torch.Tensor, func: str) -> tuple[Sequence[float], Any, Any]:
    """Total stride per input axis, the output's receptive field and its layout (``None``
    where the tracer could not follow ``f``)."""
    if isinstance(f, torch.nn.Module):
        calls = trace(f, tuple(x.shape[1:]), func=func)
    else:  # what the function does is all there is: nothing taken as pointwise unseen
        calls = trace(_Function(f), tuple(x.shape[1:]), func=func, pointwise=False)
    root = next((c for c in reversed(calls) if c.name == ""), None)
    layout = root.layout if root is not None else None
    field = field_of(layout, x.dim() - 2)
    if field is not None:
        return field.jump, field, layout
    return (), None, layout


def _check_spatial(y: torch.Tensor, layout: Any, spatial: Sequence[int], func: str) -> None:
    """An output ``(N, C)`` is compared for invariance; refuse one whose second axis holds
    the input's positions (a flattened map), which a shift moves rather than leaves."""
    if y.dim() == 2 and layout is not None and any(a for _, a in layout.dims[1]):
        raise fail(
            func,
            "f",
            f"a function whose output is (N, C) with the positions pooled away, or has "
            f"{len(spatial)} spatial axes (a flattened feature map moves with a shift; "
            "compare the map itself, or pool it for invariance)",
            f"an output of shape {tuple(y.shape)} that holds the input's positions",
        )


def shift_equivariance(
    f: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    shifts: Iterable[int] | Iterable[Sequence[int]],
    *,
    axes: int | Sequence[int] | None = None,
    mode: str = "circular",
) -> list[dict[str, Any]]:
    """How far ``f`` is from commuting with translations, one row per shift.

    The output is compared with ``f(x)`` shifted by ``shift / total_stride`` (the jump of
    ``f``'s output grid). When the shift is not a multiple of the total stride there is no
    such output shift: the row is flagged ``aligned=False`` and compared with the nearest
    representable one. An output without spatial axes (after global pooling) is compared
    with ``f(x)`` itself: invariance.

    Args:
        f: a ``torch.nn.Module`` or a function ``(N, C, *spatial) -> (N, C', *spatial')``
            (or ``(N, C')``, with the positions pooled away: a flattened map is refused),
            returning one tensor. The total stride and the receptive field come from the
            tracer (:func:`receptive_field`); where it cannot follow a function, its grid
            must have a size that divides the input's.
        x: input ``(N, C, *spatial)``, at least one sample.
        shifts: ints (every axis in ``axes`` moves alike) or tuples (one per axis), each
            within ``+-2**48``.
        axes: spatial axes to shift (0 is the first spatial axis); default all.
        mode: ``"circular"`` rolls input and output (borders wrap around: a circular
            convolution commutes exactly); ``"crop"`` rolls the input but compares only
            output positions whose receptive fields stay inside the input and away from the
            wrapped part, so zero-padding border effects are excluded (needs the field:
            a module or function the tracer follows).

    Returns:
        one dict per shift: ``shift`` (per axis), ``output_shift``, ``aligned`` (the shift
        is a multiple of the total stride on every axis), ``stride`` (the total stride per
        shifted axis; ``inf`` for an output without spatial axes), ``error``
        (``||f(shift x) - shift f(x)|| / ||shift f(x)||``) and, with ``"crop"``,
        ``compared`` (output positions compared).

    Example:
        >>> import anyconv.nn as ann
        >>> conv = ann.Conv2d(1, 2, 3, padding="same", padding_mode="circular")
        >>> rows = shift_equivariance(conv, torch.randn(1, 1, 8, 8), [1, 3])
        >>> [r["error"] < 1e-6 for r in rows]
        [True, True]
        >>> rows = shift_equivariance(ann.MaxPool2d(2), torch.randn(1, 1, 8, 8), [1, 2])
        >>> [(r["output_shift"], r["aligned"], r["error"] < 1e-6) for r in rows]
        [((0, 0), False, False), ((1, 1), True, True)]
    """
    func = "shift_equivariance"
    _check_batch(x, func)
    if not callable(f):
        raise fail(func, "f", "a torch.nn.Module or a function", type(f).__name__, TypeError)
    choice(mode, MODES, "mode", func)
    spatial = tuple(x.shape[2:])
    axes = _axes(axes, len(spatial), func)
    rows = _shift_list(shifts, len(axes), func)
    with torch.no_grad():
        y = _one_tensor(f(x), func)
        jumps, field, layout = _geometry(f, x, func)
        _check_spatial(y, layout, spatial, func)
        if y.dim() not in (2, x.dim()):
            raise fail(
                func,
                "f",
                f"a function whose output is (N, C) or has {len(spatial)} spatial axes",
                f"an output of shape {tuple(y.shape)}",
            )
        if mode == "crop" and y.dim() > 2 and field is None:
            raise fail(
                func,
                "f",
                "a torch.nn.Module whose receptive field can be followed, for mode='crop'",
                type(f).__name__,
                TypeError,
            )
        if y.dim() > 2 and not jumps:
            jumps = [n / m for n, m in zip(spatial, y.shape[2:], strict=True)]
        return [
            _compare(
                y, _one_tensor(f(translate(x, s, axes)), func), s, axes, jumps, mode, field, spatial
            )
            for s in rows
        ]


def layer_equivariance(
    model: torch.nn.Module,
    x: torch.Tensor,
    shifts: Iterable[int] | Iterable[Sequence[int]],
    *,
    axes: int | Sequence[int] | None = None,
    mode: str = "crop",
    layers: Sequence[str] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """:func:`shift_equivariance` of every layer's output at once (one forward pass per
    shift), for the modules whose output is a feature map ``(N, C, *spatial)``.

    Args:
        model: a ``torch.nn.Module``.
        x, shifts, axes, mode: as in :func:`shift_equivariance`.
        layers: module names to report (default: every leaf module with a spatial
            output, in the order they run).

    Returns:
        ``{name: rows}`` with the rows of :func:`shift_equivariance`.

    Example:
        >>> import anyconv.nn as ann
        >>> net = torch.nn.Sequential(ann.Conv2d(1, 2, 3, padding="same",
        ...     padding_mode="circular"), ann.MaxPool2d(2))
        >>> errors = layer_equivariance(net, torch.randn(2, 1, 8, 8), [1, 2], mode="circular")
        >>> {name: [r["error"] < 1e-6 for r in rows] for name, rows in errors.items()}
        {'0': [True, True], '1': [False, True]}
    """
    func = "layer_equivariance"
    _check_batch(x, func)
    if not isinstance(model, torch.nn.Module):
        raise fail(func, "model", "a torch.nn.Module", type(model).__name__, TypeError)
    choice(mode, MODES, "mode", func)
    spatial = tuple(x.shape[2:])
    axes = _axes(axes, len(spatial), func)
    shift_rows = _shift_list(shifts, len(axes), func)
    fields = receptive_field(model, tuple(x.shape[1:]))
    calls = {c.name: c for c in trace(model, tuple(x.shape[1:]), func=func)}
    modules = dict(model.named_modules())
    if layers is None:
        layers = [n for n in fields if n and not any(True for _ in modules[n].children())]
    standard = []
    for name in layers:
        if name not in fields:
            raise fail(func, "layers", "names of modules with spatial outputs", name)
        plain = calls[name].layout.plain()
        if sorted(plain) == list(range(len(spatial))) and all(plain[a][0] == 2 + a for a in plain):
            standard.append(name)  # (N, C, *spatial) in order: shifts apply as to x
    outputs: dict[str, torch.Tensor] = {}
    handles = [
        modules[n].register_forward_hook(
            lambda _m, _a, out, n=n: outputs.setdefault(n, out) if n not in outputs else None
        )
        for n in standard
    ]
    result: dict[str, list[dict[str, Any]]] = {n: [] for n in standard}
    training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(x)
            base = dict(outputs)
            for s in shift_rows:
                outputs.clear()
                model(translate(x, s, axes))
                for n in standard:
                    f = fields[n]
                    result[n].append(
                        _compare(base[n], outputs[n], s, axes, f.jump, mode, f, spatial)
                    )
    finally:
        model.train(training)
        for h in handles:
            h.remove()
    return result


def shift_consistency(
    model: torch.nn.Module,
    x: torch.Tensor,
    shifts: Iterable[int] | Iterable[Sequence[int]],
    *,
    axes: int | Sequence[int] | None = None,
    mode: str = "circular",
) -> dict[str, Any]:
    """How often a classifier's prediction stays the same when its input is shifted.

    For each shift, the fraction of samples whose predicted class (the argmax of
    ``model``'s output) on the shifted input equals the one on ``x`` -- the consistency
    of Zhang (2019), measured against the unshifted input -- and the mean change of the
    softmax output, as the total-variation distance ``0.5 * sum |p(shift x) - p(x)|``
    (0: the same distribution, 1: disjoint).

    Args:
        model: a classifier ``(N, C, *spatial) -> (N, classes)`` logits (eval mode is used).
        x: a batch ``(N, C, *spatial)``.
        shifts, axes: as in :func:`shift_equivariance`.
        mode: ``"circular"`` (roll) or ``"zeros"`` (move the content, fill with zeros).

    Returns:
        ``{"consistency", "softmax_change"}`` averaged over the nonzero shifts, and
        ``"per_shift"``: one dict per shift with ``shift``, ``consistency`` and
        ``softmax_change``.

    Example:
        >>> import anyconv.nn as ann
        >>> net = torch.nn.Sequential(ann.Conv2d(1, 3, 3, padding="same",
        ...     padding_mode="circular"), ann.GlobalAvgPool())
        >>> shift_consistency(net, torch.randn(4, 1, 8, 8), [-2, 1])["consistency"]
        1.0
    """
    func = "shift_consistency"
    _check_batch(x, func)
    if not isinstance(model, torch.nn.Module):
        raise fail(func, "model", "a torch.nn.Module", type(model).__name__, TypeError)
    choice(mode, SHIFT_MODES, "mode", func)
    axes = _axes(axes, x.dim() - 2, func)
    rows = _shift_list(shifts, len(axes), func)
    training = model.training
    try:
        model.eval()
        with torch.no_grad():
            logits = model(x)
            if logits.dim() != 2:
                raise fail(
                    func,
                    "model",
                    "a classifier returning logits (N, classes)",
                    f"an output of shape {tuple(logits.shape)}",
                )
            probs = logits.double().softmax(1)
            per_shift = []
            for s in rows:
                shifted = model(translate(x, s, axes, mode)).double().softmax(1)
                per_shift.append(
                    {
                        "shift": s,
                        "consistency": float(
                            (shifted.argmax(1) == probs.argmax(1)).double().mean()
                        ),
                        "softmax_change": float(0.5 * (shifted - probs).abs().sum(1).mean()),
                    }
                )
    finally:
        model.train(training)
    moved = [r for r in per_shift if any(r["shift"])] or per_shift
    return {
        "consistency": sum(r["consistency"] for r in moved) / len(moved),
        "softmax_change": sum(r["softmax_change"] for r in moved) / len(moved),
        "per_shift": per_shift,
    }
