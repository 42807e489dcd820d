"""Results show themselves in Jupyter (anyconv/_display.py, issue 23): table-like results
render as HTML tables with the cells their text form has, pictures inline, and every
result keeps its Python type's behaviour (list, dict, Path, json)."""

from __future__ import annotations

import base64
import json
import pickle
from html.parser import HTMLParser
from pathlib import Path

import pytest
import torch

import anyconv.nn as ann
from anyconv._display import Picture, Rows, cell_text, html_table
from anyconv.analysis import (
    layer_equivariance,
    receptive_field,
    shift_consistency,
    shift_equivariance,
    summary,
)
from anyconv.viz import animate_conv, plot_filters

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class _Cells(HTMLParser):
    """The text of every table cell, row by row; the caption; the images' sources."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.caption = ""
        self.images: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.rows[-1].append("")
            self._in = "cell"
        elif tag == "caption":
            self._in = "caption"
        elif tag == "img":
            self.images.append(dict(attrs)["src"])

    def handle_endtag(self, tag):
        if tag in ("td", "th", "caption"):
            self._in = None

    def handle_data(self, data):
        if self._in == "cell":
            self.rows[-1][-1] += data
        elif self._in == "caption":
            self.caption += data


def parse(text: str) -> _Cells:
    parser = _Cells()
    parser.feed(text)
    return parser


def small_net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        ann.Conv2d(1, 3, 3, padding="same", padding_mode="circular"),
        torch.nn.ReLU(),
        ann.MaxPool2d(2),
        ann.Conv2d(3, 4, 3),
        ann.GlobalAvgPool(),
    )


def test_html_tables_escape_their_cells_and_align_names_left():
    text = html_table(["name", "n"], [["<b>&", 1234567], ["total", 2.5]], caption="a<b")
    cells = parse(text)
    assert cells.rows == [["name", "n"], ["<b>&", "1,234,567"], ["total", "2.5"]]
    assert cells.caption == "a<b"
    assert "<b>&" not in text and "&lt;b&gt;&amp;" in text
    assert "text-align:left" in text and "text-align:right" in text


def test_cells_read_as_the_text_tables_write_them():
    assert [cell_text(v) for v in (1 / 3, 10**6, (4, 4), (4.5, 2), False, None)] == [
        "0.3333",
        "1,000,000",
        "4x4",
        "4.5x2",
        "no",
        "-",
    ]
    assert cell_text(float("inf")) == "inf" and cell_text(float("nan")) == "nan"


def test_the_summary_shows_the_same_cells_as_its_text_table_and_stays_a_list():
    rows = summary(small_net(), (1, 8, 8))
    cells = parse(rows._repr_html_())
    assert cells.rows[0] == ["layer", "type", "output", "params", "MACs", "RF", "jump"]
    assert cells.rows[1:] == rows.cells()
    assert cells.caption == f"{rows.model} on input (1, 8, 8)"
    assert "parameters;" in rows._repr_html_()  # the totals under the table
    assert isinstance(rows, list) and rows == list(rows) and str(rows) == rows.table()


def test_receptive_fields_show_one_row_per_module_and_stay_a_dict():
    fields = receptive_field(small_net(), (1, 8, 8))
    cells = parse(fields._repr_html_())
    assert [r[0] for r in cells.rows[1:]] == [n or "(model)" for n in fields]
    conv2 = cells.rows[1 + list(fields).index("3")]
    assert conv2[1:4] == ["8x8", "2x2", "2.5x2.5"]  # 3, +1 (pool, jump 2), +2*2
    assert dict(fields) == fields and isinstance(fields, dict)
    assert pickle.loads(pickle.dumps(fields)) == fields
    gradient = receptive_field(small_net(), (1, 8, 8), method="gradient")
    assert "<table" in gradient._repr_html_()


def test_equivariance_rows_show_as_tables_and_stay_lists_and_dicts():
    net, x = small_net(), torch.randn(2, 1, 8, 8)
    rows = shift_equivariance(ann.MaxPool2d(2), x, [1, 2])
    cells = parse(rows._repr_html_())
    assert cells.rows[0] == ["shift", "output shift", "aligned", "stride", "error"]
    assert [r[:3] for r in cells.rows[1:]] == [["1x1", "0x0", "no"], ["2x2", "1x1", "yes"]]
    assert isinstance(rows, list) and json.loads(json.dumps(rows)) == json.loads(
        json.dumps(list(rows))
    )

    layers = layer_equivariance(net, x, [1, 2], mode="circular")
    cells = parse(layers._repr_html_())
    assert [r[0] for r in cells.rows[1:]] == [n for n, rs in layers.items() for _ in rs]
    assert all(isinstance(rs, list) for rs in layers.values())

    consistency = shift_consistency(net, x, [0, 1])
    cells = parse(consistency._repr_html_())
    assert [r[0] for r in cells.rows[1:]] == ["0x0", "1x1"]
    assert cell_text(consistency["consistency"]) in cells.caption
    assert set(consistency) == {"consistency", "softmax_change", "per_shift"}


def test_pictures_are_paths_that_show_inline(tmp_path):
    path = plot_filters(torch.randn(4, 1, 3, 3), tmp_path / "filters.png")
    assert isinstance(path, Path) and path == tmp_path / "filters.png"
    assert path._repr_png_() == path.read_bytes() and path.read_bytes().startswith(PNG_MAGIC)
    assert path._repr_html_() is None  # the PNG is shown as a PNG
    path.unlink()
    assert path._repr_png_() is None  # a file gone by then shows as its path
    svg = plot_filters(torch.randn(2, 1, 3, 3), tmp_path / "filters.svg")
    assert svg._repr_svg_().lstrip().startswith("<?xml")


def test_animations_show_the_gif_they_wrote_and_their_windows_without_one(tmp_path):
    anim = animate_conv((5, 5), 3, stride=2, padding="same", out=tmp_path / "a.gif")
    cells = parse(anim._repr_html_())
    assert cells.images == [
        "data:image/gif;base64," + base64.b64encode(anim.path.read_bytes()).decode()
    ]
    assert "padding 1+1 1+1 -&gt; output 3x3" in anim._repr_html_()
    windows = animate_conv((4,), 2, stride=2, padding="causal")
    cells = parse(windows._repr_html_())
    assert cells.rows[1:] == [["0", "-1 0"], ["1", "1 2"]]


def test_experiment_results_show_table_verdict_and_figures(tmp_path):
    from anyconv.experiments import run_experiment
    from anyconv.experiments.report import cells as report_cells

    tiny = dict(problems=[dict(batch=1, channels=1, size=[32], kernels=[3, 9])])
    results = run_experiment("fft-crossover", quick=True, out=tmp_path, overrides=tiny)
    assert json.loads((tmp_path / "results.json").read_text()) == json.loads(json.dumps(results))
    headers, rows = report_cells(results["table"], results["formats"])
    cells = parse(results._repr_html_())
    assert cells.caption.startswith("fft-crossover: ")
    assert cells.rows == [headers, *rows]  # as table.md and the terminal show them
    assert [row["k"] for row in results["table"]] == [3, 9]
    assert "Verdict:" in results._repr_html_()
    assert len(cells.images) == len(results["figures"]) > 0
    assert all(src.startswith("data:image/png;base64,") for src in cells.images)


def test_ipython_picks_the_rich_forms():
    """What a notebook does with a cell's value: IPython's formatter, independently."""
    formatters = pytest.importorskip("IPython.core.formatters")
    fmt = formatters.DisplayFormatter()
    data, _ = fmt.format(summary(small_net(), (1, 8, 8)))
    assert "text/html" in data and data["text/plain"].startswith("Sequential on input")
    data, _ = fmt.format(Rows([{"a": 1}]))
    assert data["text/plain"] == "[{'a': 1}]" and "<table" in data["text/html"]


def test_ipython_shows_a_written_picture_as_png(tmp_path):
    formatters = pytest.importorskip("IPython.core.formatters")
    path = plot_filters(torch.randn(2, 1, 3, 3), tmp_path / "f.png")
    data, _ = formatters.DisplayFormatter().format(path)
    assert data["image/png"] == path.read_bytes()
    assert isinstance(Picture(path), Path)
