"""The training loop: a seeded permutation per epoch over in-memory tensors, or over the
samples of data read in batches (streamed or transformed image folders, decoded by
``DataLoader`` worker processes in the order the trainer draws).

Reproducibility and resumption rest on three rules:

- every random choice of an epoch (permutation, shift offsets) is drawn at the epoch's
  start from one ``torch.Generator``, whose state after the draw is what the epoch-end
  checkpoint stores -- so a resumed run redraws exactly the epoch it lost;
- the global torch RNG (dropout) is reseeded at each epoch start from
  ``(seed, epoch, rank)``, so it needs no state from a killed process;
- the learning rate is a pure function of the step counter (``schedule.lr_factor``);
- a sample's random transform (crop, flip) is seeded by ``(seed, epoch, sample)``, so it is
  the same whichever process decodes it and whether it came from memory or disk.

A run killed mid-epoch and resumed restarts that epoch from its beginning and ends with
bitwise the same weights as an uninterrupted run on the same device and thread count.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from rich.console import Console

from anyconv._checks import fail, unknown_name
from anyconv.data.base import Dataset
from anyconv.models.fitted import FittedModel
from anyconv.train import advice
from anyconv.train import distributed as D
from anyconv.train.advice import MIN_STEPS
from anyconv.train.checkpoint import FORMAT_VERSION, rng_state, set_rng_state
from anyconv.train.config import TrainConfig
from anyconv.train.metrics import autocast, batch_sums, summarize
from anyconv.train.model_source import build_model, record_given, short_name
from anyconv.train.progress import PhaseClock, TrainingProgress
from anyconv.train.recipes import EXAMPLE_DATA, epochs_for_steps
from anyconv.train.run import history_jobs
from anyconv.train.schedule import lr_factor
from anyconv.train.session import RunFacts, RunSession, RunState
from anyconv.train.training_data import TrainingData
from anyconv.train.validation import BestEpoch

CHECK_EVERY = 16  # steps between loss checks / progress updates: one device sync each
STEP_POINTS = 200  # per-step losses kept per epoch (bin means), for the history picture


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint was left as it was.

    Attributes: ``epoch`` (1-based), ``step`` (1-based within the epoch), ``global_step``,
    ``loss`` (the non-finite value), ``checkpoint`` (path of the last good one, or None).
    """

    def __init__(
        self, epoch: int, step: int, global_step: int, loss: float, checkpoint: Path | None
    ) -> None:
        self.epoch, self.step, self.global_step = epoch, step, global_step
        self.loss, self.checkpoint = loss, checkpoint
        kept = (
            f"the last good checkpoint {checkpoint} is kept"
            if checkpoint
            else "no checkpoint was written yet"
        )
        super().__init__(
            f"training diverged: loss is {loss} at epoch {epoch}, step {step} "
            f"(global step {global_step}); stopped, {kept}. Try a lower --lr."
        )


def _check_model_name(config: TrainConfig) -> None:
    """A registered model and options it takes, or an importable model of your own,
    checked before any data is loaded."""
    from anyconv.models.imported import import_builder, is_import_path
    from anyconv.models.options import check_model_options
    from anyconv.models.registry import MODELS

    if config.model not in MODELS and is_import_path(config.model):
        import_builder(config.model, "train")
        return
    if config.model not in MODELS:
        raise unknown_name(
            "train",
            "model",
            config.model,
            MODELS,
            " (anyconv models), or your own as 'package.module:Name'",
        )
    check_model_options(config.model, config.model_kwargs)


def _mixed_precision(
    config: TrainConfig, device: torch.device
) -> tuple[torch.dtype | None, torch.amp.GradScaler | None]:
    if not config.amp or device.type != "cuda":
        return None, None
    if torch.cuda.is_bf16_supported():
        return torch.bfloat16, None  # bfloat16 has float32's range: no loss scaling needed
    return torch.float16, torch.amp.GradScaler("cuda")


class Trainer:
    """One training run; ``Trainer(config, data, model).fit()`` is :func:`train`.

    The trainer builds the model, the optimiser and the step plan, runs the loop and
    evaluates; it hands the data to a :class:`~anyconv.train.training_data.TrainingData`
    (validation split, placement, each epoch's draws and batches) and the run folder to a
    :class:`~anyconv.train.session.RunSession` (opening, resumption checks, what the files
    hold), which takes plain values from it and knows none of its attributes.

    The constructor builds everything in memory and touches no file: the run folder is
    opened (checked, locked, resumed from) by :meth:`fit`. ``train_epoch`` alone runs one
    epoch without evaluation or files, which is what the overhead benchmark times against
    a plain PyTorch loop.

    Attributes:
        config: the settings.
        data: the :class:`~anyconv.data.Dataset` trained on.
        feed: the data split and placed for training (:class:`TrainingData`).
        model: the network on the device (what is saved, evaluated and drawn).
        parallel_model: what the loop calls: ``model`` DDP-wrapped when data-parallel,
            else ``model`` itself.
        state: where the run stands (:class:`~anyconv.train.session.RunState`).
        session: the run folder (:class:`~anyconv.train.session.RunSession`).
    """

    def __init__(
        self,
        config: TrainConfig,
        data: Dataset | None = None,
        model: torch.nn.Module | None = None,
        console: Console | None = None,
    ) -> None:
        config.validate()
        self.config = config
        if config.threads is not None:
            torch.set_num_threads(config.threads)
        self.clock = PhaseClock()
        self.dist, self.device = D.setup(config.device)
        try:
            if model is None:
                _check_model_name(config)
            with self.clock("data"):
                self.data = data if data is not None else self._load_data()
            from anyconv.data import check_trainable

            check_trainable(self.data)  # one class: it would reach 100% and learn nothing
            self.clock.start("build")
            from anyconv.models.registry import MODELS

            if model is None and config.model in MODELS:
                from anyconv.models.options import check_model_fits

                check_model_fits(config.model, self.data.input_shape, config.data, EXAMPLE_DATA)
            self.model, self.parallel_model = self._build_model(model)
            self.config = config = self._recorded_config(config)
            self.fitted = isinstance(self.model, FittedModel)
            self.optimizer = None if self.fitted else self._build_optimizer()
            self.amp_dtype, self.scaler = _mixed_precision(config, self.device)
            self.generator = torch.Generator().manual_seed(config.seed)
            self.feed = TrainingData(self.data, config, self.dist, self.device)
            self.notes: list[str] = []  # printed once the run folder is open
            if self.fitted:
                self._check_fitted()
            else:
                self.config = config = self._scaled_recipe(config)
            self.keep_best = self._keep_best()
            steps = 0 if self.fitted else self.feed.steps_per_epoch
            self.total_steps = steps * config.epochs
            self.clock.stop("build")
        except BaseException:
            D.teardown(self.dist)
            raise
        self.state = RunState(best=BestEpoch(patience=config.patience))
        self.said_slow = False  # the hint about a collapse of throughput, once per run
        self.best_weights: dict[str, torch.Tensor] | None = None
        self.last_eval: tuple[torch.Tensor, torch.Tensor] | None = None
        self.fit_facts: dict[str, Any] | None = None  # a fitted model's, for metrics.json
        # Notes and the result go to ``console``; the bar and epoch lines also respect quiet.
        self.console = console or Console(stderr=True, quiet=not self.dist.main)
        self.epoch_console = Console(quiet=True) if config.quiet else self.console
        facts = RunFacts(
            parameters=sum(p.numel() for p in self.model.parameters()),
            device=str(self.device),
            world_size=self.dist.world_size,
            samples_per_epoch=self.feed.samples_per_epoch,
            steps_per_epoch=steps,
            validation_samples=len(self.feed.y_val),
            keep_best=self.keep_best,
        )
        self.session = RunSession(config, facts, self.console, self.dist.main)

    # -- building ----------------------------------------------------------------------

    def _load_data(self) -> Dataset:
        from anyconv.data import load_dataset

        config = self.config
        return load_dataset(config.data, seed=config.data_seed, **config.data_options())

    def _build_model(
        self, model: torch.nn.Module | None
    ) -> tuple[torch.nn.Module, torch.nn.Module]:
        """The model on the device, and the module the loop calls (DDP-wrapped when
        data-parallel); ``self.record`` says how it was made (what ``config.json`` keeps)."""
        config, shape = self.config, self.data.input_shape
        data_kwargs = {
            "in_channels": shape[0],
            "num_classes": self.data.num_classes,
            "input_size": tuple(shape[1:]),
        }
        if model is not None:
            self.record = record_given(model, config.model, config.model_kwargs, data_kwargs)
        torch.manual_seed(config.seed)  # weight initialisation
        if model is None:
            model, self.record = build_model(config.model, config.model_kwargs, data_kwargs)
        model = model.to(self.device)
        if not self.dist.enabled:
            return model, model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return model, DistributedDataParallel(model, device_ids=ids)

    def _recorded_config(self, config: TrainConfig) -> TrainConfig:
        """``config`` naming the model that is trained: a model given as an object that
        ``config.model`` does not build is recorded by its class, never under the name of
        another (the default ``lenet5``)."""
        if self.record.name == config.model:
            return config
        return _changed(config, model=self.record.name, model_kwargs={})

    def _scaled_recipe(self, config: TrainConfig) -> TrainConfig:
        """``config`` with the fallback recipe's epochs raised on small data to at least
        :data:`~anyconv.train.advice.MIN_STEPS` optimiser steps (said in a note)."""
        steps = self.feed.steps_per_epoch
        if "epochs" not in config.from_fallback:
            return config
        epochs = epochs_for_steps(config.epochs, steps)
        if epochs == config.epochs:
            return config
        self.notes.append(
            f"{self.feed.samples_per_epoch} training samples make {steps} steps per epoch: "
            f"the fallback recipe's {config.epochs} epochs become {epochs}, for at least "
            f"{MIN_STEPS} optimiser steps (--epochs sets them)"
        )
        return _changed(config, epochs=epochs)

    def _build_optimizer(self) -> torch.optim.Optimizer:
        config = self.config
        params = [p for p in self.model.parameters() if p.requires_grad]
        if not params:
            raise fail(
                "train", "model", "a model with trainable parameters", type(self.model).__name__
            )
        if config.optimizer == "adamw":
            return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
        return torch.optim.SGD(
            params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )

    def _check_fitted(self) -> None:
        """A model fitted without epochs (:class:`~anyconv.models.fitted.FittedModel`)
        takes its one pass over the whole training split held in memory, in one process."""
        config, name = self.config, self.config.model
        if config.epochs != 1:
            raise fail(
                "train",
                "epochs",
                f"1 for {name}, which is fitted in one pass over the training split, without "
                "epochs (leave --epochs out)",
                config.epochs,
            )
        if self.dist.enabled:
            raise fail(
                "train", "world_size", f"1 for {name} (fitted in one process)",
                self.dist.world_size,
            )  # fmt: skip
        if self.feed.x_train is None:
            raise fail(
                "train",
                "data",
                f"data held in memory for {name}, which is fitted on the whole training split "
                "at once",
                config.data,
            )

    def _keep_best(self) -> bool:
        """Whether the run keeps its best epoch's model (``keep``; default: when there is a
        validation split to tell the best)."""
        keep = self.config.keep or ("best" if self.feed.has_val else "last")
        if keep == "best" and not self.feed.has_val:
            raise fail(
                "train",
                "keep",
                "'last' without a validation split (keep 'best' needs val_fraction > 0)",
                self.config.keep,
            )
        return keep == "best"

    @property
    def run_dir(self) -> Path:
        """The run folder's path."""
        return self.session.run_dir

    # -- checkpoints -------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The checkpoint: tensors and primitive containers only (``weights_only`` loads)."""
        return {
            "format": FORMAT_VERSION,
            **self.state.checkpoint(),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict() if self.optimizer else {},
            "scheduler": {
                "schedule": self.config.schedule,
                "step": self.state.step,
                "total_steps": self.total_steps,
            },
            "scaler": self.scaler.state_dict() if self.scaler else {},
            "rng": rng_state(self.generator, self.device.type == "cuda"),
            "config": self.config.to_dict(),
            "world_size": self.dist.world_size,
            "data": self.feed.fingerprint,
            "best_model": self.best_weights or {},
        }

    def load_state_dict(self, state: dict[str, Any], path: Path) -> None:
        """Continue from a checkpoint's ``state`` (already checked to fit this run); a
        state that does not fit the model or optimiser is a ``ValueError`` naming
        ``path``."""
        try:
            self.model.load_state_dict(state["model"])
            if self.optimizer is not None:
                self.optimizer.load_state_dict(state["optimizer"])
            if self.scaler and state["scaler"]:
                self.scaler.load_state_dict(state["scaler"])
            set_rng_state(state["rng"], self.generator)
        except (RuntimeError, KeyError, ValueError, TypeError, IndexError) as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise ValueError(
                f"{path}: damaged checkpoint, its state does not fit this run "
                f"({type(error).__name__}: {first[:200]})"
            ) from None
        self.state.load(state)
        best = state.get("best_model") or None
        self.best_weights = {k: v.to(self.device) for k, v in best.items()} if best else None
        self.console.print(f"resuming {path} after epoch {self.state.epoch}", markup=False)
        note = self._schedule_change(state)
        if note:
            self._say(f"note: {note}")

    def _schedule_change(self, state: dict[str, Any]) -> str | None:
        """A sentence when more ``--epochs`` than the checkpoint's stretch its learning-rate
        schedule: the rate at the resumed step then differs from the saved schedule's (past
        the end of a finished cosine schedule it restarts from zero at part of the peak).
        Resuming does it on purpose (the schedule spans the epochs asked for); the note
        says so, with the two rates."""
        config, step = self.config, self.state.step
        saved = state.get("scheduler", {}).get("total_steps")
        if config.schedule == "none" or not isinstance(saved, int) or saved == self.total_steps:
            return None
        before = config.lr * lr_factor(config.schedule, step, saved)
        now = config.lr * lr_factor(config.schedule, step, self.total_steps)
        old_epochs = saved // max(self.feed.steps_per_epoch, 1)
        ended = step >= saved
        return (
            f"--epochs {config.epochs} stretches the {config.schedule} schedule of the "
            f"checkpoint ({old_epochs} epoch{'s' if old_epochs != 1 else ''}"
            + (", finished" if ended else "")
            + f"): the learning rate {'restarts' if ended else 'jumps'} from {before:.3g} to "
            f"{now:.3g} ({now / config.lr:.0%} of --lr)"
            + (
                ", a warm restart as in SGDR"
                if ended
                else f"; --epochs {old_epochs} keeps the schedule"
            )
        )

    # -- one epoch ---------------------------------------------------------------------

    def _set_lr(self) -> float:
        config = self.config
        lr = config.lr * lr_factor(config.schedule, self.state.step, self.total_steps)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    def _step(self, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimiser step (mixed precision and loss scaling when set); returns the
        batch's loss and logits, detached."""
        with autocast(self.device, self.amp_dtype):
            logits = self.parallel_model(xb)
        loss = F.cross_entropy(logits.float(), yb)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        self.state.step += 1
        return loss.detach(), logits.detach()

    def train_epoch(self, epoch: int, progress: TrainingProgress | None = None) -> dict[str, Any]:
        """Run epoch ``epoch`` (1-based): returns ``loss``, ``accuracy`` (over all ranks),
        ``lr`` (at its first step), ``seconds``, ``samples`` and ``step_losses`` (this
        process's mean loss per step, at most :data:`STEP_POINTS` bin means). Raises
        :class:`TrainingDiverged`."""
        config, feed = self.config, self.feed
        start = time.perf_counter()
        torch.manual_seed(hash((config.seed, epoch, self.dist.rank)) & 0x7FFF_FFFF_FFFF)
        order, offsets = feed.draw(self.generator)
        steps, batch = feed.steps_per_epoch, feed.batch
        losses = torch.zeros(steps, device=self.device)
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        first_lr = config.lr * lr_factor(config.schedule, self.state.step, self.total_steps)
        if progress is not None:
            progress.start(epoch, steps)
        self.parallel_model.train()
        checked = 0
        for s, (xb, yb) in enumerate(feed.batches(order, offsets, epoch)):
            self._set_lr()
            loss, logits = self._step(xb, yb)
            losses[s] = loss * len(yb)
            correct += (logits.argmax(1) == yb).sum()
            if (s + 1) % CHECK_EVERY == 0 or s + 1 == steps:
                self._check(losses, checked, s + 1, epoch)
                checked = s + 1
                if progress is not None:
                    done = min((s + 1) * batch, len(order))
                    progress.update(s + 1, done, losses[: s + 1].sum().item(), correct.item())
        totals = torch.stack(
            [
                losses.sum().double(),
                correct.double(),
                torch.tensor(float(len(order)), device=self.device).double(),
            ]
        )
        D.all_reduce(totals, self.dist)
        loss_sum, hits, n = totals.tolist()
        if progress is not None:
            progress.finish()
        return {
            "loss": loss_sum / n,
            "accuracy": hits / n,
            "lr": first_lr,
            "seconds": time.perf_counter() - start,
            "samples": n,
            "step_losses": _step_means(losses, batch, len(order)),
        }

    def fit_pass(self) -> dict[str, Any]:
        """The one pass of a model fitted without epochs: :meth:`FittedModel.fit
        <anyconv.models.fitted.FittedModel.fit>` on the training split, drawing from the
        run's generator; returns the row that :meth:`train_epoch` returns for an epoch
        (the training loss and accuracy of the fitted model, ``lr`` None, no steps)."""
        start = time.perf_counter()
        x, y = self.feed.x_train, self.feed.y_train
        logits, self.fit_facts = self.model.fit(x, y, generator=self.generator)
        logits = logits.float()
        if not torch.isfinite(logits).all():
            self._diverged(1, 1, 0, float("nan"))
        return {
            "loss": F.cross_entropy(logits, y).item(),
            "accuracy": (logits.argmax(1) == y).float().mean().item(),
            "lr": None,
            "seconds": time.perf_counter() - start,
            "samples": len(y),
            "step_losses": [],
        }

    def _check(self, losses: torch.Tensor, lo: int, hi: int, epoch: int) -> None:
        """Stop at the first non-finite loss in steps ``[lo, hi)`` on any rank."""
        bad = (~torch.isfinite(losses[lo:hi])).nonzero()
        first = torch.tensor([bad[0, 0].item() + lo if len(bad) else hi], device=self.device)
        D.all_reduce(first, self.dist, op="min")
        step = int(first.item())
        if step < hi:
            value = losses[step].item() if step < len(losses) else float("nan")
            global_step = self.state.step - (hi - step) + 1
            self._diverged(epoch, step + 1, global_step, value)

    def _diverged(self, epoch: int, step: int, global_step: int, loss: float) -> None:
        error = TrainingDiverged(epoch, step, global_step, loss, self.session.last_checkpoint())
        self.session.diverged(self.metrics("diverged", error=str(error)))
        raise error

    # -- the run -----------------------------------------------------------------------

    def evaluate(self, split: str = "test") -> tuple[torch.Tensor, torch.Tensor]:
        """Sums ``(loss, correct, n)`` and confusion over the ``"test"`` or ``"val"``
        split, each rank taking every ``world_size``-th sample and all-reducing."""
        batches = self.feed.evaluation_batches(split, self.config.eval_batch_size)
        sums, confusion = batch_sums(
            self.model, batches, self.data.num_classes, self.device, self.amp_dtype
        )
        D.all_reduce(sums, self.dist)
        D.all_reduce(confusion, self.dist)
        return sums, confusion

    def metrics(self, status: str, **extra: Any) -> dict[str, Any]:
        """The ``metrics.json`` dict (see :func:`train`)."""
        test = summarize(*self.last_eval) if self.last_eval is not None else None
        if self.fit_facts is not None:
            extra = {"fit": self.fit_facts, **extra}
        return self.session.metrics(
            status, self.state, test=test, timings=self.clock.totals(), **extra
        )

    def run_config(self) -> dict[str, Any]:
        """The ``config.json`` dict (see :func:`anyconv.train.run.run_config`)."""
        return self.session.run_config(self.record.fields(), self.data, self.feed.input_record)

    def _save(self, status: str, model: bool = True, **extra: Any) -> dict[str, Any]:
        """Rank 0's files after an epoch or at the end: metrics and, with ``model``,
        config and weights (of the kept model)."""
        metrics = self.metrics(status, **extra)
        if not model:
            return self.session.write(metrics)
        kept = self.best_weights if self.keep_best and self.best_weights else None
        weights = kept or self.model.state_dict()
        return self.session.write(metrics, self.run_config(), weights)

    def fit(self) -> dict[str, Any]:
        """Train the remaining epochs, writing a checkpoint after each; then test the kept
        model once and return the metrics (see :func:`train`)."""
        try:
            with self.session.held():
                resumed = self.session.open(lambda: self.feed.fingerprint)
                if resumed is not None:
                    self.load_state_dict(resumed, self.session.folder.checkpoint)
                if self.dist.main:
                    self._start_notes()
                enabled = not self.config.quiet and self.dist.main
                with TrainingProgress(
                    self.epoch_console, enabled, self.config.epochs, self.dist.world_size
                ) as progress:
                    while self.state.epoch < self.config.epochs and not self.state.stopped:
                        self._run_epoch(self.state.epoch + 1, progress)
                return self._finish()
        finally:
            D.teardown(self.dist)

    def _run_epoch(self, epoch: int, progress: TrainingProgress) -> None:
        config, state, has_val = self.config, self.state, self.feed.has_val
        with self.clock("train"):
            row = self.fit_pass() if self.fitted else self.train_epoch(epoch, progress)
        start = time.perf_counter()
        split = "val" if has_val else "test"
        # Evaluated (and checkpointed) every eval_every epochs and after the last.
        due = epoch % config.eval_every == 0 or epoch == config.epochs
        figures: dict[str, Any] = {"loss": None, "accuracy": None}
        if due:
            with self.clock("evaluate"):
                result = self.evaluate(split)
            figures = summarize(*result)
            if not has_val:
                self.last_eval = result  # the last model is kept and was just tested
        state.epoch = epoch
        state.step_losses.append(row.pop("step_losses"))
        entry = {
            "epoch": epoch,
            "loss": row["loss"],
            "accuracy": row["accuracy"],
            f"{split}_loss": figures["loss"],
            f"{split}_accuracy": figures["accuracy"],
            "lr": row["lr"],
            "seconds": row["seconds"],
            "eval_seconds": time.perf_counter() - start,
        }
        state.history.append(entry)
        validated = due and has_val
        improved = validated and state.best.update(epoch, figures["accuracy"], figures["loss"])
        if improved and self.keep_best:
            self.best_weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        state.stopped = validated and state.best.should_stop(epoch)
        if self.dist.main and due:
            with self.clock("checkpoint"):
                self.session.save_checkpoint(self.state_dict())
                self._save("running", model=improved or not self.keep_best or epoch == 1)
        progress.epoch_line({**entry, "samples": row["samples"]})
        if self.dist.main and not self.said_slow:
            speeds = [self.feed.samples_per_epoch / max(r["seconds"], 1e-9) for r in state.history]
            hint = advice.throughput_hint(speeds, torch.get_num_threads())
            if hint:
                self._say(f"hint: {hint}")
                self.said_slow = True
        if state.stopped:
            self.console.print(
                f"stopping early: no better validation accuracy for {config.patience} "
                f"epochs (best: epoch {state.best.epoch}, {state.best.accuracy:.2%})",
                highlight=False,
            )

    def _finish(self) -> dict[str, Any]:
        """After the last epoch: the kept model tested once, final files and pictures
        (rank 0); the metrics (every rank)."""
        if self.keep_best and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
        if self.last_eval is None:  # tested once, now, on the kept model
            with self.clock("test"):
                self.last_eval = self.evaluate("test")
        if not self.dist.main:
            return self.metrics("finished")
        pictures = []
        if self.config.pictures:
            self.clock.start("pictures")
            from anyconv import viz

            test = summarize(*self.last_eval)
            label = self.config.data_spec.label
            jobs = history_jobs(
                self.state.history,
                self.state.step_losses,
                test["confusion"],
                self.data.class_names,
                title=f"{short_name(self.config.model)} on {label}",
                test=(self.session.kept_epoch(self.state), test["loss"], test["accuracy"]),
            )
            if self.fitted:  # one pass: no curve to draw
                jobs.pop("history.png", None)
            verb = "fitted" if self.fitted else "trained"
            trained = f"{short_name(self.config.model)} {verb} on {label}"
            jobs.update(viz.network_jobs(self.model, self.data, title=trained))
            pictures = self.session.write_pictures(jobs)
            self.clock.stop("pictures")
        notes = self._end_notes()
        with self.clock("checkpoint"):
            metrics = self._save("finished", pictures=pictures, notes=notes)
        best = self.state.best
        kept = (
            f"model of epoch {metrics['kept_epoch']}, best validation accuracy "
            f"{best.accuracy:.2%}; "
            if self.keep_best and best.epoch
            else ""
        )
        done = (
            f"fitted in one pass, {metrics['train_seconds']:.1f} s"
            if self.fitted
            else f"{metrics['epochs']} epochs, {metrics['train_seconds']:.1f} s of training"
        )
        self.console.print(
            f"test accuracy {metrics['test_accuracy']:.2%} ({short_name(self.config.model)} on "
            f"{self.config.data}, {kept}{done}); run folder {self.run_dir}",
            highlight=False,
            markup=False,
        )
        for line in notes:
            self._say(line)
        return metrics

    def _say(self, line: str) -> None:
        """One line for the user (rank 0; also in a quiet run), printed verbatim."""
        self.console.print(line, highlight=False, markup=False, soft_wrap=True)

    def _start_notes(self) -> None:
        """Print what the user should know before the epochs run: the recipe scaled to
        small data, a model that resamples its input, a busy machine."""
        resampled = advice.resampling_note(self.model, self.data.input_shape[1:])
        busy = advice.busy_machine_hint(torch.get_num_threads())
        for line in self.notes + ([resampled] if resampled else []):
            self._say(f"note: {line}")
        if busy:
            self._say(f"hint: {busy}")

    def _end_notes(self) -> list[str]:
        """What the user should know about the finished run, one line each as printed
        (:mod:`anyconv.train.advice`): a test accuracy at chance, too few optimiser steps,
        a model the folder cannot rebuild."""
        confusion = summarize(*self.last_eval)["confusion"]
        warnings = [
            advice.chance_warning(confusion, self.data.class_names),
            None  # a fitted model takes no optimiser steps
            if self.fitted
            else advice.steps_note(self.state.step, self.feed.steps_per_epoch, self.state.epoch),
        ]
        lines = [f"warning: {w}" for w in warnings if w]
        if not self.record.rebuildable:
            lines.append(f"note: {advice.object_note(self.record.name)}")
        return lines


def _changed(config: TrainConfig, **settings: Any) -> TrainConfig:
    """A copy of ``config`` with ``settings`` changed and checked (its other attributes,
    such as ``from_fallback``, kept)."""
    config = copy.copy(config)
    for key, value in settings.items():
        setattr(config, key, value)
    config.validate()
    return config


def _step_means(losses: torch.Tensor, batch: int, samples: int) -> list[float]:
    """Per-step mean losses from per-step sums, averaged into at most :data:`STEP_POINTS`
    equal bins (one device sync)."""
    steps = len(losses)
    if steps == 0:
        return []
    sizes = torch.full_like(losses, float(batch))
    sizes[-1] = samples - batch * (steps - 1)
    bins = min(steps, STEP_POINTS)
    which = torch.arange(steps, device=losses.device) * bins // steps
    sums = torch.zeros(bins, device=losses.device).index_add_(0, which, losses)
    counts = torch.zeros(bins, device=losses.device).index_add_(0, which, sizes)
    return (sums / counts).tolist()


def train(
    config: TrainConfig,
    data: Dataset | None = None,
    model: torch.nn.Module | None = None,
    *,
    console: Console | None = None,
) -> dict[str, Any]:
    """Train a model and write its run folder; the Python form of ``anyconv train``.

    Args:
        config: the settings (:class:`TrainConfig`).
        data: a :class:`~anyconv.data.Dataset`, e.g. a :class:`~anyconv.data.Splits` with
            ``x (N, C, *spatial)`` float and ``y (N,)`` int64; default
            ``load_dataset(config.data, seed=config.data_seed)``.
        model: a module mapping ``(N, C, *spatial)`` to logits ``(N, num_classes)``; default
            ``config.model`` built with ``config.model_kwargs`` and the data's
            ``in_channels=C, num_classes=K, input_size=spatial``: a registered model, or
            your own as ``"package.module:Name"`` (a class, or a function annotated
            ``-> torch.nn.Module``; it gets those of the data's arguments it takes), which
            the run folder records so that ``load_run``, ``evaluate``, ``predict`` and
            ``summary`` rebuild it. A model given here is recorded under ``config.model``
            only if that builds the same class and weight shapes; otherwise by its class
            (``model_source`` ``"object"``: its weights are kept, but its constructor
            arguments are unknown, so ``load_run(RUN, model=...)`` needs a model built by
            you).
        console: where progress and per-epoch lines go (default: stderr).

    Returns:
        The metrics also written to ``metrics.json``: ``test_accuracy`` and
        ``train_accuracy`` (fractions in [0, 1]), ``test_loss``, ``train_loss``,
        ``epochs``, ``parameters``, ``train_seconds``, ``samples_per_second``,
        ``history`` (a dict per epoch), ``confusion`` (K x K lists), ``run_dir``, ...

    Raises:
        TrainingDiverged: the loss became NaN/inf; the previous checkpoint is kept.

    Launched by ``torchrun --nproc_per_node=N``, each process trains a shard of every
    batch under DistributedDataParallel; rank 0 alone writes files and prints. With
    ``config.ensemble = K > 1``, K members are trained (:mod:`anyconv.train.ensemble`) and
    the metrics are those of their averaged probabilities.

    Example:
        >>> from anyconv.data.base import Splits
        >>> x, y = torch.randn(64, 1, 4, 4), torch.arange(64) % 2
        >>> data = Splits(x, y, x, y, num_classes=2, kind="image", name="toy")
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2))
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as out:
        ...     cfg = TrainConfig(model="toy", epochs=1, out=out, quiet=True, pictures=False)
        ...     metrics = train(cfg, data, net)
        >>> metrics["epochs"], metrics["parameters"], metrics["model"]
        (1, 34, 'torch.nn.modules.container:Sequential')
    """
    if config.ensemble > 1:
        if model is not None:
            raise fail("train", "model", "None with ensemble > 1 (members are built anew)",
                       type(model).__name__, TypeError)  # fmt: skip
        from anyconv.train.ensemble import train_ensemble

        return train_ensemble(config, data, console)
    return Trainer(config, data, model, console).fit()
