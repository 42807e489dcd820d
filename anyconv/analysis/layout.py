"""Where each element of a tensor inside a network looks in the network's input.

The bookkeeping behind :func:`anyconv.analysis.receptive_field`: a :class:`Layout` says,
for every dimension of a tensor, which spatial axes of the *network input* it runs along
and with what receptive-field parameters (Araujo, Norris & Sim, "Computing receptive fields
of convolutional neural networks", Distill 2019):

- ``size`` r: how many input samples one element sees along that axis;
- ``jump`` j: how far apart (in input samples) the fields of neighbouring elements are;
- ``start``: the centre of element 0's field, in input coordinates (negative when the
  field reaches into the left padding).

A sliding window (kernel k, dilation d, stride s, left padding p) maps ``(r, j, start)`` to
``(r + (k_eff - 1)|j|, j s, start + ((k_eff - 1)/2 - p) j)`` with ``k_eff = d (k - 1) + 1``;
a transposed convolution with the same arguments maps it to ``(r + (k_eff - 1)|j|/s, j/s,
start + (p - (k_eff - 1)/2) j/s)``: the jump divides by the stride (the size is an upper
bound, see :meth:`Axis.transposed`).

A dimension is a product of *factors* ``(length, axis or None)`` so that layout changes
(reshape, permute, slicing, concatenation, folding frames into the batch and back) are
followed exactly; an axis that a reduction or a selection removed is kept as a *covered*
interval that every element depends on. Anything that cannot be followed raises
:class:`CannotFollow`, which the tracer turns into an error naming the module.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace


class CannotFollow(Exception):
    """A layout change whose effect on receptive fields is not known."""


@dataclass(frozen=True)
class Axis:
    """One input spatial axis running along a tensor dimension (see the module doc)."""

    axis: int
    size: float
    jump: float
    start: float

    def at(self, i: float) -> tuple[float, float]:
        """First and last input coordinate seen by element ``i``."""
        centre, half = self.start + i * self.jump, (self.size - 1) / 2
        return centre - half, centre + half

    def bounds(self, n: int) -> tuple[float, float]:
        """First and last input coordinate seen by any of the first ``n`` elements."""
        return _union(self.at(0), self.at(n - 1))

    def window(self, kernel: int, stride: int, dilation: int, lo: int) -> Axis:
        """After a window of ``kernel`` taps ``dilation`` apart, ``stride``, left padding
        ``lo`` (the recurrence of Araujo et al.)."""
        k_eff = dilation * (kernel - 1) + 1
        return Axis(
            self.axis,
            self.size + (k_eff - 1) * abs(self.jump),
            self.jump * stride,
            self.start + ((k_eff - 1) / 2 - lo) * self.jump,
        )

    def transposed(self, kernel: int, stride: int, dilation: int, lo: int) -> Axis:
        """After a transposed convolution (kernel, stride, dilation and left padding ``lo``
        of the convolution whose adjoint it is): output ``i`` reads the inputs ``j`` with
        ``j·stride + p·dilation - lo = i`` for a tap ``p``, all within ``(k_eff - 1) /
        stride`` of ``(i + lo - (k_eff - 1)/2) / stride``. So the jump divides by the
        stride, and the size returned holds every position's field: an upper bound (which
        inputs a position reads depends on its phase, the checkerboard)."""
        k_eff = dilation * (kernel - 1) + 1
        return Axis(
            self.axis,
            self.size + (k_eff - 1) * abs(self.jump) / stride,
            self.jump / stride,
            self.start + (lo - (k_eff - 1) / 2) * self.jump / stride,
        )


Factor = tuple[int, "Axis | None"]
Dim = tuple[Factor, ...]


@dataclass(frozen=True)
class Layout:
    """Per tensor dimension its factors; ``covered``: axis -> input interval every element
    depends on (from reductions and selections); ``notes``: approximations made on the way."""

    dims: tuple[Dim, ...]
    covered: dict[int, tuple[float, float]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(math.prod(n for n, _ in d) for d in self.dims)

    def plain(self) -> dict[int, tuple[int, Axis]]:
        """Axes that run alone along one dimension (a spatial feature-map axis):
        ``axis -> (dim, Axis)``."""
        found = {}
        for i, d in enumerate(self.dims):
            real, ones = _split(d)
            if len(real) == 1 and real[0][1] is not None:
                found[real[0][1].axis] = (i, real[0][1])
            elif not real and len(ones) == 1:
                found[ones[0][1].axis] = (i, ones[0][1])
        return found

    def axes(self) -> dict[int, tuple[int, int, Axis]]:
        """Every carried axis: ``axis -> (dim, factor index, Axis)``."""
        return {
            a.axis: (i, k, a) for i, d in enumerate(self.dims) for k, (_, a) in enumerate(d) if a
        }


def _union(a: tuple[float, float] | None, b: tuple[float, float]) -> tuple[float, float]:
    return b if a is None else (min(a[0], b[0]), max(a[1], b[1]))


def _split(d: Dim) -> tuple[list[Factor], list[Factor]]:
    """Factors longer than one, and the one-element factors that carry an axis."""
    return [f for f in d if f[0] > 1], [f for f in d if f[0] == 1 and f[1] is not None]


def _norm(factors: Sequence[Factor]) -> Dim:
    """Drop ``(1, None)`` and fuse neighbouring axis-free factors."""
    out: list[Factor] = []
    for n, a in factors:
        if a is None and n == 1:
            continue
        if a is None and out and out[-1][1] is None:
            out[-1] = (out[-1][0] * n, None)
        else:
            out.append((n, a))
    return tuple(out)


def input_layout(shape: Sequence[int]) -> Layout:
    """The network input ``(N, C, *spatial)``: spatial axis i has size 1, jump 1, start 0."""
    dims = [_norm([(shape[0], None)]), _norm([(shape[1], None)])]
    dims += [((n, Axis(i, 1.0, 1.0, 0.0)),) for i, n in enumerate(shape[2:])]
    return Layout(tuple(dims))


def _merge_axis(a: Axis, b: Axis, n: int, notes: list[str]) -> Axis:
    """The union of two fields along ``n`` elements: exact when the jumps agree; else the
    largest union (at either end; the widths are linear in the element index) on the jump
    of the larger field, with a note."""
    first = _union(a.at(0), b.at(0))
    if a.jump == b.jump:
        return Axis(a.axis, first[1] - first[0] + 1, a.jump, (first[0] + first[1]) / 2)
    last = _union(a.at(n - 1), b.at(n - 1))
    size = max(first[1] - first[0], last[1] - last[0]) + 1
    big = a if (a.size, abs(a.jump)) >= (b.size, abs(b.jump)) else b
    note = (
        f"paths with jumps {a.jump:g} and {b.jump:g} merge on axis {a.axis}; "
        "the largest field is taken"
    )
    if note not in notes:
        notes.append(note)
    return Axis(a.axis, size, big.jump, (first[0] + first[1]) / 2)


def _constant(axis: int, lo: float, hi: float) -> Axis:
    """The same interval for every element (jump 0)."""
    return Axis(axis, hi - lo + 1, 0.0, (lo + hi) / 2)


def _cover(covered: dict[int, tuple[float, float]], d: Dim) -> None:
    """Add the whole span of every axis of ``d`` to ``covered``."""
    for n, a in d:
        if a is not None:
            covered[a.axis] = _union(covered.get(a.axis), a.bounds(n))


def _finish(
    dims: Sequence[Sequence[Factor]], covered: dict[int, tuple[float, float]], notes: list[str]
) -> Layout:
    """Fold covered intervals into the dims that carry the same axis; keep the others."""
    covered = dict(covered)
    out = []
    for d in dims:
        new = []
        for n, a in d:
            if a is not None and a.axis in covered:
                a = _merge_axis(a, _constant(a.axis, *covered.pop(a.axis)), n, notes)
            new.append((n, a))
        out.append(_norm(new))
    return Layout(tuple(out), covered, tuple(notes))


def _describe(d: Sequence[Factor]) -> str:
    return " x ".join(f"{n}" + (f" (axis {a.axis})" if a else "") for n, a in d) or "1"


def merge(layouts: Sequence[Layout], shape: Sequence[int]) -> Layout:
    """Elementwise combination of tensors, broadcasting as PyTorch does: every output
    element depends on the matching elements of all inputs (residual additions, gating)."""
    ndim = len(shape)
    notes: list[str] = []
    covered: dict[int, tuple[float, float]] = {}
    for lay in layouts:
        notes += [n for n in lay.notes if n not in notes]
        for ax, iv in lay.covered.items():
            covered[ax] = _union(covered.get(ax), iv)
    dims = []
    for i, m in enumerate(shape):
        carried: list[Factor] | None = None
        singles: dict[int, Axis] = {}
        for lay in layouts:
            j = i - (ndim - len(lay.dims))
            real, ones = _split(lay.dims[j] if j >= 0 else ())
            for _, a in ones:
                if m > 1:  # broadcast: the same field for every element
                    covered[a.axis] = _union(covered.get(a.axis), a.at(0))
                elif a.axis in singles:
                    singles[a.axis] = _merge_axis(singles[a.axis], a, 1, notes)
                else:
                    singles[a.axis] = a
            if not any(a for _, a in real):
                continue
            key = [(n, a.axis if a else None) for n, a in real]
            if carried is None:
                carried = real
            elif key == [(n, a.axis if a else None) for n, a in carried]:
                carried = [
                    (n, _merge_axis(a, b, n, notes) if a and b else None)
                    for (n, a), (_, b) in zip(carried, real, strict=True)
                ]
            else:
                raise CannotFollow(
                    f"tensors of different layouts meet along dimension {i} "
                    f"({_describe(carried)} and {_describe(real)})"
                )
        dims.append([*(carried or [(m, None)]), *((1, a) for a in singles.values())])
    return _finish(dims, covered, notes)


def regroup(layout: Layout, shape: Sequence[int]) -> Layout:
    """A reshape (view, flatten, unflatten, squeeze, unsqueeze): elements keep their
    row-major order, so the factors are regrouped into the new dimensions. One-element
    axis factors go to one-element dimensions where there are any left."""
    if not shape:
        return reduce(layout, range(len(layout.dims)), keepdim=False)
    atoms = [f for d in layout.dims for f in d]
    dims: list[list[Factor]] = []
    k = 0
    for index, m in enumerate(shape):
        dim: list[Factor] = []
        size = 1
        if m == 1 and k < len(atoms) and atoms[k][0] == 1:
            dim.append(atoms[k])
            k += 1
        while size < m:
            if k >= len(atoms):
                raise CannotFollow(f"reshape {layout.shape} -> {tuple(shape)}")
            n, a = atoms[k]
            if n == 1 or m % (size * n) == 0:
                dim.append((n, a))
                size *= n
                k += 1
            elif a is None and m % size == 0 and n % (m // size) == 0:
                part = m // size
                dim.append((part, None))
                atoms[k] = (n // part, None)
                size = m
            else:
                what = f"axis {a.axis} of length {n}" if a else f"a dimension of length {n}"
                raise CannotFollow(
                    f"reshape {layout.shape} -> {tuple(shape)} splits {what} into parts"
                )
        if 1 not in shape[index + 1 :]:
            while k < len(atoms) and atoms[k][0] == 1:
                dim.append(atoms[k])
                k += 1
        dims.append(dim)
    dims[-1] += atoms[k:]
    return replace(layout, dims=tuple(_norm(d) for d in dims))


def permute(layout: Layout, order: Sequence[int]) -> Layout:
    """Dimensions reordered: output dim i is input dim ``order[i]``."""
    return replace(layout, dims=tuple(layout.dims[i] for i in order))


def _one_factor(layout: Layout, dim: int, what: str) -> tuple[int, Axis | None, list[Factor]]:
    """Length and axis of a dimension that is one plain factor (or free of axes), and its
    one-element axis factors, which every element shares."""
    real, ones = _split(layout.dims[dim])
    if len(real) > 1 and any(a for _, a in real):
        raise CannotFollow(f"{what} along dimension {dim}, which holds {_describe(real)}")
    if len(real) == 1 and real[0][1] is not None:
        return real[0][0], real[0][1], ones
    return layout.shape[dim], None, ones


def _set(layout: Layout, dim: int, factors: Sequence[Factor]) -> Layout:
    dims = list(layout.dims)
    dims[dim] = _norm(factors)
    return replace(layout, dims=tuple(dims))


def take(layout: Layout, dim: int, start: int, stop: int, step: int = 1) -> Layout:
    """Elements ``start:stop:step`` (non-negative, as ``range``) along ``dim`` (slicing,
    narrow, split, chunk)."""
    _, a, ones = _one_factor(layout, dim, "slicing")
    count = len(range(start, stop, step))
    a = a and Axis(a.axis, a.size, a.jump * step, a.start + start * a.jump)
    return _set(layout, dim, [(count, a), *ones])


def select(layout: Layout, dim: int, index: int) -> Layout:
    """Element ``index`` along ``dim``, which disappears (integer indexing, unbind)."""
    n, a, ones = _one_factor(layout, dim, "indexing")
    dims = list(layout.dims)
    del dims[dim]
    covered = dict(layout.covered)
    for _, b in [*ones, *([(1, a)] if a else [])]:
        covered[b.axis] = _union(covered.get(b.axis), b.at(index % n if b is a else 0))
    return _finish(dims, covered, list(layout.notes))


def reduce(layout: Layout, dims: Sequence[int], keepdim: bool) -> Layout:
    """A reduction (sum, mean, max, ...) over ``dims``: the result sees all their elements.

    With ``keepdim`` the one element left carries each axis as a window over the whole
    dimension (so global pooling reports the whole input); else the axis is covered.
    """
    out: list[Sequence[Factor]] = []
    covered = dict(layout.covered)
    for i, d in enumerate(layout.dims):
        if i not in dims:
            out.append(d)
        elif keepdim:
            out.append([(1, a.window(n, n, 1, 0)) for n, a in d if a])
        else:
            _cover(covered, d)
    return _finish(out, covered, list(layout.notes))


def mix(layout: Layout, dim: int) -> Layout:
    """An operation along ``dim`` that keeps its length but lets every element see all of
    it (softmax, cumulative sums, sorting): each element gets the whole span."""
    d = layout.dims[dim]
    return _set(layout, dim, [(n, _constant(a.axis, *a.bounds(n)) if a else None) for n, a in d])


def window(
    layout: Layout,
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    lo: Sequence[int],
    out: Sequence[int],
    out_channels: int | None = None,
) -> Layout:
    """A sliding window over the last ``len(kernel)`` dimensions (convolution, pooling).

    ``out_channels``: the window mixes the channels (the dimension before the spatial ones)
    into this many outputs, as a convolution does; ``None`` keeps them (pooling).
    """
    first = len(layout.dims) - len(kernel)
    for i, (k, s, d, p, o) in enumerate(zip(kernel, stride, dilation, lo, out, strict=True)):
        _, a, ones = _one_factor(layout, first + i, "a sliding window")
        layout = _set(layout, first + i, [(o, a and a.window(k, s, d, p)), *ones])
    if out_channels is None or first < 1:
        return layout
    covered = dict(layout.covered)
    _cover(covered, layout.dims[first - 1])
    dims = list(layout.dims)
    dims[first - 1] = ((out_channels, None),)
    return _finish(dims, covered, list(layout.notes))


TRANSPOSED_NOTE = (
    "after a transposed convolution the fields are irregular (each output position reads "
    "the inputs of its phase: the checkerboard); the sizes given are upper bounds"
)


def transposed_window(
    layout: Layout,
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    lo: Sequence[int],
    out: Sequence[int],
    out_channels: int,
) -> Layout:
    """A transposed convolution over the last ``len(kernel)`` dimensions, given by the
    convolution whose adjoint it is (:meth:`Axis.transposed`); it mixes the channels into
    ``out_channels``. A stride above 1 adds :data:`TRANSPOSED_NOTE`."""
    first = len(layout.dims) - len(kernel)
    for i, (k, s, d, p, o) in enumerate(zip(kernel, stride, dilation, lo, out, strict=True)):
        _, a, ones = _one_factor(layout, first + i, "a transposed convolution")
        layout = _set(layout, first + i, [(o, a and a.transposed(k, s, d, p)), *ones])
    notes = list(layout.notes)
    if any(s > 1 for s in stride) and TRANSPOSED_NOTE not in notes:
        notes.append(TRANSPOSED_NOTE)
    covered = dict(layout.covered)
    dims = list(layout.dims)
    if first >= 1:
        _cover(covered, layout.dims[first - 1])
        dims[first - 1] = ((out_channels, None),)
    return _finish(dims, covered, notes)


def pad(layout: Layout, pads: Sequence[tuple[int, int]]) -> Layout:
    """Padding of the last ``len(pads)`` dimensions by ``(lo, hi)`` (negative crops)."""
    first = len(layout.dims) - len(pads)
    for i, (lo, hi) in enumerate(pads):
        n, a, ones = _one_factor(layout, first + i, "padding")
        a = a and Axis(a.axis, a.size, a.jump, a.start - lo * a.jump)
        layout = _set(layout, first + i, [(n + lo + hi, a), *ones])
    return layout


def cat(layouts: Sequence[Layout], dim: int, shape: Sequence[int]) -> Layout:
    """Concatenation along ``dim``, which must be free of axes (channels): the other
    dimensions merge as in :func:`merge`, so each axis takes the largest field."""
    for lay in layouts:
        if any(a for _, a in lay.dims[dim]):
            raise CannotFollow(f"concatenation along dimension {dim}, which holds a spatial axis")
    parts = [replace(lay, dims=(*lay.dims[:dim], (), *lay.dims[dim + 1 :])) for lay in layouts]
    joined = merge(parts, (*shape[:dim], 1, *shape[dim + 1 :]))
    return _set(joined, dim, [(shape[dim], None), *joined.dims[dim]])


def unsqueeze(layout: Layout, dim: int) -> Layout:
    """A new one-element dimension at ``dim``."""
    return replace(layout, dims=(*layout.dims[:dim], (), *layout.dims[dim:]))


def contract(a: Layout, b: Layout, shape: Sequence[int]) -> Layout:
    """``a @ b`` for ``a (..., n, k)`` and ``b (..., k, m)``: ``k`` is summed over."""
    left = unsqueeze(reduce(a, [len(a.dims) - 1], keepdim=False), len(a.dims) - 1)
    right = unsqueeze(reduce(b, [len(b.dims) - 2], keepdim=False), len(b.dims) - 2)
    return merge([left, right], shape)
