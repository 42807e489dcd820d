"""What a training run shows while it runs: a live bar per epoch and one line after it."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class TrainingProgress:
    """The progress display of one run: use as a context manager around the epochs.

    The bar shows only on a terminal and only when ``enabled`` (rank 0, not quiet); the
    per-epoch line goes to ``console`` (which a quiet run or another rank has silenced).

    Example:
        >>> import io
        >>> console = Console(file=io.StringIO(), width=200)
        >>> with TrainingProgress(console, enabled=False, epochs=1) as progress:
        ...     progress.start(epoch=1, steps=2)
        ...     progress.update(steps_done=2, samples=64, loss_sum=32.0, correct=48)
        ...     progress.finish()
        ...     progress.epoch_line({"epoch": 1, "loss": 0.5, "accuracy": 0.75, "lr": 1e-3,
        ...                          "seconds": 1.0, "samples": 64})
        >>> "epoch 1/1  loss 0.5000  acc 75.00%" in console.file.getvalue()
        True
    """

    def __init__(self, console: Console, enabled: bool, epochs: int, world_size: int = 1) -> None:
        self.console, self.epochs, self.world_size = console, epochs, world_size
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(
                "loss {task.fields[loss]:.4f}  acc {task.fields[acc]:.2%}  "
                "{task.fields[sps]:,.0f} samples/s"
            ),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=not (enabled and console.is_terminal),
        )
        self.task: TaskID | None = None
        self.started = 0.0

    def __enter__(self) -> TrainingProgress:
        self.bar.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.bar.__exit__(kind, error, trace)

    def start(self, epoch: int, steps: int) -> None:
        """A new bar for ``epoch`` (1-based) of ``steps`` optimiser steps."""
        self.started = time.perf_counter()
        self.task = self.bar.add_task(
            f"epoch {epoch}/{self.epochs}", total=steps, loss=0.0, acc=0.0, sps=0.0
        )

    def update(self, steps_done: int, samples: int, loss_sum: float, correct: int) -> None:
        """Move the bar: ``samples`` seen by this process so far, their summed loss and
        correct count."""
        if self.task is None:
            return
        samples = max(samples, 1)
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        self.bar.update(
            self.task,
            completed=steps_done,
            loss=loss_sum / samples,
            acc=correct / samples,
            sps=samples * self.world_size / elapsed,
        )

    def finish(self) -> None:
        """Remove the epoch's bar (the epoch line replaces it)."""
        if self.task is not None:
            self.bar.remove_task(self.task)
            self.task = None

    def epoch_line(self, row: dict[str, Any]) -> None:
        """Print one line for a finished epoch from its history row (``loss``,
        ``accuracy``, ``lr``, ``seconds``, ``samples`` and any of ``val_loss``,
        ``val_accuracy``, ``test_loss``, ``test_accuracy``)."""
        parts = [
            f"epoch {row['epoch']}/{self.epochs}",
            f"loss {row['loss']:.4f}",
            f"acc {row['accuracy']:.2%}",
        ]
        for prefix in ("val", "test"):
            if row.get(f"{prefix}_loss") is not None:
                parts.append(f"{prefix}_loss {row[f'{prefix}_loss']:.4f}")
                parts.append(f"{prefix}_acc {row[f'{prefix}_accuracy']:.2%}")
        speed = row["samples"] / max(row["seconds"], 1e-9)
        parts.append("fitted" if row["lr"] is None else f"lr {row['lr']:.2e}")
        parts += [f"{speed:,.0f} samples/s", f"{row['seconds']:.1f}s"]
        self.console.print("  ".join(parts), highlight=False, soft_wrap=True, markup=False)


class PhaseClock:
    """Wall and CPU seconds spent per phase of a run (data, build, train, evaluate,
    checkpoint, test, pictures), summed over repeats; CPU time counts every thread.

    Example:
        >>> clock = PhaseClock()
        >>> with clock("data"):
        ...     _ = sum(range(1000))
        >>> sorted(clock.totals()["data"])
        ['cpu', 'wall']
    """

    def __init__(self) -> None:
        self.spent: dict[str, list[float]] = {}
        self.open: dict[str, tuple[float, float]] = {}

    def start(self, phase: str) -> None:
        self.open[phase] = (time.perf_counter(), time.process_time())

    def stop(self, phase: str) -> None:
        wall, cpu = self.open.pop(phase)
        spent = self.spent.setdefault(phase, [0.0, 0.0])
        spent[0] += time.perf_counter() - wall
        spent[1] += time.process_time() - cpu

    @contextlib.contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        self.start(phase)
        try:
            yield
        finally:
            self.stop(phase)

    def totals(self) -> dict[str, dict[str, float]]:
        """``{phase: {"wall": s, "cpu": s}}``."""
        return {k: {"wall": w, "cpu": c} for k, (w, c) in self.spent.items()}
