"""The run session: one training run's folder, opened, checked for resumption, and written.

A :class:`RunSession` takes plain values -- the settings, a :class:`RunState`, dicts of
figures, a data set, a model's weights -- and hands plain values back (the checked
checkpoint to resume from, the ``metrics.json`` and ``config.json`` dicts). It knows the
trainer by none of its attributes: the trainer builds the model and runs the loop, the
session owns the files.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from anyconv.data.base import Dataset
from anyconv.train.config import DATA_VIEW_OPTIONS, RESUME_KEYS, TrainConfig
from anyconv.train.inputs import describe_change
from anyconv.train.run import RunFolder, run_config
from anyconv.train.validation import BestEpoch


@dataclass
class RunState:
    """Where a run stands: what its checkpoint holds beside the tensors.

    Attributes:
        epoch: epochs done (0: none yet).
        step: optimiser steps done.
        history: one dict per epoch (``loss``, ``accuracy``, the validation or test
            figures, ``lr``, ``seconds``, ``eval_seconds``).
        step_losses: per epoch, the mean loss of (bins of) its steps.
        best: the best epoch by validation accuracy, and when to stop early.
        stopped: the run stopped early.

    Example:
        >>> state = RunState(best=BestEpoch(patience=3))
        >>> state.load(state.checkpoint())
        >>> state.epoch, state.best.patience
        (0, 3)
    """

    epoch: int = 0
    step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    step_losses: list[list[float]] = field(default_factory=list)
    best: BestEpoch = field(default_factory=BestEpoch)
    stopped: bool = False

    def checkpoint(self) -> dict[str, Any]:
        """The checkpoint's entries for the state (its keys are the file format's)."""
        return {
            "epoch": self.epoch,
            "step": self.step,
            "history": self.history,
            "step_losses": self.step_losses,
            "keeper": self.best.state(),
            "stopped": self.stopped,
        }

    def load(self, state: dict[str, Any]) -> None:
        """Take the state back from a checkpoint's entries."""
        self.epoch, self.step, self.history = state["epoch"], state["step"], state["history"]
        self.step_losses = state.get("step_losses", [])
        self.best.load(state.get("keeper", self.best.state()))
        self.stopped = bool(state.get("stopped", False))


@dataclass(frozen=True)
class RunFacts:
    """What a run is, fixed once it is built: the figures of ``metrics.json`` that do not
    change from epoch to epoch.

    Attributes:
        parameters: the model's parameter count.
        device: where it trains.
        world_size: processes training together.
        samples_per_epoch: training samples an epoch reads (over all processes).
        steps_per_epoch: optimiser steps an epoch takes (per process).
        validation_samples: the size of the validation split (0: none).
        keep_best: the run keeps the best epoch's model (else the last).
    """

    parameters: int
    device: str
    world_size: int
    samples_per_epoch: int
    steps_per_epoch: int
    validation_samples: int
    keep_best: bool


class RunSession:
    """The run folder of one training run.

    Args:
        config: the run's settings (``out``, ``resume``, ``overwrite``, ``force``).
        facts: what the run is (:class:`RunFacts`).
        console: where its notes go.
        main: whether this process writes (rank 0).

    Attributes:
        folder: the :class:`~anyconv.train.run.RunFolder`; without ``config.out`` a new
            default-named one, or with ``resume`` the newest run of this model and data
            that has a checkpoint.
        replacing: an earlier run's files are in the folder, not yet replaced.
    """

    def __init__(
        self, config: TrainConfig, facts: RunFacts, console: Console, main: bool = True
    ) -> None:
        self.config, self.facts, self.console, self.main = config, facts, console, main
        self.folder = self._choose_folder()
        self.replacing = False

    def _choose_folder(self) -> RunFolder:
        config = self.config
        if config.out is not None:
            return RunFolder(config.out)
        if config.resume:
            previous = RunFolder.latest(config.model, config.data_spec)
            if previous is not None:
                return previous
        return RunFolder(RunFolder.default_path(config.model, config.data_spec))

    @property
    def run_dir(self) -> Path:
        """The run folder's path."""
        return self.folder.path

    # -- opening -----------------------------------------------------------------------

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """The folder checked writable and, in the writing process, locked for the run."""
        self.folder.check_writable()
        with self.folder.lock() if self.main else contextlib.nullcontext():
            yield

    def open(self, fingerprint: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
        """Check the run folder before any work: the checkpoint to resume from (checked
        with :meth:`check_resumable`; ``fingerprint()`` gives the data's), or None for a
        new run, refusing to write over another run unless ``overwrite`` (whose files then
        stay until this run has a checkpoint of its own)."""
        config, folder = self.config, self.folder
        if config.resume and folder.has_checkpoint():
            state = folder.load_checkpoint()
            self.check_resumable(state, fingerprint)
            return state
        if config.resume:
            where = (
                f"in {folder.path}"
                if config.out is not None
                else f"(no run of {config.model} on {config.data} under runs/ has a checkpoint)"
            )
            self.console.print(
                f"nothing to resume {where}: starting a new run in {folder.path}",
                markup=False,
                highlight=False,
            )
        if folder.holds_run() and not config.overwrite:
            raise FileExistsError(
                f"{folder.path} already holds a run; --resume continues it, --overwrite "
                "replaces it (its files stay until the new run's first checkpoint), or choose "
                "another --out"
            )
        self.replacing = folder.holds_run()
        return None

    def check_resumable(
        self, state: dict[str, Any], fingerprint: Callable[[], dict[str, Any]]
    ) -> None:
        """Refuse a checkpoint that does not fit this run (other settings, other data,
        another number of processes, damaged counters or weights), naming the file;
        ``config.force`` lets the data and the number of processes differ (the data's
        ``fingerprint()`` is then not asked for)."""
        config, path, facts = self.config, self.folder.checkpoint, self.facts
        saved = state["config"]
        now = config.to_dict()
        changed = [k for k in RESUME_KEYS if saved.get(k) != now[k]]
        if changed:
            raise ValueError(
                f"cannot resume {path}: the run was started with different "
                + ", ".join(f"{k} ({saved.get(k)!r}, now {getattr(config, k)!r})" for k in changed)
            )
        epoch, step = state["epoch"], state["step"]
        if step != epoch * facts.steps_per_epoch:
            raise ValueError(
                f"{path}: damaged checkpoint, step {step} after epoch {epoch} does not match "
                f"{facts.steps_per_epoch} steps per epoch"
            )
        if epoch > config.epochs:
            raise ValueError(
                f"cannot resume {path}: it is at epoch {epoch}, beyond --epochs {config.epochs}"
            )
        for name, value in state["model"].items():
            if value.is_floating_point() and not torch.isfinite(value).all():
                raise ValueError(f"{path}: damaged checkpoint, weight '{name}' is not finite")
        if not config.force:
            if state["world_size"] != facts.world_size:
                raise ValueError(
                    f"cannot resume {path}: written by {state['world_size']} processes, now "
                    f"{facts.world_size}; the batches would differ (--force resumes anyway)"
                )
            saved_data = state.get("data")
            if saved_data is not None and saved_data != fingerprint():
                raise ValueError(
                    f"cannot resume {path}: the data under '{config.data}' changed since the "
                    f"checkpoint ({describe_change(saved_data, fingerprint())}); "
                    "--force resumes anyway"
                )

    # -- what the files hold -----------------------------------------------------------

    def kept_epoch(self, state: RunState) -> int:
        """The epoch whose model the run keeps: the best one, or the last."""
        best = state.best.epoch
        return best if self.facts.keep_best and best else state.epoch

    def metrics(
        self,
        status: str,
        state: RunState,
        test: dict[str, Any] | None = None,
        timings: dict[str, float] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """The ``metrics.json`` dict (see :func:`anyconv.train.train`); ``test`` is the
        kept model's test figures (:func:`~anyconv.train.metrics.summarize`), ``extra``
        adds keys."""
        config, facts, history = self.config, self.facts, state.history
        last = history[-1] if history else {}
        train_time = sum(r["seconds"] for r in history)
        test = test or {}
        metrics: dict[str, Any] = {
            "status": status,
            "model": config.model,
            "data": config.data,
            "test_accuracy": test.get("accuracy"),
            "test_loss": test.get("loss"),
            "train_accuracy": last.get("accuracy"),
            "train_loss": last.get("loss"),
            "keep": "best" if facts.keep_best else "last",
            "kept_epoch": (state.best.epoch if facts.keep_best else state.epoch) or None,
            "epochs": state.epoch,
            "stopped_early": state.stopped,
            "validation_samples": facts.validation_samples,
            "parameters": facts.parameters,
            "train_seconds": train_time + sum(r["eval_seconds"] for r in history),
            "samples_per_second": (
                facts.samples_per_epoch * len(history) / train_time if train_time else None
            ),
            "seed": config.seed,
            "device": facts.device,
            "threads": torch.get_num_threads(),
            "world_size": facts.world_size,
            "run_dir": str(self.run_dir),
            "timings": timings or {},
            "history": history,
            "step_losses": state.step_losses,
        }
        if facts.validation_samples and state.best.epoch:
            metrics["best_val_accuracy"] = state.best.accuracy
            metrics["best_val_loss"] = state.best.loss
        if test:
            metrics["confusion"] = test["confusion"].tolist()
        metrics.update(extra)
        return metrics

    def data_options(self, data: Dataset) -> dict[str, Any]:
        """What ``evaluate`` and ``predict`` must repeat to see the data as this run did:
        the loader options that decide its splits and transform (:data:`DATA_VIEW_OPTIONS
        <anyconv.train.config.DATA_VIEW_OPTIONS>`, not how it was read) and the data's own
        (the transform's mean and std)."""
        options = self.config.data_options()
        options = {k: v for k, v in options.items() if k in DATA_VIEW_OPTIONS}
        return {**options, **data.options()}

    def run_config(
        self, model: dict[str, Any], data: Dataset, input_record: dict[str, Any]
    ) -> dict[str, Any]:
        """The ``config.json`` dict (see :func:`anyconv.train.run.run_config`); ``model`` is
        what describes the model (``model``, ``model_kwargs``, ``model_source``,
        ``model_class``: :meth:`ModelRecord.fields
        <anyconv.train.model_source.ModelRecord.fields>`)."""
        return run_config(
            **model,
            data_spec=self.config.data,
            data=data,
            train=self.config.to_dict(),
            input=input_record,
            data_options=self.data_options(data),
        )

    # -- writing -----------------------------------------------------------------------

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        """Write the checkpoint; the first one of a run that replaces another also removes
        the earlier run's pictures."""
        self.folder.save_checkpoint(state)
        if self.replacing:  # the earlier run's checkpoint is gone: its pictures too
            self.folder.remove_pictures()
            self.replacing = False

    def write(
        self,
        metrics: dict[str, Any],
        config: dict[str, Any] | None = None,
        weights: dict[str, torch.Tensor] | None = None,
    ) -> dict[str, Any]:
        """``metrics.json`` and, with ``config`` and ``weights``, ``config.json`` and the
        kept model's weights."""
        self.folder.write_metrics(metrics)
        if config is not None and weights is not None:
            self.folder.write_model(config, weights)
        return metrics

    def write_pictures(self, jobs: dict[str, Callable[[Path], Any]]) -> list[str]:
        """Draw each ``name -> draw(path)`` into the folder (see
        :meth:`~anyconv.train.run.RunFolder.write_pictures`)."""
        return self.folder.write_pictures(jobs)

    def last_checkpoint(self) -> Path | None:
        """This run's own last checkpoint, or None when it has written none yet."""
        own = self.folder.has_checkpoint() and not self.replacing
        return self.folder.checkpoint if own else None

    def diverged(self, metrics: dict[str, Any]) -> None:
        """Record a diverged run in ``metrics.json``, unless an earlier run's files are
        still in the folder (they stay whole)."""
        if self.main and not self.replacing:
            self.folder.write_metrics(metrics)
