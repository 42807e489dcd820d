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
from anyconv.viz._figure import new_figure

INPUT, PAD, TAP, CURRENT, DONE = "#ffffff", "#d9d9d9", "#2b6cb0", "#2f855a", "#c6f6d5"
INSERTED = "#fdf2c9"  # the zeros a transposed convolution inserts between input samples


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
    nd = len(size)
    kernel = int_tuple(kernel_size, nd, "kernel_size", func, minimum=1)
    spec = transposed_spec(
        (1, 1, *size),
        (1, 1, *kernel),
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        dilation=dilation,
        func=func,
    )
    grid = tuple((m - 1) * s + 1 for m, s in zip(size, spec.stride, strict=True))
    pads = []
    for n, g, k, d, (lo, _) in zip(
        spec.in_shape, grid, kernel, spec.dilation, spec.padding, strict=True
    ):
        left = d * (k - 1) - lo
        pads.append((left, n + d * (k - 1) - left - g))
    ones = (1,) * nd
    frames = _frames(spec.in_shape, kernel, ones, spec.dilation, tuple(pads))
    return ConvAnimation(
        grid,
        kernel,
        ones,
        spec.dilation,
        tuple(pads),
        spec.in_shape,
        frames,
        inserted=spec.stride,
        source_size=size,
        conv_padding=spec.padding,
    )


def _frames(out, kernel, stride, dilation, pads) -> list[ConvFrame]:
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


def _describe(a: ConvAnimation, padding: Any) -> str:
    def axes(values: Sequence[Any]) -> str:
        return "x".join(str(v) for v in values)

    def pairs(values: Sequence[tuple[int, int]]) -> str:
        return ", ".join(f"({lo}, {hi})" for lo, hi in values)

    if a.transposed:
        zeros = axes(s - 1 for s in a.inserted)
        return (
            f"input {axes(a.source_size)}, kernel {axes(a.kernel_size)}, stride "
            f"{axes(a.inserted)}, dilation {axes(a.dilation)}, padding {padding!r} = (lo, hi) "
            f"{pairs(a.conv_padding)}  ->  output {axes(a.output_size)}\n= stride 1, kernel "
            f"flipped, over the input with {zeros} zero(s) inserted between samples, padded "
            f"by {pairs(a.padding)}"
        )
    return (
        f"input {axes(a.input_size)}, kernel {axes(a.kernel_size)}, stride "
        f"{axes(a.stride)}, dilation {axes(a.dilation)}, padding {padding!r} = (lo, hi) "
        f"{pairs(a.padding)}  ->  output {axes(a.output_size)}"
    )


class _Painter:
    """Draws the frames on one figure, changing only the highlighted cells between them."""

    def __init__(self, a: ConvAnimation, padding: Any) -> None:
        from matplotlib.patches import Patch, Rectangle

        self.Rectangle = Rectangle
        self.a = a
        # a 1-D convolution is drawn as one row
        self.size = (1, *a.input_size) if len(a.input_size) == 1 else a.input_size
        pads = ((0, 0), *a.padding) if len(a.padding) == 1 else a.padding
        # a negative amount (windows that start inside a transposed convolution's grid)
        # draws no padding: the whole grid is drawn
        self.pads = tuple((max(lo, 0), max(hi, 0)) for lo, hi in pads)
        period = a.inserted or (1,) * len(a.input_size)
        self.period = (1, *period) if len(period) == 1 else period
        self.out = (1, *a.output_size) if len(a.output_size) == 1 else a.output_size
        padded = [n + lo + hi for n, (lo, hi) in zip(self.size, self.pads, strict=True)]
        one_d = len(a.input_size) == 1
        width = padded[1] + self.out[1] + 2
        cell = 0.45 if max(padded) <= 16 else 0.3
        height = 2.4 if one_d else cell * padded[0] + 2.6
        # a transposed convolution's texts are longer: at least 9 inches for them
        fig = new_figure(max(9.0 if a.transposed else 6.0, cell * width + 1.5), height, None)
        ratios = [padded[1] + 1, self.out[1] + 1]
        self.ax_in, self.ax_out = fig.subplots(
            1, 2, gridspec_kw={"width_ratios": ratios, "left": 0.07, "right": 0.98}
        )
        top = (0.62 if one_d else 0.8) if a.transposed else (0.7 if one_d else 0.84)
        fig.subplots_adjust(top=top, bottom=0.42 if one_d else 0.2)
        title = "transposed convolution arithmetic" if a.transposed else "convolution arithmetic"
        fig.suptitle(title + "\n" + _describe(a, padding), fontsize=9)
        self.fig = fig
        for r in range(padded[0]):
            for c in range(padded[1]):
                kind = self.kind((r - self.pads[0][0], c - self.pads[1][0]))
                self.ax_in.add_patch(
                    Rectangle(
                        (c - 0.5, r - 0.5),
                        1,
                        1,
                        facecolor={"input": INPUT, "zero": INSERTED}.get(kind, PAD),
                        edgecolor="#999999" if kind == "pad" else "#555555",
                        hatch="//" if kind == "pad" else ".." if kind == "zero" else None,
                        linewidth=0.8,
                    )
                )
        self.out_cells = {}
        for r in range(self.out[0]):
            for c in range(self.out[1]):
                patch = Rectangle(
                    (c - 0.5, r - 0.5), 1, 1, facecolor=INPUT, edgecolor="#555555", linewidth=0.8
                )
                self.ax_out.add_patch(patch)
                self.out_cells[(r, c)] = patch
        for ax, (rows, cols), offsets, period, sizes, what in (
            (self.ax_in, padded, [lo for lo, _ in self.pads], self.period, self.size, "input"),
            (self.ax_out, self.out, (0, 0), (1, 1), self.out, "output"),
        ):
            ax.set_xlim(-0.5, cols - 0.5)
            ax.set_ylim(rows - 0.5, -0.5)
            ax.set_aspect("equal")
            ax.set_xticks(*self.ticks(cols, offsets[1], period[1], sizes[1]))
            ax.tick_params(labelsize=7, length=0)
            spaced = f" (samples {period[-1]} apart)" if period[-1] > 1 else ""
            ax.set_xlabel(f"{what} {'index' if one_d else 'column'}{spaced}", fontsize=8)
            if one_d:
                ax.set_yticks([])
            else:
                ax.set_yticks(*self.ticks(rows, offsets[0], period[0], sizes[0]))
                ax.set_ylabel(f"{what} row", fontsize=8)
            for spine in ax.spines.values():
                spine.set_visible(False)
        if a.transposed:
            self.ax_in.set_title("input, zeros inserted, padded", fontsize=9)
        else:
            self.ax_in.set_title("input, padded", fontsize=9)
        self.ax_out.set_title("output", fontsize=9)
        handles = [
            Patch(facecolor=INPUT, edgecolor="#555555", label="input"),
            *(
                [Patch(facecolor=INSERTED, edgecolor="#555555", hatch="..", label="zero inserted")]
                if a.transposed
                else []
            ),
            Patch(facecolor=PAD, edgecolor="#999999", hatch="//", label="padding"),
            Patch(facecolor=TAP, alpha=0.6, label="kernel tap"),
            Patch(facecolor=CURRENT, label="output computed now"),
            Patch(facecolor=DONE, label="computed before"),
        ]
        fig.legend(handles=handles, loc="lower center", ncol=6, fontsize=7, frameon=False)
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
        coordinate, or for a zero-inserted grid (of ``size`` cells from ``offset``) the
        input samples' indices, ``period`` cells apart."""
        if period == 1:
            at = list(range(0, cells, max(1, math.ceil(cells / 16))))
            return at, [str(c - offset) for c in at]
        samples = list(range(0, (size - 1) // period + 1, max(1, math.ceil(size / period / 16))))
        return [offset + j * period for j in samples], [str(j) for j in samples]

    def frame(self, index: int) -> tuple[tuple[int, ...], ...]:
        """Highlight frame ``index``; returns the tap cells drawn, in input coordinates."""
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
            linewidth=1.2,
        )
        self.ax_in.add_patch(box)
        self.dynamic.append(box)
        current = (0, *frame.output) if one_d else frame.output
        for position, patch in self.out_cells.items():
            order = position[0] * self.out[1] + position[1]
            patch.set_facecolor(
                CURRENT if position == current else DONE if order < index else INPUT
            )
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
        text = self.fig.text(
            0.5,
            0.14 if one_d else 0.055,
            f"frame {index + 1}/{len(self.a.frames)}: output {frame.output} = {words}",
            ha="center",
            fontsize=8,
        )
        self.dynamic.append(text)
        return tuple(drawn)

    def image(self) -> Any:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from PIL import Image

        canvas = FigureCanvasAgg(self.fig)
        canvas.draw()
        return Image.frombuffer(
            "RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1
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
    dpi: int = 80,
    transpose: bool = False,
    output_padding: int | Sequence[int] = 0,
) -> ConvAnimation:
    """Draw the sliding window of a 1-D or 2-D convolution, one frame per output position.

    With ``transpose=True``, of the transposed convolution with these arguments
    (:func:`anyconv.conv_transpose`) as Dumoulin & Visin draw it: the input with ``stride -
    1`` zeros inserted between its samples (dotted yellow), padded by ``k_eff - 1 - lo``
    (:func:`transposed_windows`), and the flipped kernel sliding over it with stride 1. The
    frame text counts the input samples each output reads: with a stride that does not
    divide the kernel size the counts alternate (the checkerboard).

    Each frame shows the padded input (padding hatched grey, so a ``"same"`` padding with
    stride, or ``"causal"``, shows its lo/hi asymmetry), the kernel's taps in blue (with
    dilation the gaps between them stay white inside the dashed footprint), and the output
    grid with the position being computed in dark green and those before it in light green.

    Args:
        input_size: ``(n,)`` or ``(H, W)`` (3-D: animate one slice).
        kernel_size, stride, padding, dilation: as in :func:`anyconv.conv`, every padding
            rule included.
        out: where to write: a ``.gif`` animation, or with ``strip=True`` a PNG with all
            frames in a grid; ``None`` draws nothing (the frames' data only).
        strip: write the frames side by side in one PNG instead of an animation.
        seconds_per_frame: GIF frame duration, 0.01 to 655 s (what a GIF can hold).
        dpi: resolution of each frame, 10 to 600 dots per inch.

    Returns:
        a :class:`ConvAnimation`: geometry, one :class:`ConvFrame` per output position (in
        row-major order) with the taps read and the cells drawn, and ``path``.

        transpose: animate the transposed convolution instead.
        output_padding: the transposed convolution's (with ``transpose=True``).

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
    painter = _Painter(anim, padding)
    painter.fig.set_dpi(dpi)
    images = []
    for i, frame in enumerate(anim.frames):
        drawn = painter.frame(i)
        anim.frames[i] = ConvFrame(frame.output, frame.taps, drawn)
        images.append(painter.image())
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    if strip:
        from PIL import Image

        one_d = len(anim.input_size) == 1
        cols = min(len(images), 2 if one_d else min(4, math.ceil(math.sqrt(len(images)))))
        rows = math.ceil(len(images) / cols)
        w, h = images[0].size
        sheet = Image.new("RGB", (w * cols, h * rows), "white")
        for i, image in enumerate(images):
            sheet.paste(image, ((i % cols) * w, (i // cols) * h))
        sheet.save(path)
    else:
        from PIL import Image

        palette = [im.convert("P", palette=Image.Palette.ADAPTIVE, colors=32) for im in images]
        palette[0].save(
            path,
            save_all=True,
            append_images=palette[1:],
            duration=int(seconds_per_frame * 1000),
            loop=0,
        )
    anim.path = path
    return anim
