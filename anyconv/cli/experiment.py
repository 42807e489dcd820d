"""``anyconv experiment``: the claims of the theory, tested on data (:mod:`anyconv.experiments`)."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.text import Text

from anyconv.cli.arguments import integer
from anyconv.cli.output import TextTable, plain
from anyconv.cli.registry import command


def _experiment_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="an experiment name, 'list' or 'all'")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="reduced run, a smoke test whose verdict is not evidence (2-56 s of CPU each on "
        "the bundled data, one thread; longer on MNIST)",
    )
    parser.add_argument(
        "--seeds", type=integer, help="number of training seeds (default: the experiment's)"
    )
    parser.add_argument("--seed", type=integer, default=0, help="first seed (default 0)")
    parser.add_argument(
        "--data", help="image data set spec, e.g. idx:DIR for MNIST (default: the experiment's)"
    )
    parser.add_argument(
        "--out",
        help="output folder (default runs/experiment-NAME, replaced by the next run; with "
        "'all': one per name)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the results of an earlier run in --out (without it, such a folder is "
        "refused before any work)",
    )
    parser.add_argument(
        "--threads", type=integer, help="torch CPU threads (default: torch's choice)"
    )


@command(
    "experiment",
    "test a claim of the theory: results.json, table.md and figures",
    _experiment_arguments,
    description="Test a claim of the theory on real data. 'list' names the experiments and "
    "their claims; 'all' runs every one.",
)
def _experiment(args: argparse.Namespace, console: Console) -> int:
    from pathlib import Path

    import torch

    from anyconv._checks import check_int
    from anyconv.experiments import get_experiment, list_experiments, run_experiment
    from anyconv.experiments.report import cells as report_cells
    from anyconv.experiments.report import verdict
    from anyconv.experiments.runner import check_out, default_out, progress_bar
    from anyconv.train.config import MAX_THREADS

    if args.name == "list":
        table = TextTable("experiments (anyconv experiment NAME [--quick])", ("name", "claim"))
        for name, claim in list_experiments().items():
            table.add_row(name, claim)
        table.show(console)
        return 0
    names = list(list_experiments()) if args.name == "all" else [get_experiment(args.name).name]
    if args.threads is not None:
        check_int(args.threads, "--threads", "anyconv experiment", minimum=1, maximum=MAX_THREADS)
        torch.set_num_threads(args.threads)
    outs = {
        name: args.out if args.name != "all" or args.out is None else Path(args.out) / name
        for name in names
    }
    for name, out in outs.items():  # every folder, before any experiment runs
        if out is not None:
            check_out(out, overwrite=args.overwrite)
        elif (default_out(name, args.quick) / "results.json").exists():
            console.print(
                plain(f"replacing the earlier results in {default_out(name, args.quick)}")
            )
    done = []
    with progress_bar(console) as progress:
        for name in names:
            # with 'all', --data goes to the experiments that read an image dataset
            reads_data = "data" in get_experiment(name).full or args.name != "all"
            out = outs[name]
            results = run_experiment(
                name,
                quick=args.quick,
                seeds=args.seeds,
                seed=args.seed,
                out=out,
                data=args.data if reads_data else None,
                console=console,
                progress=progress,
                overwrite=args.overwrite,
            )
            folder = out or default_out(name, args.quick)
            headers, cells = report_cells(results["table"], results.get("formats", {}))
            table = TextTable(
                f"{results['experiment']}: {results['claim']}", headers, right=headers[1:]
            )
            for row in cells:
                table.add_row(*row)
            table.show(progress.console)
            for note in results["notes"]:
                progress.console.print(Text(f"  {note}", style="dim"))
            progress.console.print(Text(f"  rule: {results['rule']}"))
            colour = "red" if not results["holds"] else "yellow" if args.quick else "green"
            progress.console.print(
                Text(f"  {verdict(results)}", style=colour)
                + Text(
                    f"; {results['seconds']:.1f} s; results, table.md and "
                    f"{len(results['figures'])} figure(s) in {folder}\n"
                )
            )
            done.append(results)
    if len(done) > 1:
        held = "numbers agree (quick: not evidence)" if args.quick else "claim holds"
        table = TextTable("experiments run", ("experiment", held, "seconds"), right=("seconds",))
        for results in done:
            table.add_row(
                results["experiment"],
                "yes" if results["holds"] else "no",
                f"{results['seconds']:.1f}",
            )
        table.show(console)
    return 0
