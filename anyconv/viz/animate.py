"""Convolution arithmetic, animated (after Dumoulin & Visin, "A guide to convolution
arithmetic for deep learning", 2016): the kernel sliding over the padded input, one frame
per output position; for a transposed convolution, their second half: the kernel sliding
with stride 1 over the input with ``stride - 1`` zeros inserted between its samples and
padded by ``k_eff - 1 - lo`` (the "fractionally strided" view)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anyconv._checks import check_bool, check_int, check_real, fail, int_tuple
from anyconv.padding import transposed_spec, window_spec
from anyconv.viz._figure import new_figure, write_file

INPUT, PAD, TAP, CURRENT, DONE = "#ffffff", "#d9d9d9", "#2b6cb0", "#2f855a", "#c6f6d5"
INSERTED = "#fdf2c9"  # the zeros a transposed convolution inserts between input samples
MAX_FRAMES = 256
"""Most output positions (frames) :func:`conv_windows` and :func:`animate_conv` take: a
16x16 output, over three minutes of animation at the default 0.8 s a frame."""
MAX_STRIP_FRAMES = 64
"""Most frames :func:`animate_conv` puts side by side in one PNG (``strip=True``)."""
MAX_CELLS = 64
"""Most cells a side of the drawn grids may have (the padded input and the output)."""


@dataclass(frozen=True)
class ConvFrame:
    """One output position: the input cells its window reads (input coordinates; negative
    or ``>= n`` in the padding) and the cells the picture highlights, read back from the
    drawn rectangles."""

    output: tuple[int, ...]
    taps: tuple[tuple[int, ...], ...]
    drawn: tuple[tuple[int, ...], ...] = ()


@dataclass
class ConvAnimation:
    """The geometry and frames of :func:`animate_conv`, and where they were written."""

    input_size: tuple[int, ...]
    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]
    output_size: tuple[int, ...]
    frames: list[ConvFrame] = field(default_factory=list)
    path: Path | None = None
    inserted: tuple[int, ...] = ()
    """For a transposed convolution: per axis the period of the input samples in the
    zero-inserted grid (its stride; ``stride - 1`` zeros lie between samples). ``input_size``
    and ``padding`` are then the zero-inserted grid's and the padding around it, which is
    negative where the windows start inside the grid."""
    source_size: tuple[int, ...] = ()
    """For a transposed convolution: the size of its input."""
    conv_padding: tuple[tuple[int, int], ...] = ()
    """For a transposed convolution: the ``(lo, hi)`` of the convolution whose adjoint it is."""

    @property
    def transposed(self) -> bool:
        return bool(self.inserted)


def _input_size(input_size: Any, func: str) -> tuple[int, ...]:
    if not (isinstance(input_size, Sequence) and 1 <= len(input_size) <= 3):
        raise fail(func, "input_size", "a tuple of 1 or 2 spatial sizes", input_size, TypeError)
    size = int_tuple(tuple(input_size), len(input_size), "input_size", func, minimum=1)
    if len(size) == 3:
        raise fail(
            func,
            "input_size",
            "1 or 2 spatial sizes (for a 3-D convolution animate one slice, e.g. (H, W))",
            input_size,
        )
    return size


def conv_windows(
    input_size: Sequence[int],
    kernel_size: int | Sequence[int],
    *,
    stride: int | Sequence[int] = 1,
    padding: Any = "valid",
    dilation: int | Sequence[int] = 1,
) -> ConvAnimation:
    """The windows of a convolution, one frame per output position in row-major order:
    output ``j`` reads input ``j * stride + p * dilation - lo`` for each tap ``p``.

    A problem of more than :data:`MAX_FRAMES` output positions is refused before any
    frame is built (its output size is computed first), so that an absurd size or padding
    costs nothing.

    Example:
        >>> a = conv_windows((5,), 3, stride=2, padding="same")
        >>> a.padding, a.output_size, [f.taps for f in a.frames]
        (((1, 1),), (3,), [((-1,), (0,), (1,)), ((1,), (2,), (3,)), ((3,), (4,), (5,))])
    """
    func = "animate_conv"
    size = _input_size(input_size, func)
    nd = len(size)
    kernel = int_tuple(kernel_size, nd, "kernel_size", func, minimum=1)
    stride = int_tuple(stride, nd, "stride", func, minimum=1)
    dilation = int_tuple(dilation, nd, "dilation", func, minimum=1)
    spec = window_spec(size, kernel, stride, padding, dilation, func=func)
    pads, out = spec.padding, spec.out_shape
    _check_frames(out, MAX_FRAMES, "one frame each", input_size)
    frames = _frames(out, kernel, stride, dilation, pads)
    return ConvAnimation(size, kernel, stride, dilation, pads, out, frames)


def transposed_windows(
    input_size: Sequence[int],
    kernel_size: int | Sequence[int],
    *,
    stride: int | Sequence[int] = 1,
    padding: Any = "valid",
    output_padding: int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
) -> ConvAnimation:
    """The windows of a transposed convolution (:func:`anyconv.conv_transpose`) in Dumoulin
    & Visin's view: a stride-1 convolution with the kernel flipped over the input with
    ``stride - 1`` zeros inserted between its samples, padded by ``k_eff - 1 - lo`` on the
    left and ``k_eff - 1 - hi`` plus the extra output positions on the right (``(lo, hi)``
    the padding of the convolution whose adjoint it is). Output ``i`` reads grid position
    ``i + q * dilation - (k_eff - 1 - lo)`` for each tap ``q`` of the flipped kernel; the
    input sample ``j`` sits at ``j * stride``.

    Example:
        >>> a = transposed_windows((2,), 3, stride=2)  # D&V's figure 4.5 in 1-D
        >>> a.input_size, a.padding, a.output_size
        ((3,), ((2, 2),), (5,))
        >>> [f.taps for f in a.frames][:2]
        [((-2,), (-1,), (0,)), ((-1,), (0,), (1,))]
    """
    func = "animate_conv"
    size = _input_size(input_size, func)
    kernel = int_tuple(kernel_size, len(size), "kernel_size", func, minimum=1)
    spec, grid, pads = _transposed_geometry(size, kernel, stride, padding, output_padding, dilation)
    ones = (1,) * len(size)
    _check_frames(spec.in_shape, MAX_FRAMES, "one frame each", input_size)
    frames = _frames(spec.in_shape, kernel, ones, spec.dilation, pads)
    return ConvAnimation(
        grid,
        kernel,
        ones,
        spec.dilation,
        pads,
        spec.in_shape,
        frames,
        inserted=spec.stride,
        source_size=size,
        conv_padding=spec.padding,
    )


def _transposed_geometry(
    size: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: Any,
    padding: Any,
    output_padding: Any,
    dilation: Any,
) -> tuple[Any, tuple[int, ...], tuple[tuple[int, int], ...]]:
    """The transposed convolution's spec, its zero-inserted grid and the padding around it
    (negative where the windows start inside the grid)."""
    spec = transposed_spec(
        (1, 1, *size),
        (1, 1, *kernel),
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        dilation=dilation,
        func="animate_conv",
    )
    grid = tuple((m - 1) * s + 1 for m, s in zip(size, spec.stride, strict=True))
    pads = []
    for n, g, k, d, (lo, _) in zip(
        spec.in_shape, grid, kernel, spec.dilation, spec.padding, strict=True
    ):
        left = d * (k - 1) - lo
        pads.append((left, n + d * (k - 1) - left - g))
    return spec, grid, tuple(pads)


def _frames(out, kernel, stride, dilation, pads) -> list[ConvFrame]:
    """One frame per position of ``out``, row-major: the taps it reads."""
    frames = []
    for flat in range(math.prod(out)):
        position = []
        for o in reversed(out):
            position.append(flat % o)
            flat //= o
        position = tuple(reversed(position))
        axes_taps = [
            [j * s + p * d - lo for p in range(k)]
            for j, s, d, (lo, _), k in zip(position, stride, dilation, pads, kernel, strict=True)
        ]
        taps = [()]
        for values in axes_taps:
            taps = [(*t, v) for t in taps for v in values]
        frames.append(ConvFrame(position, tuple(taps)))
    return frames


def _describe(a: ConvAnimation, padding: Any) -> list[str]:
    """Two lines: the geometry, then the padding and the output it gives."""

    def axes(values: Sequence[Any]) -> str:
        return "x".join(str(v) for v in values)

    def pairs(values: Sequence[tuple[int, int]]) -> str:
        return ", ".join(f"({lo}, {hi})" for lo, hi in values)

    if a.transposed:
        zeros = axes(s - 1 for s in a.inserted)
        return [
            f"input {axes(a.source_size)}, kernel {axes(a.kernel_size)}, stride "
            f"{axes(a.inserted)}, dilation {axes(a.dilation)}, padding {padding!r} = (lo, hi) "
            f"{pairs(a.conv_padding)}  ->  output {axes(a.output_size)}",
            f"= stride 1, kernel flipped, over the input with {zeros} zero(s) inserted "
            f"between samples, padded by {pairs(a.padding)}",
        ]
    return [
        f"input {axes(a.input_size)}, kernel {axes(a.kernel_size)}, stride "
        f"{axes(a.stride)}, dilation {axes(a.dilation)}",
        f"padding {padding!r} = (lo, hi) {pairs(a.padding)}  ->  output {axes(a.output_size)}",
    ]


def _frames_reason(out: Sequence[int], limit: int, what: str) -> str | None:
    """Why a problem of output ``out`` is refused: more than ``limit`` positions."""
    count = math.prod(out)
    if count <= limit:
        return None
    shape = "x".join(str(o) for o in out)
    return (
        f"a problem with at most {limit:,} output positions ({what}); with this kernel, "
        f"stride, padding and dilation the output is {shape} = {count:,} positions"
    )


def _cells_reason(size: Sequence[int], padding: Sequence[tuple[int, int]], out: Sequence[int]):
    """Why a problem is refused: a grid of more than :data:`MAX_CELLS` cells a side (a
    negative padding, inside a transposed convolution's grid, draws nothing)."""
    padded = [n + max(lo, 0) + max(hi, 0) for n, (lo, hi) in zip(size, padding, strict=True)]
    for what, sizes in (("padded input", padded), ("output", out)):
        if max(sizes) > MAX_CELLS:
            return (
                f"a problem whose {what} has at most {MAX_CELLS} cells a side to draw; it "
                f"has {'x'.join(str(v) for v in sizes)} (check the padding and dilation)"
            )
    return None


def _check_frames(out: Sequence[int], limit: int, what: str, given: Any) -> None:
    """Refuse before any work a problem of more than ``limit`` output positions."""
    reason = _frames_reason(out, limit, what)
    if reason is not None:
        raise fail("animate_conv", "input_size", reason, given)


def _check_cells(a: ConvAnimation) -> None:
    """Refuse a grid too large to draw: more than :data:`MAX_CELLS` cells a side."""
    reason = _cells_reason(a.input_size, a.padding, a.output_size)
    if reason is not None:
        raise fail("animate_conv", "input_size", reason, a.input_size)


def animation_refusal(
    input_size: Sequence[int],
    kernel_size: int | Sequence[int],
    *,
    stride: int | Sequence[int] = 1,
    padding: Any = "valid",
    dilation: int | Sequence[int] = 1,
    strip: bool = False,
    transpose: bool = False,
    output_padding: int | Sequence[int] = 0,
) -> str | None:
    """Why :func:`animate_conv` would refuse to draw this problem for its size (completing
    "must be ..."), or ``None``: the limits it checks before any work, for a caller that
    names its own arguments (``anyconv animate`` names its flags). Other bad arguments
    raise as in :func:`animate_conv`.

    Example:
        >>> animation_refusal((5, 5), 3) is None
        True
        >>> animation_refusal((100, 100), 1)  # doctest: +ELLIPSIS
        'a problem with at most 256 output positions (one frame each); ... = 10,000 positions'
    """
    func = "animate_conv"
    if not (isinstance(input_size, Sequence) and 1 <= len(input_size) <= 2):
        return None  # animate_conv's own error says what it takes
    size = int_tuple(tuple(input_size), len(input_size), "input_size", func, minimum=1)
    kernel = int_tuple(kernel_size, len(size), "kernel_size", func, minimum=1)
    if check_bool(transpose, "transpose", func):
        spec, grid, pads = _transposed_geometry(
            size, kernel, stride, padding, output_padding, dilation
        )
        out = spec.in_shape
    else:
        stride = int_tuple(stride, len(size), "stride", func, minimum=1)
        dilation = int_tuple(dilation, len(size), "dilation", func, minimum=1)
        spec = window_spec(size, kernel, stride, padding, dilation, func=func)
        grid, pads, out = size, spec.padding, spec.out_shape
    reasons = [_frames_reason(out, MAX_FRAMES, "one frame each")]
    if strip:
        reasons.append(_frames_reason(out, MAX_STRIP_FRAMES, "frames in one PNG strip"))
    reasons.append(_cells_reason(grid, pads, out))
    return next((r for r in reasons if r is not None), None)


LEGEND_SIZE = 11  # points: legible on a projector at the default 100 dpi
TEXT_SIZE = 11


class _Painter:
    """Draws the frames on one figure. The grids, labels and legend are rendered once;
    each frame restores that background and draws only what changes (the taps, their
    footprint, the output cells' colours, the caption), which is many times faster than
    drawing the whole figure again."""

    def __init__(self, a: ConvAnimation, padding: Any, dpi: int) -> None:
        import textwrap

        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.collections import PatchCollection
        from matplotlib.patches import Patch, Rectangle

        self.Rectangle = Rectangle
        self.a = a
        one_d = len(a.input_size) == 1
        # a 1-D convolution is drawn as one row
        self.size = (1, *a.input_size) if one_d else a.input_size
        pads = ((0, 0), *a.padding) if one_d else a.padding
        # a negative amount (windows that start inside a transposed convolution's grid)
        # draws no padding: the whole grid is drawn
        self.pads = tuple((max(lo, 0), max(hi, 0)) for lo, hi in pads)
        period = a.inserted or (1,) * len(a.input_size)
        self.period = (1, *period) if one_d else period
        self.out = (1, *a.output_size) if one_d else a.output_size
        padded = [n + lo + hi for n, (lo, hi) in zip(self.size, self.pads, strict=True)]
        cell = min(0.45, 8.0 / (padded[1] + self.out[1]))
        width = max(9.0, cell * (padded[1] + self.out[1]) + 4.5)  # + the legend
        height = cell * max(padded[0], self.out[0]) + (2.9 if one_d else 3.2)
        fig = new_figure(width, height)
        fig.set_dpi(dpi)
        ax_in, ax_out = fig.subplots(
            1, 2, gridspec_kw={"width_ratios": [padded[1] + 0.4, self.out[1] + 0.4]}
        )
        self.ax_in, self.ax_out, self.fig = ax_in, ax_out, fig
        chars = int(width * 72 / (0.56 * TEXT_SIZE))
        title = "transposed convolution arithmetic" if a.transposed else "convolution arithmetic"
        lines = _describe(a, padding)
        lines[0] = f"{title}: {lines[0]}"
        fig.suptitle(
            "\n".join(textwrap.fill(line, chars) for line in lines), fontsize=TEXT_SIZE + 1
        )
        cells: dict[str, list[Any]] = {"input": [], "zero": [], "pad": []}
        for r in range(padded[0]):
            for c in range(padded[1]):
                kind = self.kind((r - self.pads[0][0], c - self.pads[1][0]))
                cells[kind].append(Rectangle((c - 0.5, r - 0.5), 1, 1))
        looks = {
            "input": dict(facecolor=INPUT, edgecolor="#555555"),
            "zero": dict(facecolor=INSERTED, edgecolor="#555555", hatch=".."),
            "pad": dict(facecolor=PAD, edgecolor="#999999", hatch="//"),
        }
        for kind, patches in cells.items():
            if patches:
                ax_in.add_collection(PatchCollection(patches, linewidth=0.8, **looks[kind]))
        self.order = [(r, c) for r in range(self.out[0]) for c in range(self.out[1])]
        self.out_cells = PatchCollection(
            [Rectangle((c - 0.5, r - 0.5), 1, 1) for r, c in self.order],
            facecolor=INPUT,
            edgecolor="#555555",
            linewidth=0.8,
            animated=True,
        )
        ax_out.add_collection(self.out_cells)
        for ax, (rows, cols), offsets, period, sizes, what in (
            (ax_in, padded, [lo for lo, _ in self.pads], self.period, self.size, "input"),
            (ax_out, self.out, (0, 0), (1, 1), self.out, "output"),
        ):
            # a margin of a fifth of a cell: the outer cells' edges are drawn whole
            ax.set_xlim(-0.7, cols - 0.3)
            ax.set_ylim(rows - 0.3, -0.7)
            ax.set_aspect("equal")
            ax.set_xticks(*self.ticks(cols, offsets[1], period[1], sizes[1]))
            ax.tick_params(labelsize=TEXT_SIZE - 1, length=0)
            spaced = f" (samples {period[-1]} apart)" if period[-1] > 1 else ""
            ax.set_xlabel(f"{what} {'index' if one_d else 'column'}{spaced}", fontsize=TEXT_SIZE)
            if one_d:
                ax.set_yticks([])
            else:
                ax.set_yticks(*self.ticks(rows, offsets[0], period[0], sizes[0]))
                ax.set_ylabel(f"{what} row", fontsize=TEXT_SIZE)
            for spine in ax.spines.values():
                spine.set_visible(False)
        ax_in.set_title(
            "input, zeros inserted, padded" if a.transposed else "input, padded",
            fontsize=TEXT_SIZE,
        )
        ax_out.set_title("output", fontsize=TEXT_SIZE)
        handles = [
            Patch(facecolor=INPUT, edgecolor="#555555", label="input"),
            *(
                [Patch(facecolor=INSERTED, edgecolor="#555555", hatch="..", label="zero inserted")]
                if a.transposed
                else []
            ),
            Patch(facecolor=PAD, edgecolor="#999999", hatch="//", label="padding"),
            Patch(facecolor=TAP, alpha=0.6, label="kernel tap"),
            Patch(facecolor=CURRENT, label="computed now"),
            Patch(facecolor=DONE, edgecolor="#555555", label="computed before"),
        ]
        fig.legend(
            handles=handles,
            loc="outside right center",
            fontsize=LEGEND_SIZE,
            frameon=False,
        )
        # the caption changes every frame; the layout is computed once, for the longest
        self.caption = fig.supxlabel(self._caption(len(a.frames) - 1), fontsize=TEXT_SIZE)
        self.caption.set_animated(True)
        self.canvas = FigureCanvasAgg(fig)
        self.canvas.draw()  # the layout and every static artist, once
        self.background = self.canvas.copy_from_bbox(fig.bbox)
        self.dynamic: list[Any] = []

    def kind(self, cell: tuple[int, int]) -> str:
        """``"input"``, ``"zero"`` (inserted) or ``"pad"`` for a grid cell (row, column)."""
        if not all(0 <= v < n for v, n in zip(cell, self.size, strict=True)):
            return "pad"
        return (
            "input" if all(v % p == 0 for v, p in zip(cell, self.period, strict=True)) else "zero"
        )

    @staticmethod
    def ticks(cells: int, offset: int, period: int, size: int) -> tuple[list[int], list[str]]:
        """Tick positions and labels along an axis of ``cells`` drawn cells: every cell's
        coordinate (at most 12 labels), or for a zero-inserted grid (of ``size`` cells from
        ``offset``) the input samples' indices, ``period`` cells apart."""
        if period == 1:
            at = list(range(0, cells, max(1, math.ceil(cells / 12))))
            return at, [str(c - offset) for c in at]
        samples = list(range(0, (size - 1) // period + 1, max(1, math.ceil(size / period / 12))))
        return [offset + j * period for j in samples], [str(j) for j in samples]

    def _caption(self, index: int) -> str:
        frame = self.a.frames[index]
        one_d = len(self.a.input_size) == 1
        kinds = [self.kind((0, *t) if one_d else t) for t in frame.taps]
        if self.a.transposed:
            count = kinds.count("input")
            words = (
                f"sum of flipped kernel x grid over {len(frame.taps)} taps: {count} input "
                f"sample{'' if count == 1 else 's'}, {kinds.count('zero')} inserted zeros, "
                f"{kinds.count('pad')} in the padding"
            )
        else:
            words = (
                f"sum of kernel x input over {len(frame.taps)} taps ({kinds.count('pad')} in "
                "the padding)"
            )
        return (
            f"frame {index + 1}/{len(self.a.frames)}: output "
            f"({', '.join(str(o) for o in frame.output)}) = {words}"
        )

    def frame(self, index: int) -> tuple[tuple[int, ...], ...]:
        """Draw frame ``index``; returns the tap cells drawn, in input coordinates."""
        for artist in self.dynamic:
            artist.remove()
        self.dynamic = []
        one_d = len(self.a.input_size) == 1
        frame = self.a.frames[index]
        (lo_r, _), (lo_c, _) = self.pads
        drawn = []
        for tap in frame.taps:
            r, c = (0, *tap) if one_d else tap
            patch = self.Rectangle(
                (c + lo_c - 0.5, r + lo_r - 0.5),
                1,
                1,
                facecolor=TAP,
                alpha=0.6,
                edgecolor=TAP,
                linewidth=1.5,
                gid="tap",
                animated=True,
            )
            self.ax_in.add_patch(patch)
            self.dynamic.append(patch)
            x, y = patch.get_xy()
            cell = (round(y + 0.5) - lo_r, round(x + 0.5) - lo_c)
            drawn.append(cell[1:] if one_d else cell)
        rows = [t[0] for t in frame.taps] if not one_d else [0]
        cols = [t[-1] for t in frame.taps]
        box = self.Rectangle(
            (min(cols) + lo_c - 0.5, min(rows) + lo_r - 0.5),
            max(cols) - min(cols) + 1,
            max(rows) - min(rows) + 1,
            fill=False,
            edgecolor=TAP,
            linestyle="--",
            linewidth=1.5,
            animated=True,
        )
        self.ax_in.add_patch(box)
        self.dynamic.append(box)
        current = (0, *frame.output) if one_d else frame.output
        self.out_cells.set_facecolor(
            [
                CURRENT if position == current else DONE if order < index else INPUT
                for order, position in enumerate(self.order)
            ]
        )
        self.caption.set_text(self._caption(index))
        self.canvas.restore_region(self.background)
        for artist in (self.out_cells, *self.dynamic, self.caption):
            self.fig.draw_artist(artist)
        return tuple(drawn)

    def image(self) -> Any:
        from PIL import Image

        return Image.frombuffer(
            "RGBA",
            self.canvas.get_width_height(),
            self.canvas.buffer_rgba(),
            "raw",
            "RGBA",
            0,
            1,
        ).convert("RGB")


def _check_output_options(seconds_per_frame: Any, dpi: Any) -> None:
    """A GIF frame lasts 1 to 65535 hundredths of a second; beyond 600 dpi one frame of a
    few inches is a picture of tens of megapixels (10**6 dpi: bad_alloc)."""
    check_real(seconds_per_frame, "seconds_per_frame", "animate_conv", minimum=0.01, below=655.36)
    check_int(dpi, "dpi", "animate_conv", minimum=10, maximum=600, note="dots per inch")


def animate_conv(
    input_size: Sequence[int],
    kernel_size: int | Sequence[int],
    *,
    stride: int | Sequence[int] = 1,
    padding: Any = "valid",
    dilation: int | Sequence[int] = 1,
    out: str | Path | None = None,
    strip: bool = False,
    seconds_per_frame: float = 0.8,
    dpi: int = 100,
    transpose: bool = False,
    output_padding: int | Sequence[int] = 0,
) -> ConvAnimation:
    """Draw the sliding window of a 1-D or 2-D convolution, one frame per output position.

    Each frame shows the padded input (padding hatched grey, so a ``"same"`` padding with
    stride, or ``"causal"``, shows its lo/hi asymmetry), the kernel's taps in blue (with
    dilation the gaps between them stay white inside the dashed footprint), and the output
    grid with the position being computed in dark green and those before it in light green.
    Limits, checked before any drawing: :data:`MAX_FRAMES` frames (:data:`MAX_STRIP_FRAMES`
    in a strip) and :data:`MAX_CELLS` cells a side of the padded input and of the output.
    The file is written atomically: a failed write leaves an earlier file there intact.

    With ``transpose=True``, of the transposed convolution with these arguments
    (:func:`anyconv.conv_transpose`) as Dumoulin & Visin draw it: the input with ``stride -
    1`` zeros inserted between its samples (dotted yellow), padded by ``k_eff - 1 - lo``
    (:func:`transposed_windows`), and the flipped kernel sliding over it with stride 1. The
    frame text counts the input samples each output reads: with a stride that does not
    divide the kernel size the counts alternate (the checkerboard).

    Args:
        input_size: ``(n,)`` or ``(H, W)`` (3-D: animate one slice).
        kernel_size, stride, padding, dilation: as in :func:`anyconv.conv`, every padding
            rule included.
        out: where to write: a ``.gif`` animation, or with ``strip=True`` a PNG with all
            frames in a grid; ``None`` draws nothing (the frames' data only).
        strip: write the frames side by side in one PNG instead of an animation.
        seconds_per_frame: GIF frame duration, 0.01 to 655 s (what a GIF can hold).
        dpi: resolution of each frame, 10 to 600 dots per inch.
        transpose: animate the transposed convolution instead.
        output_padding: the transposed convolution's (with ``transpose=True``).

    Returns:
        a :class:`ConvAnimation`: geometry, one :class:`ConvFrame` per output position (in
        row-major order) with the taps read and the cells drawn, and ``path``.

    Example:
        >>> a = animate_conv((4,), 2, stride=2, padding="causal")
        >>> a.padding, [f.taps for f in a.frames]
        (((1, 0),), [((-1,), (0,)), ((1,), (2,))])
        >>> animate_conv((2, 2), 3, stride=2, transpose=True).output_size
        (5, 5)
    """
    _check_output_options(seconds_per_frame, dpi)
    geometry = {"stride": stride, "padding": padding, "dilation": dilation}
    if check_bool(transpose, "transpose", "animate_conv"):
        anim = transposed_windows(
            input_size, kernel_size, output_padding=output_padding, **geometry
        )
    else:
        anim = conv_windows(input_size, kernel_size, **geometry)
    if out is None:
        return anim
    if strip:
        _check_frames(anim.output_size, MAX_STRIP_FRAMES, "frames in one PNG strip", input_size)
    _check_cells(anim)
    from PIL import Image

    path = Path(out)
    painter = _Painter(anim, padding, dpi)
    palette = None
    if not strip:  # one palette for every GIF frame, from the last (it has every colour)
        painter.frame(len(anim.frames) - 1)
        palette = painter.image().quantize(64, Image.Quantize.MAXCOVERAGE)
    images = []
    for i, frame in enumerate(anim.frames):
        drawn = painter.frame(i)
        anim.frames[i] = ConvFrame(frame.output, frame.taps, drawn)
        image = painter.image()
        if palette is not None:  # one byte a pixel from the start
            image = image.quantize(palette=palette, dither=Image.Dither.NONE)
        images.append(image)
    if strip:
        one_d = len(anim.input_size) == 1
        cols = min(len(images), 2 if one_d else min(4, math.ceil(math.sqrt(len(images)))))
        rows = math.ceil(len(images) / cols)
        w, h = images[0].size
        sheet = Image.new("RGB", (w * cols, h * rows), "white")
        for i, image in enumerate(images):
            sheet.paste(image, ((i % cols) * w, (i // cols) * h))
        anim.path = write_file(path, lambda f: sheet.save(f, format=_format(path, "PNG")))
    else:
        anim.path = write_file(
            path,
            lambda f: images[0].save(
                f,
                format=_format(path, "GIF"),
                save_all=True,
                append_images=images[1:],
                duration=int(seconds_per_frame * 1000),
                loop=0,
            ),
        )
    return anim


def _format(path: Path, default: str) -> str:
    """Pillow's format for ``path``'s suffix (``default`` without one)."""
    from PIL import Image

    if not path.suffix:
        return default
    formats = Image.registered_extensions()
    if path.suffix.lower() not in formats:
        raise ValueError(f"{path}: Pillow writes no format of that name; use .gif or .png")
    return formats[path.suffix.lower()]
