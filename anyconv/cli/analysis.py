"""``anyconv summary``, ``equivariance``, ``animate`` and ``matrix``: the analysis of a model
or a trained run, and pictures of one convolution. Each parses, calls the library, prints or
writes."""

from __future__ import annotations

import argparse
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from anyconv.cli.arguments import (
    integer,
    ints,
    padding,
    padding_for,
    padding_or_border,
    shifts,
)
from anyconv.cli.output import TextTable, plain
from anyconv.cli.registry import command
from anyconv.functional.algorithms import memory


def load_target(
    target: str, input_shape: tuple[int, ...] | None, num_classes: int = 10
) -> tuple[torch.nn.Module, tuple[int, ...], str, dict[str, Any] | None]:
    """A registered model (built fresh), a run folder (its trained model) or your own model
    (``module:function`` or ``path/to/file.py:function``, see :func:`import_model`): the
    model, the input shape, a title and the run's config (``None`` for a fresh model)."""
    if not Path(target).is_dir() and ":" in target:
        return (*import_model(target, input_shape, num_classes), None)
    from anyconv._checks import did_you_mean
    from anyconv.models.registry import MODELS

    if not target.strip():
        raise ValueError("MODEL|RUN_DIR must not be empty: give a model name or a run folder")
    if Path(target).is_dir():
        from anyconv.train import load_run

        model, config = load_run(target)
        shape = tuple(config["input_shape"])
        if input_shape is not None and tuple(input_shape) != shape:
            raise ValueError(
                f"the run {target} was trained on inputs {shape}; got --input-shape "
                f"{tuple(input_shape)}"
            )
        return model, shape, f"{config['model']} trained on {config['data']}", config
    from anyconv.models import create_model, default_input_shape

    if target not in MODELS:
        where = "a file" if Path(target).exists() else "no such folder either"
        raise ValueError(
            f"{target!r} is neither a model name (one of {', '.join(MODELS)}: anyconv models) "
            f"nor a run folder ({where}) nor your own model (module:Name or file.py:Name)"
            f"{did_you_mean(target, MODELS)}"
        )
    natural = default_input_shape(target)
    if input_shape is not None and len(input_shape) != len(natural):
        axes = {2: "C,L", 3: "C,H,W", 4: "C,T,H,W"}.get(len(natural), "C,*spatial")
        raise ValueError(
            f"--input-shape for {target} must be {axes}, channels first ({len(natural)} "
            f"numbers, e.g. {','.join(map(str, natural))}); got {','.join(map(str, input_shape))}"
        )
    shape = tuple(input_shape or natural)
    if min(shape) < 1 or num_classes < 1:
        raise ValueError(
            f"--input-shape and --num-classes must be positive; got {shape} and {num_classes}"
        )
    kwargs = dict(in_channels=shape[0], num_classes=num_classes, input_size=tuple(shape[1:]))
    memory.check_allocation(model_estimate(target, kwargs, shape), f"{target} on input {shape}")
    torch.manual_seed(0)  # the same untrained weights every time
    model = create_model(target, **kwargs)
    return model, shape, f"{target} (untrained)", None


def import_model(
    target: str, input_shape: tuple[int, ...] | None, num_classes: int
) -> tuple[torch.nn.Module, tuple[int, ...], str]:
    """Build your own model for ``summary``/``equivariance``: ``target`` is
    ``module:Name`` or ``path/to/file.py:Name``, built as ``anyconv train`` builds one
    (:func:`anyconv.models.imported.build_imported`: a ``torch.nn.Module`` class or a
    function annotated to return one, called with those of ``in_channels``,
    ``num_classes`` and ``input_size`` it takes, from ``--input-shape``, which is
    required, and ``--num-classes``). A file is imported from its folder."""
    import sys

    from anyconv.models.imported import build_imported

    where, _, name = target.rpartition(":")
    if input_shape is None:
        raise ValueError(f"your own model {target} needs --input-shape C,H,W (one sample's shape)")
    data = dict(in_channels=input_shape[0], num_classes=num_classes, input_size=input_shape[1:])
    if not where.endswith(".py"):
        model, _ = build_imported(target, {}, data, "summary")
        return model, tuple(input_shape), f"{name} ({where})"
    path = Path(where)
    if not path.is_file():
        raise ValueError(f"model {target!r}: {where} is not a Python file")
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    try:
        model, _ = build_imported(f"{path.stem}:{name}", {}, data, "summary")
    finally:
        sys.path.remove(folder)
    return model, tuple(input_shape), f"{name} ({where})"


def model_estimate(name: str, kwargs: dict[str, Any], shape: Sequence[int]) -> float:
    """Bytes of a model's parameters (counted on the meta device, nothing allocated) and
    of a traced pass of one sample (:func:`anyconv.analysis.trace.trace_memory`: its widest
    activation 16 times; twice was 60x low for a TCN). Where PyTorch cannot even build the
    model on the meta device (sizes beyond int64), the bytes of the input and the logits
    alone, a floor that is then far above the memory limit
    (:func:`~anyconv.functional.algorithms.memory.memory_limit`)."""
    from anyconv.models import create_model

    try:
        with torch.device("meta"):
            meta = create_model(name, **kwargs)
    except (RuntimeError, TypeError, OverflowError):
        floor = 4.0 * (math.prod(shape) + kwargs.get("num_classes", 0))
        limit = memory.memory_limit(torch.device("cpu"))
        if limit is None or floor <= limit:
            raise
        return floor
    from anyconv.analysis.trace import trace_memory

    params = sum(p.numel() for p in meta.parameters())
    return 4.0 * params + trace_memory(meta, shape)[0]


def _target_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "target",
        metavar=what,
        help="a model name, a run folder, or your own model: module:Name or file.py:Name "
        "(a torch.nn.Module class or a function annotated '-> torch.nn.Module'; give "
        "--input-shape)",
    )
    parser.add_argument(
        "--input-shape", type=ints, help="C,H,W of one sample, for a model name (e.g. 1,28,28)"
    )
    parser.add_argument("--num-classes", type=integer, default=10, help="(default: %(default)s)")


def _geometry_arguments(
    parser: argparse.ArgumentParser, size: str, help: str, borders: bool = False
) -> None:
    """One convolution's geometry; with ``borders``, ``--padding`` also takes a border."""
    parser.add_argument(
        "--input", type=ints, default=ints(size), help=f"input size (default: {size})"
    )
    parser.add_argument(
        "--kernel", type=ints, default=(3,), help="kernel size: 3 or 3,2 (default: 3)"
    )
    parser.add_argument("--stride", type=ints, default=(1,), help="(default: 1)")
    parse = padding_or_border if borders else padding
    parser.add_argument("--padding", type=parse, default="valid", help=help)
    parser.add_argument("--dilation", type=ints, default=(1,), help="(default: 1)")


def _axes(values: Any) -> str:
    from anyconv.analysis.receptive import axes_text

    return axes_text(values)  # fractional fields (after resampling) rounded: 4.33


def _field_json(field: Any) -> dict[str, Any] | None:
    if field is None:
        return None
    return {"size": field.size, "jump": field.jump, "start": field.start, "note": field.note}


def _summary_arguments(parser: argparse.ArgumentParser) -> None:
    _target_arguments(parser, "MODEL|RUN_DIR")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--fields", metavar="PNG", help="also draw each layer's receptive field into this PNG"
    )


@command(
    "summary",
    "layer table of a model or trained run: shapes, parameters, MACs, receptive fields",
    _summary_arguments,
)
def _summary(args: argparse.Namespace, console: Console) -> int:
    from anyconv.analysis import summary

    model, shape, title, _ = load_target(args.target, args.input_shape, args.num_classes)
    rows = summary(model, shape)
    if args.json:
        out = [
            {**r, "flops": 2 * r["macs"], "receptive_field": _field_json(r["receptive_field"])}
            for r in rows
        ]
        print(json.dumps({"model": title, "input_shape": shape, "rows": out}, indent=2))
        return 0
    table = TextTable(
        f"{title} on input {shape}",
        ("layer", "type", "output", "params", "MACs", "RF", "jump"),
        right=("output", "params", "MACs", "RF", "jump"),
        compact=True,
    )
    for row in rows:
        field = row["receptive_field"]
        table.add_row(
            row["name"],
            row["type"],
            "" if row["output_shape"] is None else _axes(row["output_shape"]),
            f"{row['parameters']:,}",
            f"{row['macs']:,}",
            _axes(field.size) if field else "",
            _axes(field.jump) if field else "",
            bold=row["name"] == "total",
        )
    table.show(console)
    total = rows[-1]
    console.print(
        plain(
            f"{total['parameters']:,} parameters; {total['macs']:,} MACs per sample = "
            f"{2 * total['macs']:,} FLOPs (1 MAC = 2 FLOPs; pooling, activations and "
            "normalisation count 0). output: channels x spatial size. RF: the receptive "
            "field of one output position, in input samples per axis; jump: input samples "
            "between neighbouring positions."
        )
    )
    notes = {f.note for r in rows if (f := r["receptive_field"]) is not None and f.note}
    for note in sorted(notes):
        console.print(plain(f"note: {note}"))
    if args.fields:
        from anyconv.viz import plot_receptive_field

        drawn = plot_receptive_field(model, shape, args.fields, title=title)
        console.print(plain(f"receptive fields drawn: {drawn}"))
    return 0


def _equivariance_arguments(parser: argparse.ArgumentParser) -> None:
    # "--shifts -4..4" must read -4..4 as a value: argparse takes an argument that starts
    # with "-" for a value only if it looks like a negative number, so ranges count too
    parser._negative_number_matcher = re.compile(r"^-\d+(\.\.-?\d+)?$|^-\d+(,-?\d+)*$")
    _target_arguments(parser, "RUN_DIR|MODEL")
    parser.add_argument(
        "--shifts",
        type=shifts,
        default=list(range(-4, 5)),
        help="shifts in samples along every spatial axis: -4..4 or 0,1,2 (default: -4..4)",
    )
    parser.add_argument(
        "--mode",
        choices=["crop", "circular"],
        default="crop",
        help="crop: compare interiors only (no border effects); circular: roll "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--samples", type=integer, default=64, help="inputs to average over (default: %(default)s)"
    )
    parser.add_argument("--out", help="the PNG (default: RUN_DIR/equivariance.png)")


@command(
    "equivariance",
    "shift equivariance error per layer and the consistency of the predictions (PNG)",
    _equivariance_arguments,
)
def _equivariance(args: argparse.Namespace, console: Console) -> int:
    from anyconv.analysis import layer_equivariance, receptive_field_stages, shift_consistency
    from anyconv.viz import plot_equivariance

    if args.samples < 1:
        raise ValueError(f"--samples must be a positive int; got {args.samples}")
    model, shape, title, config = load_target(args.target, args.input_shape, args.num_classes)
    _check_shifts(args.shifts, shape)
    memory.check_allocation(
        _equivariance_estimate(model, shape, args.samples, len(args.shifts)),
        f"equivariance of {args.samples:,} samples of shape {shape} under "
        f"{len(args.shifts)} shifts",
    )
    layers = receptive_field_stages(model, shape)
    if not layers:
        raise ValueError(
            f"{title} has no convolution or pooling layer to measure the shift equivariance "
            "of; equivariance measures convolutional networks"
        )
    if config is not None:  # the run's test split, seen as the run saw it
        from anyconv.train.run import load_run_data

        data = load_run_data(config)
        x = data.first_samples("test", args.samples)[0]
        source = f"{len(x)} test samples"
    else:
        x = torch.randn(args.samples, *shape, generator=torch.Generator().manual_seed(0))
        source = f"{args.samples} random inputs"
    errors = layer_equivariance(model, x, args.shifts, mode=args.mode, layers=layers)
    modules = dict(model.named_modules())
    errors = {f"{n} {type(modules[n]).__name__}": rows for n, rows in errors.items()}
    logits = model.eval()(x[:1])
    consistency = None
    if logits.dim() == 2:
        consistency = shift_consistency(
            model, x, args.shifts, mode="circular" if args.mode == "circular" else "zeros"
        )
    out = (
        Path(args.out)
        if args.out
        else (
            Path(args.target) / "equivariance.png"
            if config
            else Path(f"equivariance-{args.target}.png")
        )
    )
    out = plot_equivariance(
        errors, out, consistency=consistency, title=f"{title}, {source}", mode=args.mode
    )
    # a plain aligned table: it must fit 80 columns with nine shifts
    width = max(len("same class"), *(len(n) for n in errors))
    lines = [
        f"relative equivariance error of {title} ({args.mode} mode, {source})",
        f"{'layer':<{width}} stride" + "".join(f"{s:>6d}" for s in args.shifts),
    ]
    for name, rows in errors.items():
        stride = "x".join(f"{v:g}" for v in rows[0]["stride"])
        cells = [
            "-" if r["error"] != r["error"] else f"{r['error']:.2f}" + ("" if r["aligned"] else "*")
            for r in rows
        ]
        lines.append(f"{name:<{width}} {stride:>6}" + "".join(f"{c:>6}" for c in cells))
    if consistency:
        kept = [f"{100 * r['consistency']:.0f}%" for r in consistency["per_shift"]]
        lines.append(f"{'same class':<{width}} {'':>6}" + "".join(f"{c:>6}" for c in kept))
    console.print("\n".join(lines), highlight=False, markup=False, soft_wrap=True)
    console.print(
        plain(
            "*: the shift is not a multiple of the layer's total stride (compared with the "
            "nearest output shift); -: no output position whose field stays inside the input. "
            + (
                f"Consistency {100 * consistency['consistency']:.1f}% over the nonzero shifts. "
                if consistency
                else ""
            )
            + f"Picture: {out}"
        )
    )
    return 0


def _check_shifts(values: Sequence[int], shape: Sequence[int]) -> None:
    """Shifts no longer than the input: a larger one moves every sample out of view."""
    largest = max(shape[1:])
    beyond = [v for v in values if abs(v) > largest]
    if beyond:
        raise ValueError(
            f"--shifts must lie in -{largest}..{largest} (a larger shift moves the whole input "
            f"of shape {tuple(shape)} out of view); got {beyond[0]}"
        )


def _equivariance_estimate(
    model: torch.nn.Module, shape: Sequence[int], samples: int, shifts: int
) -> float:
    """Bytes ``anyconv equivariance`` holds at its peak, about: the inputs and one shifted
    copy, and every layer's output for both, in float32. The layers' outputs are taken as
    the widest layer's channels over the input's size, per layer with parameters."""
    spatial = math.prod(shape[1:])
    channels = [getattr(m, "out_channels", 0) for m in model.modules()]
    layers = sum(1 for c in channels if c) or 1
    widest = max([*channels, shape[0]])
    per_sample = 2 * (math.prod(shape) + layers * widest * spatial)
    return 4.0 * samples * per_sample + 4.0 * samples * shifts


def _animate_arguments(parser: argparse.ArgumentParser) -> None:
    _geometry_arguments(
        parser,
        "5,5",
        "valid, same, full, causal, an int, a lo:hi pair, or one per axis: causal,same "
        "(default: valid)",
    )
    parser.add_argument(
        "--out",
        help="conv.gif (default; conv_transpose.gif with --transpose), or a .png with --frames",
    )
    parser.add_argument("--frames", action="store_true", help="all frames in one PNG strip")
    parser.add_argument(
        "--transpose",
        action="store_true",
        help="animate the transposed convolution with these arguments (--input is its input): "
        "the flipped kernel sliding over the input with stride-1 zeros inserted between "
        "samples, padded (Dumoulin & Visin's figures)",
    )
    parser.add_argument(
        "--output-padding",
        type=ints,
        default=(0,),
        help="with --transpose: added to the smallest output size (default: 0)",
    )


@command(
    "animate",
    "animate a convolution's sliding window, or a transposed one's (GIF, or a PNG strip)",
    _animate_arguments,
)
def _animate(args: argparse.Namespace, console: Console) -> int:
    from anyconv.viz import animate_conv
    from anyconv.viz._figure import output_path
    from anyconv.viz.animate import animation_refusal

    default = "conv_transpose" if args.transpose else "conv"
    out = output_path(args.out or default, ".png" if args.frames else ".gif")
    if args.frames and out.suffix.lower() != ".png":
        out = out.with_suffix(".png")
    geometry = dict(
        stride=args.stride if len(args.stride) > 1 else args.stride[0],
        padding=padding_for(args.padding, len(args.input)),
        dilation=args.dilation if len(args.dilation) > 1 else args.dilation[0],
        transpose=args.transpose,
        output_padding=(
            args.output_padding if len(args.output_padding) > 1 else args.output_padding[0]
        ),
    )
    kernel = args.kernel if len(args.kernel) > 1 else args.kernel[0]
    reason = animation_refusal(args.input, kernel, **geometry, strip=args.frames)
    if reason is not None:  # the flags the user gave, not animate_conv's arguments
        names = ("input", "kernel", "stride", "dilation")
        names += ("output_padding",) if args.transpose else ()
        flags = " ".join(
            f"--{name.replace('_', '-')} {','.join(map(str, getattr(args, name)))}"
            for name in names
        )
        flags += f" --padding {args.padding}" + (" --transpose" if args.transpose else "")
        raise ValueError(
            f"anyconv animate takes {reason}; got {flags}: use a smaller --input, --padding or "
            "--dilation, or a larger --stride"
        )
    anim = animate_conv(args.input, kernel, **geometry, out=out, strip=args.frames)
    pads = ", ".join(f"({lo}, {hi})" for lo, hi in anim.padding)
    grid = ""
    if anim.transposed:
        conv = ", ".join(f"({lo}, {hi})" for lo, hi in anim.conv_padding)
        grid = (
            f"the adjoint of the convolution padded by (lo, hi) = {conv}; the zero-inserted "
            f"input {anim.input_size} is padded by "
        )
    console.print(
        plain(
            f"{len(anim.frames)} frames (one per output position), "
            f"{grid or 'padding (lo, hi) = '}{pads}, output {anim.output_size}: {anim.path}"
        )
    )
    return 0


def _matrix_arguments(parser: argparse.ArgumentParser) -> None:
    from anyconv.padding import PADDING_MODES

    _geometry_arguments(
        parser,
        "4,4",
        "a padding rule, or a border (circular, reflect, replicate) meaning 'same' with that "
        "border (default: valid)",
        borders=True,
    )
    parser.add_argument(
        "--padding-mode",
        default="zeros",
        choices=PADDING_MODES,
        help="(default: %(default)s)",
    )
    parser.add_argument("--channels", type=ints, default=(1, 1), help="C_in,C_out (default: 1,1)")
    parser.add_argument("--out", help="the PNG (default: matrix.png)")
    parser.add_argument(
        "--transpose",
        action="store_true",
        help="draw M^T beside M: the matrix of the transposed convolution with these "
        "arguments, from the output back to --input (zero borders)",
    )


@command(
    "matrix",
    "draw a convolution as its sparse (Toeplitz / circulant) matrix, and its transpose",
    _matrix_arguments,
)
def _matrix(args: argparse.Namespace, console: Console) -> int:
    from anyconv.functional import conv_matrix
    from anyconv.padding import PADDING_MODES
    from anyconv.viz import plot_conv_matrix
    from anyconv.viz._figure import output_path

    padding, mode = padding_for(args.padding, len(args.input)), args.padding_mode
    if isinstance(padding, str) and padding in PADDING_MODES:  # "--padding circular"
        padding, mode = "same", padding
    if len(args.channels) != 2 or min(args.channels) < 1:
        raise ValueError(
            "--channels must be C_in,C_out, two positive ints (e.g. 2,3); got "
            + ",".join(map(str, args.channels))
        )
    c_in, c_out = args.channels
    kernel = args.kernel * len(args.input) if len(args.kernel) == 1 else args.kernel
    count = c_out * c_in * torch.Size(kernel).numel()
    weight = torch.arange(1.0, count + 1).reshape(c_out, c_in, *kernel)  # 1, 2, ...: each
    # weight has its own colour, so the constant diagonals of the Toeplitz blocks show
    shape = (c_in, *args.input)
    out = output_path(args.out or "matrix.png")
    kwargs = dict(
        stride=args.stride[0] if len(args.stride) == 1 else args.stride,
        padding=padding,
        dilation=args.dilation[0] if len(args.dilation) == 1 else args.dilation,
        padding_mode=mode,
    )
    out = plot_conv_matrix(weight, shape, out, transpose=args.transpose, **kwargs)
    matrix = conv_matrix(weight, shape, **kwargs)
    also = (
        f"; M^T ({matrix.shape[1]} x {matrix.shape[0]}), the transposed convolution, beside it"
        if args.transpose
        else ""
    )
    console.print(
        plain(
            f"M is {matrix.shape[0]} x {matrix.shape[1]} with {matrix._nnz()} nonzeros "
            f"(kernel weights 1..{count}, padding {padding!r}, border {mode}){also}: {out}"
        )
    )
    return 0
