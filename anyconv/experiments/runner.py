"""Running an experiment: its context (settings, output folder, progress) and its outcome,
written to ``results.json`` and ``table.md``."""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from anyconv._checks import check_int, fail
from anyconv.experiments.registry import Experiment, get_experiment
from anyconv.train.config import MAX_SEED

MAX_SEEDS = 1000
"""Most training seeds one experiment takes (each trains all its networks again)."""

RESULT_KEYS = ("experiment", "claim", "holds", "table", "figures", "seconds", "config")
"""The keys every ``results.json`` has (it has more: ``rule``, ``notes``, ``machine``)."""


@dataclass
class Outcome:
    """What an experiment's ``run(ctx)`` returns.

    Attributes:
        table: one dict per row, JSON-ready values; a column ``x`` with a companion
            ``x_std`` is shown as ``mean ± std``.
        holds: whether the claim held, decided from the measured numbers by ``rule``.
        rule: the rule, in words, with the numbers it compared.
        figures: file names of the PNGs written into the output folder.
        notes: further remarks (e.g. why a quick run is too short for the claim).
        formats: ``{column: format}`` for showing a column, e.g. ``"{:.2%}"``.
    """

    table: list[dict[str, Any]]
    holds: bool
    rule: str
    figures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    formats: dict[str, str] = field(default_factory=dict)


class Context:
    """What an experiment's ``run`` receives: its settings, where to write and progress.

    Attributes:
        experiment: the :class:`~anyconv.experiments.registry.Experiment`.
        config: the settings of this run (the quick or full ones, with the overrides, plus
            ``quick``, ``seed`` and ``seeds``).
        out: the output folder (created).
        console: where to print.
    """

    def __init__(
        self,
        experiment: Experiment,
        config: dict[str, Any],
        out: Path,
        console: Console,
        progress: Progress | None = None,
    ) -> None:
        self.experiment, self.config, self.out, self.console = experiment, config, out, console
        self._progress = progress
        self._task = progress.add_task(experiment.name, total=None, stage="") if progress else None

    @property
    def quick(self) -> bool:
        return bool(self.config["quick"])

    @property
    def seeds(self) -> list[int]:
        """The training seeds: ``seed, seed + 1, ..., seed + seeds - 1``."""
        return [self.config["seed"] + i for i in range(self.config["seeds"])]

    def plan(self, stages: int) -> None:
        """Announce how many :meth:`stage` blocks the run has (for the progress bar)."""
        if self._progress is not None:
            self._progress.update(self._task, total=stages)

    @contextlib.contextmanager
    def stage(self, text: str) -> Iterator[None]:
        """Show ``text`` as what runs now; one step of the progress bar when it ends."""
        if self._progress is not None:
            self._progress.update(self._task, stage=text)
        yield
        if self._progress is not None:
            self._progress.advance(self._task)

    def save(self, fig: Any, name: str) -> str:
        """Write the matplotlib figure ``fig`` as ``out/name``; returns ``name``."""
        from anyconv.viz._figure import save

        save(fig, self.out / name)
        return name

    def finish(self) -> None:
        if self._progress is not None:
            self._progress.remove_task(self._task)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, torch.Tensor):
        return _jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN/inf
    if hasattr(value, "item") and callable(value.item):  # NumPy scalars
        return _jsonable(value.item())
    return value


def machine() -> dict[str, Any]:
    """The machine a run measured on: CPU, cores, torch and its threads, the load."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "load_average_1min": None if load is None else round(load[0], 2),
    }


def settings(
    experiment: Experiment,
    *,
    quick: bool = False,
    seeds: int | None = None,
    seed: int = 0,
    data: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The settings of one run: the experiment's quick or full ones, then the arguments.

    Example:
        >>> cfg = settings(get_experiment("flip"), quick=True, seeds=3, seed=7)
        >>> cfg["quick"], cfg["seeds"], cfg["seed"]
        (True, 3, 7)
    """
    func = "run_experiment"
    config = dict(experiment.quick if quick else experiment.full)
    if seeds is not None:
        config["seeds"] = check_int(
            seeds, "seeds", func, minimum=1, maximum=MAX_SEEDS, note="each trains its networks"
        )
    check_int(seed, "seed", func, minimum=0, maximum=MAX_SEED, note="2**63 - 1")
    last = seed + config.get("seeds", 1) - 1
    if last > MAX_SEED:
        raise fail(
            func,
            "seed",
            f"at most {MAX_SEED - config.get('seeds', 1) + 1} with {config.get('seeds', 1)} "
            f"seeds (the seeds are seed, seed + 1, ...; the last must be at most 2**63 - 1)",
            seed,
        )
    if data is not None:
        if "data" not in config:
            raise fail(func, "data", f"None: experiment {experiment.name!r} reads no dataset", data)
        config["data"] = data
    for key, value in (overrides or {}).items():
        if key not in config:
            raise fail(func, "overrides", f"keys among {sorted(config)} ({experiment.name})", key)
        config[key] = value
    config.update(quick=quick, seed=seed)
    config.setdefault("seeds", 1)
    return config


def run_experiment(
    name: str,
    *,
    quick: bool = False,
    seeds: int | None = None,
    seed: int = 0,
    out: str | Path | None = None,
    data: str | None = None,
    overrides: dict[str, Any] | None = None,
    console: Console | None = None,
    progress: Progress | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Run experiment ``name``; write ``results.json``, ``table.md`` and its PNGs to ``out``.

    Args:
        name: a name from :func:`~anyconv.experiments.list_experiments`.
        quick: the reduced run, a smoke test (a subset of the data, a short training: 2 to
            56 s of CPU time on one thread on the bundled data).
        seeds: how many training seeds (default: the experiment's own).
        seed: the first seed; the same seed gives the same numbers on the same machine.
        out: the output folder; default ``runs/experiment-NAME`` (``-quick`` added). A
            folder given here that holds an earlier run's ``results.json`` is refused
            before any work unless ``overwrite`` (:func:`check_out`); the default folder is
            the experiment's own and is replaced.
        data: a dataset spec (``"digits"``, ``"idx:DIR"``) for experiments that read one.
        overrides: other settings of the experiment, by the keys of its ``config``.
        console: where to print (default: stderr).
        progress: a rich ``Progress`` to show the stages in (default: none).
        overwrite: replace the results of an earlier run in ``out``.

    Returns:
        the dict written to ``results.json``: ``experiment``, ``claim``, ``holds``,
        ``rule``, ``table``, ``figures``, ``notes``, ``seconds`` (wall clock),
        ``cpu_seconds`` (CPU time of all the process's threads; on a busy machine the
        better measure of the work), ``config``, ``machine``.

    Example:
        >>> import tempfile
        >>> tiny = dict(problems=[dict(batch=1, channels=1, size=[32], kernels=[3, 9])])
        >>> with tempfile.TemporaryDirectory() as out:
        ...     r = run_experiment("fft-crossover", quick=True, out=out, overrides=tiny)
        >>> r["experiment"], isinstance(r["holds"], bool), [row["k"] for row in r["table"]]
        ('fft-crossover', True, [3, 9])
    """
    experiment = get_experiment(name)
    config = settings(
        experiment, quick=quick, seeds=seeds, seed=seed, data=data, overrides=overrides
    )
    folder = Path(out) if out is not None else default_out(name, quick)
    check_out(folder, overwrite=overwrite or out is None)
    folder.mkdir(parents=True, exist_ok=True)
    console = console or Console(stderr=True)
    ctx = Context(experiment, config, folder, console, progress)
    start, cpu_start = time.perf_counter(), time.process_time()
    before = machine()
    try:
        outcome = experiment.run(ctx)
    finally:
        ctx.finish()
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    if not isinstance(outcome, Outcome) or not isinstance(outcome.holds, bool):
        raise TypeError(f"experiment {name!r} must return an Outcome with a bool 'holds'")
    missing = [f for f in outcome.figures if not (folder / f).is_file()]
    if missing:
        raise RuntimeError(f"experiment {name!r} lists figures it did not write: {missing}")
    results = _jsonable(
        {
            "experiment": name,
            "claim": experiment.claim,
            "holds": outcome.holds,
            "rule": outcome.rule,
            "table": outcome.table,
            "formats": outcome.formats,
            "figures": outcome.figures,
            "notes": outcome.notes,
            "seconds": round(seconds, 2),
            "cpu_seconds": round(cpu_seconds, 2),
            "config": config,
            "machine": {**before, "load_average_1min_end": machine()["load_average_1min"]},
        }
    )
    (folder / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    from anyconv.experiments.report import markdown

    (folder / "table.md").write_text(markdown(results))
    return results


def check_out(folder: str | Path, *, overwrite: bool = False) -> Path:
    """Check, before any work, that the results of a run can go to ``folder``: a folder
    (or a path to one that does not exist yet), holding no earlier run's ``results.json``
    unless ``overwrite``. As ``anyconv train`` refuses to replace a run.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = (Path(d) / "results.json").write_text("{}")
        ...     try:
        ...         check_out(d)
        ...     except FileExistsError as error:
        ...         print(str(error)[-78:])
        earlier run (results.json); --overwrite replaces them, or choose another --out
    """
    folder = Path(folder)
    blocker = next(
        (p for p in (folder, *folder.parents) if p.is_symlink() and not p.exists()), None
    )
    if blocker is not None:
        raise NotADirectoryError(f"{folder}: {blocker} is a broken or looping symbolic link")
    blocker = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise NotADirectoryError(f"{folder}: {blocker} is a file, not a folder")
    if (folder / "results.json").exists() and not overwrite:
        raise FileExistsError(
            f"{folder} holds the results of an earlier run (results.json); --overwrite "
            "replaces them, or choose another --out"
        )
    return folder


def default_out(name: str, quick: bool) -> Path:
    """``runs/experiment-NAME``, with ``-quick`` for the reduced run."""
    return Path("runs") / f"experiment-{name}{'-quick' if quick else ''}"


def progress_bar(console: Console) -> Progress:
    """The progress display of ``anyconv experiment``: one line per running experiment."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[stage]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
