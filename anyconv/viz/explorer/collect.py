"""What the Explorer page shows, gathered from the library into plain JSON values: the
layer table (:func:`anyconv.analysis.summary`), every layer's output for each sample, the
probabilities, class activation maps, kernels, and a run's history and confusion matrix.

Feature maps, kernels and class activation maps travel as 8-bit codes (base64) of each
layer's range for each sample: the page draws them through 256-colour maps, so 8 bits
lose nothing it shows, and a LeNet-5 page with 16 MNIST digits stays near 0.5 MB.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from anyconv._checks import fail
from anyconv.analysis import summary
from anyconv.analysis.trace import trace
from anyconv.viz.maps import _as_sample, conv_layers

MAX_SAMPLES = 256
"""At most this many samples on one page."""
MAP_BUDGET = 3_000_000
"""Bytes of 8-bit feature maps on one page (all samples, all layers); beyond it the
deepest channels of the widest layers are left out (the page says so)."""
MAX_VECTOR = 4096
"""Entries kept of an output that is not a feature map (a flattened or linear layer)."""
KERNEL_ROWS, KERNEL_COLS = 32, 16
"""Filters (output channels) and input channels of each convolution's kernels shown."""
MAX_CLASSES_CAM = 100
"""Class activation maps are kept for at most this many classes."""


def _num(value: float, digits: int = 6) -> float | int:
    """A float for JSON: 6 significant digits, whole numbers as ints, non-finite as 0."""
    value = float(value)
    if not math.isfinite(value):
        return 0
    if value.is_integer() and abs(value) < 2**53:
        return int(value)
    return float(f"{value:.{digits}g}")


def encode(values: torch.Tensor, signed: bool | None = None) -> tuple[bytes, float, float]:
    """8-bit codes of ``values`` over their range: ``(codes, lo, hi)`` with ``value ~ lo +
    code / 255 * (hi - lo)``. Signed values (or ``signed=True``) get a range symmetric
    about 0, so that code 127.5 is zero and a diverging colour map centres on it.

    Example:
        >>> codes, lo, hi = encode(torch.tensor([-1.0, 0.0, 2.0]))
        >>> list(codes), lo, hi
        ([64, 128, 255], -2.0, 2.0)
        >>> list(encode(torch.tensor([1.0, 3.0]))[0])
        [0, 255]
    """
    v = torch.nan_to_num(values.detach().float().cpu().flatten(), nan=0.0, posinf=0.0, neginf=0.0)
    if v.numel() == 0:
        return b"", 0.0, 1.0
    lo, hi = float(v.min()), float(v.max())
    if signed or (signed is None and lo < 0):
        hi = max(abs(lo), abs(hi)) or 1.0
        lo = -hi
    elif hi <= lo:
        hi = lo + 1.0
    codes = ((v - lo) / (hi - lo) * 255).round().clamp(0, 255).to(torch.uint8)
    return codes.numpy().tobytes(), lo, hi


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _first_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, list | tuple):
        for v in value:
            found = _first_tensor(v)
            if found is not None:
                return found
    if isinstance(value, dict):
        return _first_tensor(list(value.values()))
    return None


def _exact(value: float) -> float | int:
    """A field's number as it is (JSON keeps a float's every digit), whole ones as ints."""
    return int(value) if float(value).is_integer() else float(value)


def _field(field: Any) -> dict[str, list[float]] | None:
    if field is None:
        return None
    return {
        "size": [_exact(v) for v in field.size],
        "jump": [_exact(v) for v in field.jump],
        "start": [_exact(v) for v in field.start],
    }


def layer_rows(
    model: torch.nn.Module, shape: tuple[int, ...]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """:func:`anyconv.analysis.summary` of ``model``: its layer rows (without ``total`` and
    ``(other)``), each with ``layout``, its output's layout from the trace, for putting a
    batch of one back as ``(C, *spatial)`` (``None`` where not followed); and the
    ``total`` row."""
    table = summary(model, shape)
    total = table[-1]
    rows = [r for r in table if r["name"] not in ("total", "(other)")]
    layouts: dict[str, list[Any]] = {}
    for call in trace(model, shape, func="explore"):
        layouts.setdefault(call.name or "(model)", []).append(call.layout)
    seen: dict[str, int] = {}
    for row in rows:
        k = seen.get(row["name"], 0)
        seen[row["name"]] = k + 1
        found = layouts.get(row["name"], [])
        row["layout"] = found[k] if k < len(found) else None
    return rows, total


class _Recorder:
    """Forward hooks on the modules of the layer table, keeping each call's output in
    order (a module called twice gives two rows)."""

    def __init__(self, model: torch.nn.Module, names: Sequence[str]) -> None:
        modules = dict(model.named_modules())
        self.outputs: dict[str, list[torch.Tensor | None]] = {}
        self.handles = []
        for name in dict.fromkeys(names):
            module = modules[""] if name == "(model)" else modules.get(name)
            if module is not None:
                self.handles.append(module.register_forward_hook(self._keep(name)))

    def _keep(self, name: str) -> Any:
        def hook(_m: Any, _a: Any, out: Any) -> None:
            t = _first_tensor(out)
            self.outputs.setdefault(name, []).append(
                None if t is None else t.detach().float().cpu().clone()
            )

        return hook

    def close(self) -> None:
        for h in self.handles:
            h.remove()


def run_samples(
    model: torch.nn.Module, inputs: torch.Tensor, rows: list[dict[str, Any]]
) -> tuple[list[list[torch.Tensor | None]], list[torch.Tensor | None]]:
    """Each sample through ``model`` alone (a batch of one, eval mode, no gradients):
    per row, per sample, the row's output as ``(C, *spatial)`` (or a vector); and per
    sample the model's output."""
    recorder = _Recorder(model, [r["name"] for r in rows])
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    per_row: list[list[torch.Tensor | None]] = [[] for _ in rows]
    outputs: list[torch.Tensor | None] = []
    training = model.training
    try:
        model.eval()
        with torch.no_grad():
            for x in inputs:
                recorder.outputs.clear()
                out = _first_tensor(model(x.unsqueeze(0).to(device)))
                outputs.append(None if out is None else out.detach().float().cpu())
                seen: dict[str, int] = {}
                for i, row in enumerate(rows):
                    k = seen.get(row["name"], 0)
                    seen[row["name"]] = k + 1
                    got = recorder.outputs.get(row["name"], [])
                    y = got[k] if k < len(got) else None
                    per_row[i].append(_sample_view(y, row["layout"]))
    finally:
        model.train(training)
        recorder.close()
    return per_row, outputs


def _sample_view(y: torch.Tensor | None, layout: Any) -> torch.Tensor | None:
    if y is None or y.dim() == 0:
        return None
    if y.shape[0] != 1 and layout is None:
        return y.flatten()  # a batch axis not followed: shown as numbers
    try:
        view = _as_sample(y, layout)
    except (RuntimeError, IndexError, KeyError):
        view = y[0]
    return view if view.dim() <= 4 else view.flatten()


def map_axes(layout: Any, view: torch.Tensor | None, naxes: int) -> list[int] | None:
    """Which input spatial axis each spatial dimension of a row's ``(C, *spatial)`` view
    runs along, or ``None`` where the row is not a spatial feature map."""
    plain = layout.plain() if layout is not None else {}
    if view is None or not plain or view.dim() - 1 != len(plain):
        return None
    axes = sorted(plain)
    return axes if all(0 <= a < naxes for a in axes) else None


def channel_cap(sizes: Sequence[tuple[int, int]], fixed: int, budget: int) -> int | None:
    """The largest number of channels per layer that keeps ``fixed`` bytes plus every
    layer's ``min(channels, cap) * per_channel`` bytes within ``budget``; ``None`` when
    one channel each is already too much.

    Example:
        >>> channel_cap([(4, 10), (8, 10)], 0, 100)
        6
    """

    def total(cap: int) -> int:
        return fixed + sum(min(c, cap) * per for c, per in sizes)

    widest = max((c for c, _ in sizes), default=1)
    if total(widest) <= budget:
        return widest
    if total(1) > budget:
        return None
    lo, hi = 1, widest
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if total(mid) <= budget else (lo, mid - 1)
    return lo


def _kind(naxes: int) -> str:
    return {1: "sequence", 2: "image", 3: "video"}.get(naxes, "tensor")


def cam_maps(
    rows: list[dict[str, Any]],
    views: list[list[torch.Tensor | None]],
    outputs: list[torch.Tensor | None],
    model: torch.nn.Module,
) -> tuple[int, list[torch.Tensor]] | None:
    """Class activation maps (Zhou et al. 2016), wherever the network ends in global
    average pooling: the last feature map ``A (C, *spatial)`` is either weighed by a final
    ``Linear`` (``CAM_k = sum_c w_kc A_c``, as :func:`anyconv.viz.class_activation_maps`
    for ``fcn``) or already has one channel per class (All-CNN). Kept only where the
    defining identity holds for every sample: ``mean(CAM_k) + b_k`` is logit ``k``.

    Returns:
        ``(row index of A, [CAM (K, *spatial) per sample])`` or ``None``.
    """
    spatial = [i for i, r in enumerate(rows) if r.get("axes") is not None]
    if not spatial or any(o is None or o.dim() != 2 or o.shape[0] != 1 for o in outputs):
        return None
    last = spatial[-1]
    if any(a is None for a in views[last]):
        return None
    logits = [o[0] for o in outputs]
    classes = logits[0].numel()
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    final = linears[-1] if linears and rows[-1]["type"].startswith("Linear") else None
    weight = bias = None
    channels = views[last][0].shape[0]
    if final is not None and final.in_features == channels and final.out_features == classes:
        weight = final.weight.detach().float().cpu()
        bias = final.bias.detach().float().cpu() if final.bias is not None else torch.zeros(classes)
    elif channels != classes:
        return None
    maps = []
    for a, z in zip(views[last], logits, strict=True):
        cam = torch.einsum("kc,c...->k...", weight, a) if weight is not None else a
        b = bias if bias is not None else torch.zeros(classes)
        mean = cam.flatten(1).mean(1) + b
        if not torch.allclose(mean, z, rtol=1e-3, atol=1e-3 * (float(z.abs().max()) + 1)):
            return None
        maps.append(cam)
    return last, maps


def kernels(model: torch.nn.Module, ran: set[str]) -> list[dict[str, Any]]:
    """The kernels of every convolution layer that ran, ``(O, I, *kernel)`` (locally
    connected and tiled layers: their first position or tile), the first
    :data:`KERNEL_ROWS` filters by the first :data:`KERNEL_COLS` input channels, as 8-bit
    codes on one scale per layer, symmetric about 0."""
    found = []
    for name, module in conv_layers(model):
        weight = getattr(module, "weight", None)
        kernel = getattr(module, "kernel_size", None)
        if name not in ran or not isinstance(weight, torch.Tensor) or weight.ndim < 3:
            continue
        w = weight.detach().float().cpu()
        nd = len(kernel) if isinstance(kernel, tuple | list) else w.ndim - 2
        if w.ndim > nd + 2:  # positions or tiles after the kernel
            w = w[(..., *([0] * (w.ndim - nd - 2)))]
        if not 1 <= nd <= 3:
            continue
        shown = w[:KERNEL_ROWS, :KERNEL_COLS].contiguous()
        codes, lo, hi = encode(shown, signed=True)
        found.append(
            {
                "name": name,
                "type": type(module).__name__,
                "shape": list(w.shape),
                "shown": list(shown.shape),
                "lo": _num(lo),
                "hi": _num(hi),
                "data": b64(codes),
            }
        )
    return found


def _row_json(
    row: dict[str, Any], views: list[torch.Tensor | None], cap: int, naxes: int
) -> dict[str, Any]:
    field = row["receptive_field"]
    entry: dict[str, Any] = {
        "name": row["name"],
        "type": row["type"],
        "outputShape": None if row["output_shape"] is None else list(row["output_shape"]),
        "params": row["parameters"],
        "macs": row["macs"],
        "rf": _field(field),
        "note": field.note if field is not None else "",
    }
    first = next((v for v in views if v is not None), None)
    axes = row.get("axes")
    if first is None:
        entry["view"] = None
        return entry
    if axes is not None:
        channels = first.shape[0]
        kept = min(channels, cap)
        entry["view"] = {
            "kind": "map",
            "shape": list(first.shape),
            "channels": kept,
            "axes": axes,
        }
        chunks = [v[:kept] if v is not None else torch.zeros(kept, *first.shape[1:]) for v in views]
    else:
        flat = [v.flatten() if v is not None else None for v in views]
        length = max(len(v) for v in flat if v is not None)
        kept = min(length, MAX_VECTOR)
        entry["view"] = {"kind": "vector", "shape": [length], "channels": kept, "axes": None}
        chunks = [
            torch.nn.functional.pad(v[:kept], (0, kept - len(v[:kept])))
            if v is not None
            else torch.zeros(kept)
            for v in flat
        ]
    codes, lo, hi = [], [], []
    for chunk in chunks:
        c, a, b = encode(chunk)
        codes.append(c)
        lo.append(_num(a))
        hi.append(_num(b))
    entry["view"].update({"data": b64(b"".join(codes)), "lo": lo, "hi": hi})
    return entry


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None


def run_record(run_dir: str | Path) -> dict[str, Any]:
    """What the page shows of a training run: the per-epoch history and the test
    confusion matrix of ``metrics.json``, and the run's model, data and settings from
    ``config.json``; a damaged file is a ``ValueError`` naming it."""
    from anyconv.train.run import METRICS, RunFolder

    folder = RunFolder(run_dir)
    config = folder.read_config()
    record: dict[str, Any] = {
        "dir": str(folder.path),
        "model": config["model"],
        "data": config["data"],
        "history": [],
        "confusion": None,
    }
    path = folder.file(METRICS)
    if not path.is_file():
        return record
    metrics = _read_json(path)
    if not isinstance(metrics, dict):
        raise ValueError(f"{path}: malformed metrics (not a JSON object)")
    history = metrics.get("history", [])
    keys = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "test_loss", "test_accuracy")
    if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
        raise ValueError(f"{path}: malformed metrics, 'history' must be a list of objects")
    for h in history:
        entry = {}
        for k in keys:
            v = h.get(k)
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ValueError(
                    f"{path}: malformed metrics, history's '{k}' must be a finite number; got {v!r}"
                )
            entry[k] = _num(v)
        record["history"].append(entry)
    confusion = metrics.get("confusion")
    if confusion is not None:
        k = config["num_classes"]
        sound = (
            isinstance(confusion, list)
            and len(confusion) == k
            and all(
                isinstance(r, list)
                and len(r) == k
                and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in r)
                for r in confusion
            )
        )
        if not sound:
            raise ValueError(
                f"{path}: malformed metrics, 'confusion' must be {k} rows of {k} counts "
                "(num_classes of config.json)"
            )
        record["confusion"] = confusion
    for key in ("test_accuracy", "test_loss", "epochs", "kept_epoch"):
        v = metrics.get(key)
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
            record[key] = _num(v)
    return record


def page_data(
    model: torch.nn.Module,
    inputs: torch.Tensor,
    *,
    labels: list[int] | None,
    class_names: list[str] | None,
    run: dict[str, Any] | None,
    title: str,
    func: str = "explore",
) -> dict[str, Any]:
    """Everything the page shows, as JSON values (see the module doc)."""
    from anyconv.padding import MAX_EXTENT, RULES

    shape = tuple(inputs.shape[1:])
    naxes = len(shape) - 1
    try:
        rows, total = layer_rows(model, shape)
    except (RuntimeError, ValueError, TypeError, IndexError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise fail(
            func,
            "inputs",
            f"samples of a shape the model takes (it raised: {reason})",
            f"(N, {', '.join(map(str, shape))})",
        ) from None
    views, outputs = run_samples(model, inputs, rows)
    for row, v in zip(rows, views, strict=True):
        first = next((t for t in v if t is not None), None)
        row["axes"] = map_axes(row["layout"], first, naxes) if row["receptive_field"] else None

    n = len(inputs)
    sizes = []
    fixed = inputs[0].numel() * n
    for row, v in zip(rows, views, strict=True):
        first = next((t for t in v if t is not None), None)
        if first is None:
            continue
        if row["axes"] is not None:
            sizes.append((first.shape[0], n * first[0].numel()))
        else:
            fixed += n * min(first.numel(), MAX_VECTOR)
    cap = channel_cap(sizes, fixed, MAP_BUDGET)
    if cap is None:
        need = (fixed + sum(per for _, per in sizes)) / 1e6
        raise fail(
            func,
            "inputs",
            f"samples whose feature maps fit one page ({MAP_BUDGET / 1e6:g} MB of 8-bit maps; "
            "give fewer samples or smaller inputs)",
            f"{n} samples of shape {shape}, needing {need:.1f} MB even with one channel per layer",
        )

    probs, predicted = [], []
    for out in outputs:
        if out is not None and out.dim() == 2 and out.shape[0] == 1 and out.shape[1] >= 1:
            p = out[0].softmax(0)
            probs.append([_num(v, 4) for v in p.tolist()])
            predicted.append(int(p.argmax()))
        else:
            probs.append(None)
            predicted.append(None)
    classes = len(probs[0]) if probs and probs[0] is not None else None
    if class_names is not None and classes is not None and len(class_names) != classes:
        raise fail(
            func,
            "class_names",
            f"{classes} names, one per output of the model",
            f"{len(class_names)} names",
        )
    if labels is not None and classes is not None and any(y >= classes for y in labels):
        raise fail(func, "labels", f"class indices in 0..{classes - 1}", max(labels))
    names = list(class_names) if class_names is not None else None
    if names is None and classes is not None:
        names = [str(k) for k in range(classes)]

    sample_codes, lo, hi = [], [], []
    for x in inputs:
        c, a, b = encode(x, signed=False)
        sample_codes.append(c)
        lo.append(_num(a))
        hi.append(_num(b))
    layers = [_row_json(r, v, cap, naxes) for r, v in zip(rows, views, strict=True)]

    cam = None
    found = cam_maps(rows, views, outputs, model) if classes else None
    if found is not None and classes <= MAX_CLASSES_CAM:
        index, maps = found
        codes, clo, chi = [], [], []
        for m in maps:
            for k in range(classes):
                c, a, b = encode(m[k], signed=False)
                codes.append(c)
                clo.append(_num(a))
                chi.append(_num(b))
        cam = {
            "layer": index,
            "shape": list(maps[0].shape),
            "data": b64(b"".join(codes)),
            "lo": clo,
            "hi": chi,
        }

    return {
        "title": title,
        "modelType": type(model).__name__,
        "input": {
            "shape": list(shape),
            "kind": _kind(naxes),
            "data": b64(b"".join(sample_codes)),
            "lo": lo,
            "hi": hi,
        },
        "classNames": names,
        "samples": [
            {
                "label": None if labels is None else labels[i],
                "predicted": predicted[i],
                "probs": probs[i],
            }
            for i in range(n)
        ],
        "layers": layers,
        "channelCap": cap,
        "cam": cam,
        "kernels": kernels(model, {r["name"] for r in rows}),
        "run": run,
        "totals": {"params": total["parameters"], "macs": total["macs"]},
        "padding": {name: [rule.lo, rule.hi] for name, rule in RULES.items()},
        "maxExtent": MAX_EXTENT,
    }
