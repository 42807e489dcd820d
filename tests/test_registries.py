"""The model and dataset registries hold exactly what the package's modules register.

The expected names are read from the source of every module of ``anyconv.models`` and
``anyconv.data`` (each ``register_model("name", ...)`` / ``register_dataset("name", ...)``
call), so a new module is picked up by itself; a fresh interpreter that imports only the
package must then find every one of them registered, which fails when a module is never
imported.
"""

from __future__ import annotations

import ast
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import anyconv
from anyconv.data.base import DATASETS, register_dataset
from anyconv.models.registry import MODELS, register_model

REGISTRIES = {
    "anyconv.models": ("register_model", "anyconv.models.registry", "MODELS"),
    "anyconv.data": ("register_dataset", "anyconv.data.base", "DATASETS"),
}
ROOT = Path(anyconv.__file__).parents[1]


def _registered_in_source(package: str, register: str) -> dict[str, str]:
    """``{name: module}`` for every ``register(...)`` call in the package's modules."""
    directory = ROOT / package.replace(".", "/")
    found: dict[str, str] = {}
    for info in pkgutil.iter_modules([str(directory)]):
        path = directory / f"{info.name}.py"
        if info.ispkg or not path.exists():
            path = directory / info.name / "__init__.py"
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == register):
                continue
            first = node.args[0] if node.args else None
            assert isinstance(first, ast.Constant) and isinstance(first.value, str), (
                f"{path}:{node.lineno}: {register}() needs a literal name for this test to see"
            )
            assert first.value not in found, f"{first.value!r} registered twice in the source"
            found[first.value] = f"{package}.{info.name}"
    return found


def _registered_after_import() -> dict[str, list[str]]:
    """The registries of a fresh interpreter that imported only the two packages."""
    lines = [f"import {package}" for package in REGISTRIES]
    lines += [f"from {module} import {table}" for _, module, table in REGISTRIES.values()]
    tables = ", ".join(f"{package!r}: sorted({t})" for package, (_, _, t) in REGISTRIES.items())
    lines.append(f"import json; print(json.dumps({{{tables}}}))")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    out = subprocess.run(
        [sys.executable, "-c", "\n".join(lines)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=ROOT,
    )
    return json.loads(out.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def after_import() -> dict[str, list[str]]:
    return _registered_after_import()


@pytest.mark.parametrize("package", list(REGISTRIES))
def test_every_registering_module_is_imported_by_its_package(package, after_import):
    expected = _registered_in_source(package, REGISTRIES[package][0])
    assert expected, f"no {REGISTRIES[package][0]}() call found under {package}"
    missing = {
        name: module for name, module in expected.items() if name not in after_import[package]
    }
    assert not missing, f"registered in the source but not after `import {package}`: {missing}"
    assert sorted(expected) == after_import[package]


CLAIMS = {
    "model": (register_model, MODELS, "lenet5", "anyconv.models.lenet.LeNet5"),
    "dataset": (register_dataset, DATASETS, "digits", "anyconv.data.digits.load_digits"),
}


@pytest.mark.parametrize("kind", list(CLAIMS))
def test_a_taken_name_is_refused_and_the_holder_kept(kind):
    register, table, name, holder = CLAIMS[kind]
    before = table[name]

    def impostor(*args, **kwargs):
        raise AssertionError("never called")

    with pytest.raises(
        ValueError,
        match=rf"{register.__name__}\(\): name '{name}' is already registered to "
        rf"{holder}; cannot register .*impostor under it too",
    ):
        register(name, "another")(impostor)
    assert table[name] is before


@pytest.mark.parametrize("kind", list(CLAIMS))
def test_the_same_definition_may_register_again(kind):
    """A module run twice (importlib.reload) registers the same names again."""
    register, table, name, _ = CLAIMS[kind]
    before = table[name]
    try:
        assert register(name, "again")(before[0]) is before[0]
        assert table[name][1] == "again"
    finally:
        table[name] = before


@pytest.mark.parametrize("kind", list(CLAIMS))
@pytest.mark.parametrize(("bad", "error"), [(None, TypeError), ("", ValueError), (3, TypeError)])
def test_a_name_must_be_a_non_empty_string(kind, bad, error):
    register, table, *_ = CLAIMS[kind]
    with pytest.raises(error, match=r"argument 'name' must be a non-empty string"):
        register(bad, "help")(lambda **_: None)
    assert bad not in table
