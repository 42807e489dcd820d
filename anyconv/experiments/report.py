"""Showing results: cells formatted per column, the verdict, ``table.md``."""

from __future__ import annotations

from typing import Any

STD = "_std"


def _cell(value: Any, fmt: str | None) -> str:
    if value is None:
        return "-"
    if fmt is not None and isinstance(value, int | float) and not isinstance(value, bool):
        return fmt.format(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "x".join(map(str, value)) if all(isinstance(v, int) for v in value) else str(value)
    return str(value)


def columns(table: list[dict[str, Any]]) -> list[str]:
    """The columns of ``table`` in first-seen order; an ``x_std`` column folds into ``x``.

    Example:
        >>> columns([{"model": "a", "acc": 0.9, "acc_std": 0.01}, {"model": "b", "n": 3}])
        ['model', 'acc', 'n']
    """
    seen: dict[str, None] = {}
    for row in table:
        for key in row:
            seen.setdefault(key, None)
    return [k for k in seen if not (k.endswith(STD) and k[: -len(STD)] in seen)]


def cells(
    table: list[dict[str, Any]], formats: dict[str, str]
) -> tuple[list[str], list[list[str]]]:
    """Headers and string cells of ``table``: ``x`` with ``x_std`` as ``mean ± std``.

    Example:
        >>> cells([{"acc": 0.9, "acc_std": 0.01}], {"acc": "{:.1%}"})
        (['acc'], [['90.0% ± 1.0%']])
    """
    keys = columns(table)
    rows = []
    for row in table:
        line = []
        for key in keys:
            text = _cell(row.get(key), formats.get(key))
            if row.get(key + STD) is not None:
                text += " ± " + _cell(row[key + STD], formats.get(key))
            line.append(text)
        rows.append(line)
    return [k.replace("_", " ") for k in keys], rows


def verdict(results: dict[str, Any]) -> str:
    """The verdict in words. A full run: ``"the claim holds (full run)"`` or ``"the claim
    does not hold (full run)"``. A quick run (reduced data and training, often one seed)
    is a smoke test of the experiment, whose differences may be within the noise of a
    single seed: its verdict says whether the numbers agree with the claim and that they
    are not evidence either way.

    Example:
        >>> verdict({"holds": True, "config": {"quick": False, "seeds": 3}})
        'the claim holds (full run)'
        >>> quick = verdict({"holds": True, "config": {"quick": True, "seeds": 1}})
        >>> quick.startswith("the numbers agree with the claim"), "1 seed" in quick
        (True, True)
        >>> quick.endswith("is not evidence: run it without --quick to test the claim")
        True
    """
    if not results["config"].get("quick"):
        return f"the claim {'holds' if results['holds'] else 'does not hold'} (full run)"
    seeds = results["config"].get("seeds", 1)
    agree = "agree" if results["holds"] else "do not agree"
    return (
        f"the numbers {agree} with the claim, but a quick run ({seeds} seed"
        f"{'s' if seeds != 1 else ''}, reduced data and training) is not evidence: run it "
        "without --quick to test the claim"
    )


def markdown_table(results: dict[str, Any]) -> list[str]:
    """The lines of the results' table in Markdown, cells as :func:`cells` writes them.

    Example:
        >>> markdown_table({"table": [{"model": "a", "acc": 0.9}], "formats": {"acc": "{:.0%}"}})
        ['| model | acc |', '|---|---|', '| a | 90% |']
    """
    headers, rows = cells(results["table"], results.get("formats", {}))
    return [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
        *("| " + " | ".join(r) + " |" for r in rows),
    ]


def markdown(results: dict[str, Any]) -> str:
    """``table.md``: the claim, the table, the rule and the verdict, the figures."""
    lines = [
        f"# {results['experiment']}",
        "",
        f"**Claim:** {results['claim']}",
        "",
        *markdown_table(results),
        "",
        f"**Rule:** {results['rule']}",
        "",
        f"**Verdict:** {verdict(results)} ({results['seconds']:.1f} s).",
    ]
    lines += ["", *(f"- {n}" for n in results.get("notes", []))] if results.get("notes") else []
    lines += ["", *(f"![{f}]({f})" for f in results["figures"])]
    return "\n".join(lines) + "\n"
