"""The README is executable: every Python block runs, every ``anyconv.…`` name it spells
resolves after a plain ``import anyconv`` in a fresh interpreter, the layer, filter, model
and dataset names it lists exist, and its error example prints what it says."""

from __future__ import annotations

import builtins
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import anyconv

README = Path(__file__).resolve().parent.parent / "README.md"
TEXT = README.read_text(encoding="utf-8")
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, flags=re.S)


def _section(start: str, stop: str) -> str:
    """The README's text from the first ``start`` up to the next ``stop`` after it."""
    begin = TEXT.index(start)
    return TEXT[begin : TEXT.index(stop, begin + len(start))]


def _ticked(text: str) -> list[str]:
    return re.findall(r"`([^`]+)`", text)


def _expand(token: str) -> list[str]:
    """``Conv1d/2d/3d`` -> ``Conv1d, Conv2d, Conv3d``; ``convert(model)`` -> ``convert``."""
    token = token.split("(")[0]
    stem, *dims = token.split("/")
    if not dims:
        return [stem]
    base = re.sub(r"\d+d$", "", stem)
    return [stem, *(base + d for d in dims)]


MODULE_BLOCK = re.compile(r"# (\w+)\.py\n")


@pytest.fixture(scope="module", autouse=True)
def readme_modules(tmp_path_factory):
    """The blocks that start with ``# NAME.py`` are files a user writes (the README's own
    model): written into a folder on the module search path for the other blocks."""
    folder = tmp_path_factory.mktemp("readme_modules")
    names = []
    for block in PYTHON_BLOCKS:
        match = MODULE_BLOCK.match(block)
        if match:
            (folder / f"{match[1]}.py").write_text(block)
            names.append(match[1])
    sys.path.insert(0, str(folder))
    yield names
    sys.path.remove(str(folder))
    for name in names:
        sys.modules.pop(name, None)


def test_readme_has_python_blocks():
    assert len(PYTHON_BLOCKS) >= 1


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=lambda b: b.splitlines()[0][:40])
def test_python_block_runs_and_shows_true_shapes(block):
    """Runs the block line by line; a bare expression commented ``# torch.Size([...])``
    must have that value."""
    namespace: dict = {}
    exec(compile(block, str(README), "exec"), namespace)
    for line in block.splitlines():
        code, _, comment = line.partition("  # ")
        if comment.startswith("torch.Size("):
            assert repr(eval(code, namespace)) == comment.strip(), line


def test_every_dotted_name_resolves_after_import_anyconv():
    """In a fresh interpreter, as a user would type them (subpackages load lazily)."""
    names = sorted(set(re.findall(r"`(anyconv(?:\.\w+)+)", TEXT)))
    assert "anyconv.match_template" in names and len(names) >= 10
    script = (
        "import anyconv, functools\n"
        f"for name in {names!r}:\n"
        "    functools.reduce(getattr, name.split('.')[1:], anyconv)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_layer_names_exist():
    listed = _section("- `anyconv.nn`:", "Each layer reports")
    names = [n for t in _ticked(listed) for n in _expand(t) if n[0].isupper() or n == "convert"]
    assert len(names) >= 30 and "SoftPool2d" in names
    missing = [n for n in names if not hasattr(anyconv.nn, n)]
    assert not missing, f"the README names layers anyconv.nn lacks: {missing}"
    separable = [n for n in names if n.startswith("SeparableConv")]
    assert all(hasattr(getattr(anyconv.nn, n), "from_conv") for n in separable)


def test_filter_names_exist():
    listed = _section("- `anyconv.filters`", "\n- ")
    names = [t for t in _ticked(listed) if not t.startswith("anyconv.")]
    assert len(names) >= 6
    assert all(callable(getattr(anyconv.filters, n)) for n in names), names


def test_model_names_are_registered():
    listed = _section("Models (`anyconv.models.create_model", "\n\n")
    names = [t for t in _ticked(listed) if "(" not in t]
    assert "lenet5" in names
    unknown = set(names) - set(anyconv.models.list_models())
    assert not unknown, f"the README lists models that are not registered: {unknown}"


def test_dataset_names_are_registered():
    listed = _section("Datasets (`--data`):", "\n\n")
    specs = [t for t in _ticked(listed) if t != "--data" and not t.startswith(("train/", "test/"))]
    assert "digits" in specs
    unknown = {s.split(":")[0] for s in specs} - set(anyconv.data.list_datasets())
    assert not unknown, f"the README lists datasets that are not registered: {unknown}"


def test_error_example_prints_what_the_readme_shows():
    block = re.search(r"```\n>>> (.*?)\n(\w+): (.*?)\n```", TEXT, flags=re.S)
    assert block, "the README's error example is gone"
    call, kind, message = block.groups()
    with pytest.raises(getattr(builtins, kind)) as info:
        eval(call, {"anyconv": anyconv, "torch": torch})
    assert str(info.value) == message
