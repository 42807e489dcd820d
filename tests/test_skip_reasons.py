"""Skip reasons are fixed text: one built from a variable printed this machine's paths in
every report ("real MNIST not found at /work/..."; issue 26, item 17)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent


def _reasons(tree: ast.AST):
    """Every skip reason in ``tree``: ``pytest.skip(...)``'s message and the ``reason=`` of
    ``skipif``, ``importorskip`` and ``skip``, with their line numbers."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else ""
        if name not in ("skip", "skipif", "importorskip", "xfail"):
            continue
        if name == "skip" and node.args:
            yield node.lineno, node.args[0]
        yield from ((node.lineno, k.value) for k in node.keywords if k.arg in ("reason", "msg"))


def test_no_skip_reason_is_formatted_from_a_variable():
    formatted = [
        f"{path.relative_to(TESTS.parent)}:{line}"
        for path in sorted(TESTS.rglob("*.py"))
        for line, reason in _reasons(ast.parse(path.read_text()))
        if isinstance(reason, ast.JoinedStr)
        and any(isinstance(part, ast.FormattedValue) for part in reason.values)
    ]
    assert not formatted, f"skip reasons built from variables (machine paths): {formatted}"
