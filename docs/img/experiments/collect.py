"""Copy the figures of full experiment runs into docs/img/experiments/ and print, for each
run, the measured part of its docs/experiments.md section (command, table, rule, machine,
time).

    anyconv experiment NAME --data idx:DIR --out runs/full/NAME --threads 1   # each NAME
    python docs/img/experiments/collect.py runs/full > /tmp/sections.md

The figures are written as palette PNGs (make_pictures.shrink, by octree: median cut
merges the colours of thin lines); the printed sections are
pasted into docs/experiments.md, which adds the sentence on how strongly each claim held.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))
from make_pictures import shrink

from anyconv.experiments import list_experiments
from anyconv.experiments.report import markdown_table

OUT = Path(__file__).parent


def command(results: dict) -> str:
    config = results["config"]
    parts = ["anyconv experiment", results["experiment"]]
    if "data" in config:
        kind = config["data"].partition(":")[0]
        parts.append(f"--data {kind}:DIR" if kind == "idx" else f"--data {config['data']}")
    parts.append(f"--threads {results['machine']['torch_threads']}")
    return " ".join(parts)


def section(results: dict, folder: Path) -> str:
    machine = results["machine"]
    threads = machine["torch_threads"]
    lines = [
        f"## {results['experiment']}",
        "",
        f"**Claim.** {results['claim']}",
        "",
        f"```bash\n{command(results)}\n```",
        "",
        *markdown_table(results),
        "",
        *(f"- {n}" for n in dict.fromkeys(results.get("notes", []))),
        "",
        f"**Rule.** {results['rule']}",
        "",
        f"**Run.** {results['seconds']:.0f} s wall clock ({results['cpu_seconds']:.0f} s CPU) "
        f"on {machine['cpu_count']} shared CPU cores, torch {machine['torch']}, "
        f"{threads} thread{'s' * (threads > 1)}, load average {machine['load_average_1min']:.1f} "
        f"at the start and {machine['load_average_1min_end']:.1f} at the end.",
        "",
    ]
    single = len(results["figures"]) == 1
    for name in results["figures"]:
        stem = "" if single else "-" + Path(name).stem
        target = OUT / f"{results['experiment']}{stem}.png"
        shutil.copyfile(folder / name, target)
        shrink(target, colours=256, method="FASTOCTREE")
        lines.append(f"![{results['experiment']}](img/experiments/{target.name})")
    return "\n".join(lines) + "\n"


def main(root: str) -> None:
    for name in list_experiments():
        path = Path(root) / name / "results.json"
        if path.is_file():
            print(section(json.loads(path.read_text()), path.parent))
        else:
            print(f"<!-- {name}: no full run in {root} -->\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/full")
