"""The teaching notebooks in ``notebooks/``: stored valid and stripped (default profile), and
executed top to bottom by a real Jupyter kernel (``slow``: each takes 10-60 s).

The kernel is this interpreter (``sys.executable``), found through a kernel spec written
at test time into a temporary ``JUPYTER_PATH``, so a fresh CI virtual environment needs no
``jupyter kernelspec install`` and a user's own ``python3`` kernel is never picked up.
"""

from __future__ import annotations

import ast
import base64
import importlib.util
import json
import os
import re
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))
NAMES = [p.stem for p in NOTEBOOKS]
KERNEL = "anyconv-tests-python"


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def _imports(source: str) -> set[str]:
    """Top-level module names a cell imports (magics and shell lines dropped first)."""
    code = "\n".join(line for line in source.splitlines() if line.lstrip()[:1] not in "%!")
    names = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_there_are_the_course_notebooks_in_order():
    assert len(NOTEBOOKS) >= 5
    assert [n[:3] for n in NAMES] == [f"{i:02d}_" for i in range(1, len(NAMES) + 1)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_notebook_is_valid_stripped_and_imports_only_installed_modules(path):
    nb = _read(path)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.language == "python"
    code = [c for c in nb.cells if c.cell_type == "code"]
    prose = [c for c in nb.cells if c.cell_type == "markdown"]
    assert code and len(prose) >= 5, "a notebook that teaches explains what it does"
    assert prose[0].source.startswith("# "), "the first cell is the notebook's title"
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, "store notebooks stripped"
        assert "execution" not in cell.metadata, "and without the run's timestamps"
    assert path.stat().st_size < 100_000
    for name in set().union(*(_imports(c.source) for c in code)):
        assert importlib.util.find_spec(name) is not None, f"{path.name} imports {name}"
    text = path.read_text()
    assert not re.search(r"/work/|/home/|/Users/|C:\\\\", text), "no machine paths"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    """A kernel spec for this interpreter, in a temporary JUPYTER_PATH."""
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.joinpath("kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "anyconv tests", "language": "python"})
    )
    saved = {k: os.environ.get(k) for k in ("JUPYTER_PATH", "IPYTHONDIR", "MPLBACKEND", "TMPDIR")}
    os.environ["JUPYTER_PATH"] = str(root)
    os.environ["IPYTHONDIR"] = str(root / "ipython")  # no user profile, no startup files
    (root / "tmp").mkdir()
    os.environ["TMPDIR"] = str(root / "tmp")  # the notebooks' pictures, in pytest's tmp_path
    os.environ.pop("MPLBACKEND", None)  # the notebooks' %matplotlib inline decides
    yield KERNEL
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _execute(path: Path, kernel: str):
    from nbclient import NotebookClient

    nb = _read(path)
    NotebookClient(
        nb, timeout=600, kernel_name=kernel, resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    return nb


def _outputs(nb):
    """Per code cell: (source, printed text, image mime types)."""
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        text, images = "", []
        for o in cell.outputs:
            assert o.output_type != "error", f"{o.ename}: {o.evalue}"
            if o.output_type == "stream" and o.name == "stdout":
                text += o.text
            for mime, data in o.get("data", {}).items():
                if mime.startswith("image/"):
                    assert len(base64.b64decode(data)) > 2000, "an empty picture"
                    images.append(mime)
                elif mime == "text/plain":
                    text += data + "\n"
        cells.append((cell.source, text, images))
    return cells


def _printed(cells, pattern: str) -> re.Match:
    for _, text, _ in cells:
        m = re.search(pattern, text, flags=re.M)
        if m:
            return m
    raise AssertionError(f"no output matches {pattern!r}")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_notebook_runs_top_to_bottom_and_shows_its_pictures(path, kernel):
    nb = _execute(path, kernel)  # no time limit asserted: docs/testing.md has the times
    cells = _outputs(nb)
    images = [m for _, _, ims in cells for m in ims]
    assert len(images) >= 4, "each notebook shows its pictures inline"
    CHECKS[path.stem[:2]](cells)


def _check_operator(cells):
    import anyconv

    # the printed table of output sizes agrees with anyconv.output_shape
    row = r"^\s*(valid|same|full|causal)\s+(\d)\s+(\d)\s+\((\d+), (\d+)\)" + r"\s+(\d+)" * 3 + "$"
    rows = re.findall(row, "".join(t for _, t, _ in cells), flags=re.M)
    assert len(rows) == 12
    for rule, s, d, lo, hi, f, a, t in rows:
        kw = {"stride": int(s), "dilation": int(d), "padding": rule}
        want = anyconv.output_shape((7,), 3, **kw)[0]
        assert int(f) == int(a) == int(t) == want
        assert anyconv.resolve_padding((7,), 3, **kw) == ((int(lo), int(hi)),)
    assert _printed(cells, r"^anyconv: \(4, 8, 32, 32\) \| torch: \(4, 8, 32, 32\)")
    m = _printed(cells, r"^largest difference: (\S+)")
    assert float(m.group(1)) < 1e-5
    assert any("image/gif" in ims for _, _, ims in cells), "the arithmetic animation"
    # the transposed convolution: its size formula, PyTorch's numbers, the adjoint identity
    assert _printed(cells, r"^conv_transpose: \(4, 4\) -> \(7, 7\) \| formula: 7$")
    assert _printed(cells, r"^conv with the same arguments maps it back to \(4, 4\)$")
    assert (
        float(_printed(cells, r"^largest difference from torch's conv_transpose2d: (\S+)$")[1])
        < 1e-5
    )
    m = _printed(cells, r"^<conv\(u\), x> = (\S+)   <u, conv_transpose\(x\)> = (\S+)$")
    assert m[1] == m[2]


def _check_algorithms(cells):
    import anyconv

    table = re.findall(
        r"^\s*(\w+) +\(2, 4, 16, 16\) +(\S+) +\S+$", "".join(t for _, t, _ in cells), re.M
    )
    assert sorted(name for name, _ in table) == sorted(anyconv.list_algorithms()[1:])
    assert all(float(err) < 1e-5 for _, err in table)
    for claim in (
        "M @ x equals conv(x)",
        "autograd's input gradient equals M.T @ g",
        "eigenvalues equal the DFT of the kernel",
        "GEMM result equals anyconv.conv",
    ):
        assert _printed(cells, rf"^{re.escape(claim)}: True$")
    assert float(_printed(cells, r"ifft\(fft\(x\) \* fft\(w\)\): (\S+)").group(1)) < 1e-12
    picks = dict(
        re.findall(r"^k=\s*(\d+):.*auto picks (\w+)$", "".join(t for _, t, _ in cells), re.M)
    )
    assert picks["3"] == "native" and picks["31"] == "fft"  # the cost model, not a timing


def _check_layer_variants(cells):
    import anyconv

    text = "".join(t for _, t, _ in cells)
    macs = set(
        re.findall(
            r"^\s*(?:LocallyConnected2d|TiledConv2d \(T=\d\)|Conv2d) .* ([\d,]+)$", text, re.M
        )
    )
    assert macs == {"115,200"}, "sharing changes the parameters, not the MACs"
    assert _printed(cells, r"^locally connected with shared kernels equals the convolution: True$")
    assert _printed(cells, r"^separable_conv equals conv: True$")
    m = _printed(cells, r"/ ordinary MACs = (\S+); 1/C_out \+ 1/k\^2 = (\S+)$")
    assert abs(float(m.group(1)) - float(m.group(2))) < 0.01
    model = anyconv.models.create_model("mobilenet_tiny", in_channels=3, num_classes=10)
    total = anyconv.analysis.summary(model, (3, 32, 32))[-1]
    m = _printed(cells, r"^\s*mobilenet_tiny\s+([\d,]+)\s+([\d,]+)")
    assert (m.group(1), m.group(2)) == (f"{total['parameters']:,}", f"{total['macs']:,}")


def _check_lenet5(cells):
    from anyconv.analysis import receptive_field
    from anyconv.models import create_model

    shape = _printed(cells, r"^data: .* of shape \((\d+), (\d+), (\d+)\)")
    shape = tuple(int(s) for s in shape.groups())
    model = create_model("lenet5", in_channels=1, num_classes=10, input_size=shape[1:])
    params = sum(p.numel() for p in model.parameters())
    assert _printed(cells, rf"^total\s+{params:,}\s")
    accuracy = re.findall(r"test accuracy ([\d.]+)%$", "".join(t for _, t, _ in cells), re.M)
    assert float(accuracy[-1]) > 80, "LeNet-5 learned the digits"
    fields = receptive_field(model, shape)
    for name in ("features.1", "features.4", "features.6"):
        size = " x ".join(f"{s:g}" for s in fields[name].size)
        assert _printed(cells, rf"^\s*{re.escape(name)}: receptive field\s+{re.escape(size)},")
    assert _printed(cells, r"^\s*features\.1 Conv2d:( 0\.00)+ \(shifts")  # exact equivariance
    assert _printed(cells, r"^wrote lenet5_explore\.html, [\d.]+ MB")


def _check_time_series(cells):
    from anyconv.models import create_model

    assert _printed(cells, r"^inputs that reach the output at t=40: steps 0 to 40$")
    assert _printed(cells, r"^any future step reaches it: False$")
    assert _printed(cells, r"^mean of each map \+ bias equals the logits: True$")
    for model in (
        "fcn on ItalyPowerDemand",
        "tcn on ItalyPowerDemand",
        r"fcn \(32-64-32\) on GunPoint",
    ):
        accuracy = float(_printed(cells, rf"^{model}: test accuracy ([\d.]+)%").group(1))
        assert accuracy > 75, f"{model} learned (chance is 50%)"
    for name, length in (("ItalyPowerDemand", 24), ("GunPoint", 150)):  # MiniRocket, fitted
        m = _printed(
            cells, rf"^minirocket on {name}: test accuracy ([\d.]+)% .*; ([\d,]+) features"
        )
        model = create_model("minirocket", num_classes=2, input_size=(length,))
        assert float(m[1]) > 75 and m[2] == f"{model.num_features:,}"
    for length in (24, 150):  # the tcn's field covers the series
        m = _printed(
            cells, rf"^tcn for length\s+{length}: \d+ blocks, receptive field of a step (\d+)"
        )
        assert int(m.group(1)) >= length


def _check_video(cells):
    m = _printed(cells, r"^padding\s+\('causal', 'same', 'same'\): output \((.*?)\), \(lo, hi\)")
    assert m[1] == "2, 8, 10, 32, 32"
    assert _printed(cells, r"^equals torch's conv3d: True$")
    assert _printed(cells, r"^\s*c3d: .* \(time x height x width\): 7 x 18 x 18$")
    assert _printed(cells, r"^\s*frame2d: .* \(time x height x width\): 1 x 18 x 18$")
    last = {
        name: float(
            _printed(cells, rf"^\s*{name}: test accuracy after each epoch .*'([\d.]+)%'\]")[1]
        )
        for name in ("c3d", "frame2d")
    }
    assert last["c3d"] > 60 and last["frame2d"] < 25, "motion needs time in the kernel"


CHECKS = {
    "01": _check_operator,
    "02": _check_algorithms,
    "03": _check_layer_variants,
    "04": _check_lenet5,
    "05": _check_time_series,
    "06": _check_video,
}
