"""Convolution arithmetic, animated (after Dumoulin & Visin, "A guide to convolution
arithmetic for deep learning", 2016): the kernel sliding over the padded input, one frame
per output position."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anyconv._checks import check_int, check_real, fail, int_tuple
from anyconv.padding import window_spec
from anyconv.viz._figure import new_figure

INPUT, PAD, TAP, CURRENT, DONE = "#ffffff", "#d9d9d9", "#2b6cb0", "#2f855a", "#c6f6d5"


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
    nd = len(size)
    kernel = int_tuple(kernel_size, nd, "kernel_size", func, minimum=1)
    stride = int_tuple(stride, nd, "stride", func, minimum=1)
    dilation = int_tuple(dilation, nd, "dilation", func, minimum=1)
    spec = window_spec(size, kernel, stride, padding, dilation, func=func)
    pads, out = spec.padding, spec.out_shape
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
    return ConvAnimation(size, kernel, stride, dilation, pads, out, frames)


def _describe(a: ConvAnimation, padding: Any) -> str:
    def axes(values: Sequence[Any]) -> str:
        return "x".join(str(v) for v in values)

    pads = ", ".join(f"({lo}, {hi})" for lo, hi in a.padding)
    return (
        f"input {axes(a.input_size)}, kernel {axes(a.kernel_size)}, stride "
        f"{axes(a.stride)}, dilation {axes(a.dilation)}, padding {padding!r} = (lo, hi) "
        f"{pads}  ->  output {axes(a.output_size)}"
    )


class _Painter:
    """Draws the frames on one figure, changing only the highlighted cells between them."""

    def __init__(self, a: ConvAnimation, padding: Any) -> None:
        from matplotlib.patches import Patch, Rectangle

        self.Rectangle = Rectangle
        self.a = a
        # a 1-D convolution is drawn as one row
        self.size = (1, *a.input_size) if len(a.input_size) == 1 else a.input_size
        self.pads = ((0, 0), *a.padding) if len(a.padding) == 1 else a.padding
        self.out = (1, *a.output_size) if len(a.output_size) == 1 else a.output_size
        padded = [n + lo + hi for n, (lo, hi) in zip(self.size, self.pads, strict=True)]
        one_d = len(a.input_size) == 1
        width = padded[1] + self.out[1] + 2
        cell = 0.45 if max(padded) <= 16 else 0.3
        height = 2.4 if one_d else cell * padded[0] + 2.6
        fig = new_figure(max(6.0, cell * width + 1.5), height, None)
        ratios = [padded[1] + 1, self.out[1] + 1]
        self.ax_in, self.ax_out = fig.subplots(
            1, 2, gridspec_kw={"width_ratios": ratios, "left": 0.07, "right": 0.98}
        )
        fig.subplots_adjust(top=0.7 if one_d else 0.84, bottom=0.42 if one_d else 0.2)
        fig.suptitle("convolution arithmetic\n" + _describe(a, padding), fontsize=9)
        self.fig = fig
        for r in range(padded[0]):
            for c in range(padded[1]):
                inside = (
                    self.pads[0][0] <= r < self.pads[0][0] + self.size[0]
                    and self.pads[1][0] <= c < self.pads[1][0] + self.size[1]
                )
                self.ax_in.add_patch(
                    Rectangle(
                        (c - 0.5, r - 0.5),
                        1,
                        1,
                        facecolor=INPUT if inside else PAD,
                        edgecolor="#555555" if inside else "#999999",
                        hatch=None if inside else "//",
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
        for ax, (rows, cols), offsets, what in (
            (self.ax_in, padded, [lo for lo, _ in self.pads], "input"),
            (self.ax_out, self.out, (0, 0), "output"),
        ):
            ax.set_xlim(-0.5, cols - 0.5)
            ax.set_ylim(rows - 0.5, -0.5)
            ax.set_aspect("equal")
            step = max(1, math.ceil(cols / 16))
            ax.set_xticks(range(0, cols, step), [str(c - offsets[1]) for c in range(0, cols, step)])
            ax.tick_params(labelsize=7, length=0)
            ax.set_xlabel(f"{what} {'index' if one_d else 'column'}", fontsize=8)
            if one_d:
                ax.set_yticks([])
            else:
                step = max(1, math.ceil(rows / 16))
                ax.set_yticks(
                    range(0, rows, step), [str(r - offsets[0]) for r in range(0, rows, step)]
                )
                ax.set_ylabel(f"{what} row", fontsize=8)
            for spine in ax.spines.values():
                spine.set_visible(False)
        self.ax_in.set_title("input, padded", fontsize=9)
        self.ax_out.set_title("output", fontsize=9)
        fig.legend(
            handles=[
                Patch(facecolor=INPUT, edgecolor="#555555", label="input"),
                Patch(facecolor=PAD, edgecolor="#999999", hatch="//", label="padding"),
                Patch(facecolor=TAP, alpha=0.6, label="kernel tap"),
                Patch(facecolor=CURRENT, label="output computed now"),
                Patch(facecolor=DONE, label="computed before"),
            ],
            loc="lower center",
            ncol=5,
            fontsize=7,
            frameon=False,
        )
        self.dynamic: list[Any] = []

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
        in_padding = sum(
            not all(0 <= v < n for v, n in zip(t, self.a.input_size, strict=True))
            for t in frame.taps
        )
        text = self.fig.text(
            0.5,
            0.14 if one_d else 0.055,
            f"frame {index + 1}/{len(self.a.frames)}: output {frame.output} = sum of kernel x "
            f"input over {len(frame.taps)} taps ({in_padding} in the padding)",
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
) -> ConvAnimation:
    """Draw the sliding window of a 1-D or 2-D convolution, one frame per output position.

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

    Example:
        >>> a = animate_conv((4,), 2, stride=2, padding="causal")
        >>> a.padding, [f.taps for f in a.frames]
        (((1, 0),), [((-1,), (0,)), ((1,), (2,))])
    """
    _check_output_options(seconds_per_frame, dpi)
    anim = conv_windows(input_size, kernel_size, stride=stride, padding=padding, dilation=dilation)
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
