"""The Explorer: one self-contained web page that shows a network at work, layer by layer.

:func:`explore` writes it: the architecture as a diagram, a sample picker, every layer's
output for the chosen sample, receptive and projective fields on pointing, the
probabilities and class activation maps, the kernels, a run's training curves and
confusion matrix, and a convolution-arithmetic playground. The page's scripts and styles
(``core.js``, ``views.js``, ``page.js``, ``charts.js``, ``playground.js``, ``main.js``,
``page.css`` and the template ``page.html``, shipped as package data) are plain
JavaScript written for it and are inlined at write time with the data, so that the file
opens from disk with no server and no network.

Automated browsers find a test hook on the page, ``window.anyconv``:

- ``layers``: in model order, ``{name, type, outputShape, params, macs, rf: {size, jump,
  start}}``, the rows of :func:`anyconv.analysis.summary` (``rf`` ``null`` where the
  output is not a spatial feature map);
- ``receptiveField(name, index)``: ``{lo, hi}`` input coordinates per spatial axis, ``lo
  = start + index*jump - (size-1)/2``, ``hi = lo + size`` (not clipped), as
  :func:`anyconv.analysis.receptive_field` gives them;
- ``outputShape({input, kernel, stride, dilation, padding})``: the output sizes of
  :func:`anyconv.output_shape`, or ``null`` where anyconv refuses the spec;
- ``select(i)``: show sample ``i``.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from anyconv._checks import check_float_tensor, fail, is_int
from anyconv.viz._figure import output_path
from anyconv.viz.explorer.collect import MAX_SAMPLES, page_data, run_record
from anyconv.viz.explorer.sources import explore_model, explore_run

SCRIPTS = ("core.js", "views.js", "page.js", "charts.js", "playground.js", "main.js")
"""The page's scripts, in the order they are inlined (one function scope)."""
COLORMAPS = ("viridis", "RdBu_r", "gray", "jet", "Blues")

__all__ = ["MAX_SAMPLES", "explore", "explore_model", "explore_run", "page_html"]


def _asset(name: str) -> str:
    return (resources.files(__package__) / name).read_text(encoding="utf-8")


def _colormaps() -> dict[str, str]:
    """256-entry RGB tables of matplotlib's colour maps as hex, so that the page's colours
    are the ones of anyconv's PNG figures."""
    import matplotlib
    import numpy as np

    found = {}
    for name in COLORMAPS:
        table = matplotlib.colormaps[name](np.linspace(0, 1, 256))[:, :3]
        found[name] = (np.round(table * 255).astype(np.uint8)).tobytes().hex()
    return found


def page_html(data: dict[str, Any]) -> str:
    """The page for ``data`` (see :func:`anyconv.viz.explorer.collect.page_data`): the
    template with the style sheet, the scripts and the data inlined.

    Example:
        >>> text = page_html({"title": "a <b>net</b>", "colormaps": {}})
        >>> "<title>a &lt;b&gt;net&lt;/b&gt;</title>" in text, "<script src" in text
        (True, False)
    """
    data = {**data, "colormaps": data.get("colormaps") or _colormaps()}
    # "<" escaped, so that no string in the data can close the script element
    payload = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")
    parts = {
        "TITLE": html.escape(str(data.get("title", "anyconv explore"))),
        "CSS": _asset("page.css"),
        "JS": "\n".join(_asset(name) for name in SCRIPTS),
        "DATA": payload,
    }
    return re.sub(r"\{\{(TITLE|CSS|JS|DATA)\}\}", lambda m: parts[m.group(1)], _asset("page.html"))


def _labels(labels: Any, n: int, func: str) -> list[int] | None:
    if labels is None:
        return None
    if isinstance(labels, torch.Tensor):
        if labels.dtype.is_floating_point or labels.dtype == torch.bool or labels.dim() != 1:
            raise fail(func, "labels", f"{n} class indices (N,)", labels, TypeError)
        labels = labels.tolist()
    if not (isinstance(labels, Sequence) and all(is_int(v) and v >= 0 for v in labels)):
        raise fail(func, "labels", f"{n} class indices (ints >= 0), one per sample", labels)
    if len(labels) != n:
        raise fail(func, "labels", f"{n} class indices, one per sample", f"{len(labels)} labels")
    return list(labels)


def _class_names(names: Any, func: str) -> list[str] | None:
    if names is None:
        return None
    if isinstance(names, str) or not (
        isinstance(names, Sequence) and names and all(isinstance(v, str) for v in names)
    ):
        raise fail(func, "class_names", "a non-empty list of strings", names, TypeError)
    return list(names)


def explore(
    model: torch.nn.Module,
    inputs: torch.Tensor,
    path: str | Path,
    *,
    labels: Sequence[int] | torch.Tensor | None = None,
    class_names: Sequence[str] | None = None,
    run_dir: str | Path | None = None,
    title: str | None = None,
) -> Path:
    """Write the Explorer page of ``model`` for ``inputs``: one HTML file with everything
    inline (see the module doc for what it shows and its test hook ``window.anyconv``).

    Works for any ``torch.nn.Module`` on 1-D, 2-D or 3-D inputs: the layer table, fields and
    shapes come from :func:`anyconv.analysis.summary`, every layer's output is recorded for
    each sample (a layer whose output is not a spatial feature map is shown as its values,
    without fields), and the class activation maps are drawn where the network ends in
    global average pooling (the identity ``mean(CAM_k) + b_k = logit_k`` is checked).
    Feature maps are stored as 8-bit codes of each layer's range; when all samples' maps
    exceed 3 MB, the widest layers keep only their first channels and the page says so.

    Args:
        model: any ``torch.nn.Module`` taking ``(N, C, *spatial)``.
        inputs: the samples shown, ``(N, C, *spatial)`` with 1 to 3 spatial axes, 1 to 256
            of them (finite floats).
        path: the HTML file to write (``.html`` is added when it has no suffix).
        labels: the samples' true classes ``(N,)`` (the picker marks misclassified ones).
        class_names: one name per class of the model's output.
        run_dir: a run folder of ``anyconv train``: its training curves and confusion
            matrix (``metrics.json``) are shown too.
        title: the page's title (default: the run's model and data, or the model's class).

    Returns:
        the path written.

    Example:
        >>> import tempfile
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(),
        ...     torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 3))
        >>> with tempfile.TemporaryDirectory() as d:
        ...     page = explore(net, torch.rand(2, 1, 12, 12), f"{d}/net.html", labels=[0, 2])
        ...     text = page.read_text()
        >>> page.name, "window.anyconv" in text, "<script src" in text, 'src="http' in text
        ('net.html', True, False, False)
    """
    func = "explore"
    if not isinstance(model, torch.nn.Module):
        raise fail(func, "model", "a torch.nn.Module", type(model).__name__, TypeError)
    check_float_tensor(inputs, "inputs", func)
    if not 3 <= inputs.dim() <= 5:
        raise fail(func, "inputs", "a batch (N, C, *spatial) with 1 to 3 spatial axes", inputs)
    if not 1 <= len(inputs) <= MAX_SAMPLES or 0 in inputs.shape:
        raise fail(
            func,
            "inputs",
            f"1 to {MAX_SAMPLES} samples, none of them empty",
            f"shape {tuple(inputs.shape)}",
        )
    if not bool(torch.isfinite(inputs).all()):
        raise fail(func, "inputs", "finite values", "NaN or infinite values")
    if title is not None and not isinstance(title, str):
        raise fail(func, "title", "a string", title, TypeError)
    if not isinstance(path, str | Path):
        raise fail(func, "path", "a file path (str or pathlib.Path)", path, TypeError)
    target = output_path(path, ".html")  # a folder, or a path under a file: refused now
    names = _class_names(class_names, func)
    ys = _labels(labels, len(inputs), func)
    run = run_record(run_dir) if run_dir is not None else None
    if names is None and run_dir is not None:
        from anyconv.train.run import RunFolder

        names = RunFolder(run_dir).read_config().get("class_names") or None
    if title is None:
        from anyconv.data.spec import DataSpec

        title = (
            f"{run['model']} trained on {DataSpec.parse(run['data']).label}"
            if run
            else type(model).__name__
        )
    data = page_data(
        model,
        inputs.detach().float().cpu(),
        labels=ys,
        class_names=names,
        run=run,
        title=title,
    )
    text = page_html(data)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target
