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

import contextlib
import functools
import math
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from rich.console import Console

from anyconv._checks import fail
from anyconv.train import distributed as D
from anyconv.train.augment import random_shift
from anyconv.train.checkpoint import FORMAT_VERSION, rng_state, set_rng_state
from anyconv.train.config import RESUME_KEYS, TrainConfig
from anyconv.train.inputs import data_fingerprint, describe_change, input_record
from anyconv.train.metrics import autocast, batch_sums, evaluation_sums, summarize
from anyconv.train.progress import PhaseClock, TrainingProgress
from anyconv.train.recipes import EXAMPLE_DATA
from anyconv.train.run import RunFolder, history_jobs, run_config
from anyconv.train.schedule import lr_factor
from anyconv.train.validation import Keeper, stratified_split

CHECK_EVERY = 16  # steps between loss checks / progress updates: one device sync each
INPUT_SAMPLES = 512  # training inputs of streamed data that config.json's input record sums
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
    """A registered model and options it takes, checked before any data is loaded."""
    from anyconv.models.options import check_model_options
    from anyconv.models.registry import MODELS

    if config.model not in MODELS:
        raise fail(
            "train",
            "model",
            "one of " + ", ".join(map(repr, MODELS)) + " (anyconv models)",
            config.model,
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

    The constructor builds everything in memory and touches no file: the run folder is
    opened (checked, locked, resumed from) by :meth:`fit`. ``train_epoch`` alone runs one
    epoch without evaluation or files, which is what the overhead benchmark times against
    a plain PyTorch loop.
    """

    def __init__(
        self,
        config: TrainConfig,
        data: Any = None,
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
            if model is None:
                from anyconv.models.options import check_model_fits

                check_model_fits(config.model, self.data.input_shape, config.data, EXAMPLE_DATA)
            self.model_kwargs = {
                **config.model_kwargs,
                "in_channels": self.data.input_shape[0],
                "num_classes": self.data.num_classes,
                "input_size": tuple(self.data.input_shape[1:]),
            }
            self.core, self.model = self._build_model(model)
            self.parameters = sum(p.numel() for p in self.core.parameters())
            self.optimizer = self._build_optimizer()
            self.amp_dtype, self.scaler = _mixed_precision(config, self.device)
            self.generator = torch.Generator().manual_seed(config.seed)
            self._place_data()
            self.clock.stop("build")
        except BaseException:
            D.teardown(self.dist)
            raise
        self.step = 0
        self.epoch = 0
        self.replacing = False  # an earlier run's files are in the folder, not yet replaced
        self.history: list[dict[str, Any]] = []
        self.step_losses: list[list[float]] = []
        self.last_eval: tuple[torch.Tensor, torch.Tensor] | None = None
        self.keeper = Keeper(patience=config.patience)
        self.best_state: dict[str, torch.Tensor] | None = None
        self.stopped = False  # stopped early
        self.folder = self._choose_folder()
        # Notes and the result go to ``console``; the bar and epoch lines also respect quiet.
        self.console = console or Console(stderr=True, quiet=not self.dist.main)
        self.epoch_console = Console(quiet=True) if config.quiet else self.console

    # -- building ----------------------------------------------------------------------

    def _load_data(self) -> Any:
        from anyconv.data import load_dataset

        config = self.config
        return load_dataset(config.data, seed=config.data_seed, **config.data_options())

    def _build_model(
        self, model: torch.nn.Module | None
    ) -> tuple[torch.nn.Module, torch.nn.Module]:
        """The model on the device, and the module the loop calls (DDP-wrapped when
        data-parallel)."""
        torch.manual_seed(self.config.seed)  # weight initialisation
        if model is None:
            from anyconv.models import create_model

            model = create_model(self.config.model, **self.model_kwargs)
        core = model.to(self.device)
        if not self.dist.enabled:
            return core, core
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return core, DistributedDataParallel(core, device_ids=ids)

    def _build_optimizer(self) -> torch.optim.Optimizer:
        config = self.config
        params = [p for p in self.core.parameters() if p.requires_grad]
        if not params:
            raise fail(
                "train", "model", "a model with trainable parameters", type(self.core).__name__
            )
        if config.optimizer == "adamw":
            return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
        return torch.optim.SGD(
            params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )

    def _place_data(self) -> None:
        """The validation split, the training data (tensors on the device, or the indices
        of samples that ``data.batches`` reads) and the step plan."""
        config, data = self.config, self.data
        self.in_memory = hasattr(data, "x_train")  # else read through data.batches
        y_train = data.y_train
        own = getattr(data, "x_val", None)
        if own is not None and config.val_fraction is None:
            keep, held = torch.arange(len(y_train)), torch.zeros(0, dtype=torch.long)
            self.x_val, self.y_val = own, data.y_val
        else:
            fraction = 0.1 if config.val_fraction is None else config.val_fraction
            keep, held = stratified_split(y_train, fraction, config.data_seed)
            self.x_val = data.x_train[held] if self.in_memory else None
            self.y_val = y_train[held]
        # Indices into the data's training split: what is trained on and what validates
        # (read with the test-time transform: no random crops or flips).
        self.train_index, self.val_index = keep, held
        self.has_val = len(self.y_val) > 0
        self.keep = config.keep or ("best" if self.has_val else "last")
        if self.keep == "best" and not self.has_val:
            raise fail(
                "train",
                "keep",
                "'last' without a validation split (keep 'best' needs val_fraction > 0)",
                config.keep,
            )
        subset = len(held) > 0  # else the whole split, uncopied
        self.x_train = None
        if self.in_memory:
            self.x_train = (data.x_train[keep] if subset else data.x_train).to(self.device)
        self.y_train = (y_train[keep] if subset else y_train).to(self.device)
        self.augment = (
            config.augment
            and config.shift > 0
            and data.kind in ("image", "video")
            and not getattr(data, "augments", False)  # it crops at random itself
        )
        size = tuple(data.input_shape[-2:])
        if self.augment and config.shift >= min(size):  # would pad the batch by `shift`
            raise fail(
                "train",
                "shift",
                f"smaller than the images' height and width {size} (a shift of the whole "
                "image leaves nothing to see)",
                config.shift,
            )
        self.batch = max(1, config.batch_size // self.dist.world_size)  # per process
        shard_size = len(D.shard(torch.arange(len(self.y_train)), self.dist))
        self.steps_per_epoch = math.ceil(shard_size / self.batch)
        self.samples_per_epoch = shard_size * self.dist.world_size
        self.total_steps = self.steps_per_epoch * config.epochs

    @functools.cached_property
    def input_record(self) -> dict[str, Any]:
        """``config.json``'s ``input``: the data's normalisation and the range of the
        training inputs (of up to :data:`INPUT_SAMPLES` of them, evenly spread, when they
        are read through ``data.batches``)."""
        normalization = getattr(self.data, "normalization", {})
        if self.x_train is not None:
            return input_record(self.x_train, normalization)
        index = self.train_index
        index = index[:: max(1, len(index) // INPUT_SAMPLES)][:INPUT_SAMPLES]
        batches = self.data.batches("train", index, self.config.eval_batch_size)
        return input_record(torch.cat([x for x, _ in batches]), normalization)

    def _choose_folder(self) -> RunFolder:
        config = self.config
        if config.out is not None:
            return RunFolder(config.out)
        if config.resume:
            previous = RunFolder.latest(config.model, config.data)
            if previous is not None:
                return previous
        return RunFolder(RunFolder.default_path(config.model, config.data))

    @functools.cached_property
    def fingerprint(self) -> dict[str, Any]:
        """The data's fingerprint, stored in each checkpoint (computed once, when first
        needed)."""
        return data_fingerprint(self.data)

    @property
    def run_dir(self) -> Path:
        """The run folder's path."""
        return self.folder.path

    # -- checkpoints -------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The checkpoint: tensors and primitive containers only (``weights_only`` loads)."""
        return {
            "format": FORMAT_VERSION,
            "epoch": self.epoch,
            "step": self.step,
            "model": self.core.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": {
                "schedule": self.config.schedule,
                "step": self.step,
                "total_steps": self.total_steps,
            },
            "scaler": self.scaler.state_dict() if self.scaler else {},
            "rng": rng_state(self.generator, self.device.type == "cuda"),
            "history": self.history,
            "step_losses": self.step_losses,
            "config": self.config.to_dict(),
            "world_size": self.dist.world_size,
            "data": self.fingerprint,
            "keeper": self.keeper.state(),
            "best_model": self.best_state or {},
            "stopped": self.stopped,
        }

    def open_folder(self) -> None:
        """Check the run folder before any work: resume from its checkpoint, or refuse to
        write over another run unless ``overwrite`` (whose files then stay until this run
        has a checkpoint of its own)."""
        config, folder = self.config, self.folder
        if config.resume and folder.has_checkpoint():
            self.resume()
            return
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

    def resume(self) -> bool:
        """Load the run folder's checkpoint when ``config.resume`` asks for it and one
        exists; returns whether it did. A checkpoint that does not fit this run (other
        settings, other data, another number of processes, damaged counters or tensors)
        is refused with a message naming the file; ``config.force`` lets the data and the
        number of processes differ."""
        if not (self.config.resume and self.folder.has_checkpoint()):
            return False
        path = self.folder.checkpoint
        state = self.folder.load_checkpoint()
        self._check_resumable(state, path)
        try:
            self.core.load_state_dict(state["model"])
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
        self.epoch, self.step, self.history = state["epoch"], state["step"], state["history"]
        self.step_losses = state.get("step_losses", [])
        self.keeper.load(state.get("keeper", self.keeper.state()))
        best = state.get("best_model") or None
        self.best_state = {k: v.to(self.device) for k, v in best.items()} if best else None
        self.stopped = bool(state.get("stopped", False))
        self.console.print(f"resuming {path} after epoch {self.epoch}", markup=False)
        return True

    def _check_resumable(self, state: dict[str, Any], path: Path) -> None:
        config = self.config
        saved = state["config"]
        changed = [k for k in RESUME_KEYS if saved.get(k) != config.to_dict()[k]]
        if changed:
            raise ValueError(
                f"cannot resume {path}: the run was started with different "
                + ", ".join(f"{k} ({saved.get(k)!r}, now {getattr(config, k)!r})" for k in changed)
            )
        epoch, step = state["epoch"], state["step"]
        if step != epoch * self.steps_per_epoch:
            raise ValueError(
                f"{path}: damaged checkpoint, step {step} after epoch {epoch} does not match "
                f"{self.steps_per_epoch} steps per epoch"
            )
        if epoch > config.epochs:
            raise ValueError(
                f"cannot resume {path}: it is at epoch {epoch}, beyond --epochs {config.epochs}"
            )
        for name, value in state["model"].items():
            if value.is_floating_point() and not torch.isfinite(value).all():
                raise ValueError(f"{path}: damaged checkpoint, weight '{name}' is not finite")
        if not config.force:
            if state["world_size"] != self.dist.world_size:
                raise ValueError(
                    f"cannot resume {path}: written by {state['world_size']} processes, now "
                    f"{self.dist.world_size}; the batches would differ (--force resumes anyway)"
                )
            saved_data = state.get("data")
            if saved_data is not None and saved_data != self.fingerprint:
                raise ValueError(
                    f"cannot resume {path}: the data under '{config.data}' changed since the "
                    f"checkpoint ({describe_change(saved_data, self.fingerprint)}); "
                    "--force resumes anyway"
                )

    # -- one epoch ---------------------------------------------------------------------

    def _draw_epoch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The epoch's random choices, all drawn up front from the generator: the same on
        every rank (shared seed), then sharded."""
        n = len(self.y_train)
        order = torch.randperm(n, generator=self.generator)
        offsets = None
        if self.augment:
            offsets = torch.randint(
                0, 2 * self.config.shift + 1, (n, 2), generator=self.generator
            ).to(self.device)
        return D.shard(order, self.dist).to(self.device), offsets

    def _set_lr(self) -> float:
        config = self.config
        lr = config.lr * lr_factor(config.schedule, self.step, self.total_steps)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    def _step(self, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimiser step (mixed precision and loss scaling when set); returns the
        batch's loss and logits, detached."""
        with autocast(self.device, self.amp_dtype):
            logits = self.model(xb)
        loss = F.cross_entropy(logits.float(), yb)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        self.step += 1
        return loss.detach(), logits.detach()

    def train_epoch(self, epoch: int, progress: TrainingProgress | None = None) -> dict[str, Any]:
        """Run epoch ``epoch`` (1-based): returns ``loss``, ``accuracy`` (over all ranks),
        ``lr`` (at its first step), ``seconds``, ``samples`` and ``step_losses`` (this
        process's mean loss per step, at most :data:`STEP_POINTS` bin means). Raises
        :class:`TrainingDiverged`."""
        config = self.config
        start = time.perf_counter()
        torch.manual_seed(hash((config.seed, epoch, self.dist.rank)) & 0x7FFF_FFFF_FFFF)
        order, offsets = self._draw_epoch()
        steps, batch = self.steps_per_epoch, self.batch
        losses = torch.zeros(steps, device=self.device)
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        first_lr = config.lr * lr_factor(config.schedule, self.step, self.total_steps)
        if progress is not None:
            progress.start(epoch, steps)
        self.model.train()
        checked = 0
        loaded = None
        if self.x_train is None:  # read in the order drawn, decoded by worker processes
            loaded = self.data.batches(
                "train",
                self.train_index[order.cpu()],
                batch,
                epoch=epoch,
                seed=config.seed if config.augment else None,  # None: the test transform
                pin_memory=self.device.type == "cuda",
            )
        for s in range(steps):
            index = order[s * batch : (s + 1) * batch]
            yb = self.y_train[index]
            if loaded is None:
                xb = self.x_train[index]
            else:
                xb = next(loaded)[0].to(self.device, non_blocking=True)
            if offsets is not None:
                xb = random_shift(xb, offsets[index], config.shift)
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

    def _check(self, losses: torch.Tensor, lo: int, hi: int, epoch: int) -> None:
        """Stop at the first non-finite loss in steps ``[lo, hi)`` on any rank."""
        bad = (~torch.isfinite(losses[lo:hi])).nonzero()
        first = torch.tensor([bad[0, 0].item() + lo if len(bad) else hi], device=self.device)
        D.all_reduce(first, self.dist, op="min")
        step = int(first.item())
        if step < hi:
            value = losses[step].item() if step < len(losses) else float("nan")
            global_step = self.step - (hi - step) + 1
            self._diverged(epoch, step + 1, global_step, value)

    def _diverged(self, epoch: int, step: int, global_step: int, loss: float) -> None:
        own = self.folder.has_checkpoint() and not self.replacing
        checkpoint = self.folder.checkpoint if own else None
        error = TrainingDiverged(epoch, step, global_step, loss, checkpoint)
        if self.dist.main and not self.replacing:  # an earlier run's files stay whole
            self.folder.write_metrics(self.metrics("diverged", error=str(error)))
        raise error

    # -- the run -----------------------------------------------------------------------

    def evaluate(self, split: str = "test") -> tuple[torch.Tensor, torch.Tensor]:
        """Sums ``(loss, correct, n)`` and confusion over the ``"test"`` or ``"val"``
        split, each rank taking every ``world_size``-th sample and all-reducing."""
        rank, world = self.dist.rank, self.dist.world_size
        config, data = self.config, self.data
        if split == "test":
            x, y, part, index = getattr(data, "x_test", None), data.y_test, "test", None
        else:
            x, y, part, index = self.x_val, self.y_val, "train", self.val_index
        if x is not None:
            sums, confusion = evaluation_sums(
                self.core,
                x[rank::world],
                y[rank::world],
                data.num_classes,
                config.eval_batch_size,
                self.device,
                self.amp_dtype,
            )
        else:  # this rank's share, read with the test-time transform
            index = torch.arange(len(y)) if index is None else index
            batches = data.batches(part, index[rank::world], config.eval_batch_size)
            sums, confusion = batch_sums(
                self.core, batches, data.num_classes, self.device, self.amp_dtype
            )
        D.all_reduce(sums, self.dist)
        D.all_reduce(confusion, self.dist)
        return sums, confusion

    def metrics(self, status: str, **extra: Any) -> dict[str, Any]:
        """The ``metrics.json`` dict (see :func:`train`)."""
        history = self.history
        last = history[-1] if history else {}
        train_time = sum(r["seconds"] for r in history)
        test = summarize(*self.last_eval) if self.last_eval is not None else {}
        metrics: dict[str, Any] = {
            "status": status,
            "model": self.config.model,
            "data": self.config.data,
            "test_accuracy": test.get("accuracy"),
            "test_loss": test.get("loss"),
            "train_accuracy": last.get("accuracy"),
            "train_loss": last.get("loss"),
            "keep": self.keep,
            "kept_epoch": (self.keeper.epoch if self.keep == "best" else self.epoch) or None,
            "epochs": self.epoch,
            "stopped_early": self.stopped,
            "validation_samples": len(self.y_val),
            "parameters": self.parameters,
            "train_seconds": train_time + sum(r["eval_seconds"] for r in history),
            "samples_per_second": (
                self.samples_per_epoch * len(history) / train_time if train_time else None
            ),
            "seed": self.config.seed,
            "device": str(self.device),
            "threads": torch.get_num_threads(),
            "world_size": self.dist.world_size,
            "run_dir": str(self.run_dir),
            "timings": self.clock.totals(),
            "history": history,
            "step_losses": self.step_losses,
        }
        if self.has_val and self.keeper.epoch:
            metrics["best_val_accuracy"] = self.keeper.accuracy
            metrics["best_val_loss"] = self.keeper.loss
        if test:
            metrics["confusion"] = test["confusion"].tolist()
        metrics.update(extra)
        return metrics

    def run_config(self) -> dict[str, Any]:
        """The ``config.json`` dict (see :func:`anyconv.train.run.run_config`)."""
        return run_config(
            model=self.config.model,
            model_kwargs=self.model_kwargs,
            data_spec=self.config.data,
            data=self.data,
            train=self.config.to_dict(),
            input=self.input_record,
            data_options=self.data_options(),
        )

    def data_options(self) -> dict[str, Any]:
        """What ``evaluate`` and ``predict`` must repeat to see the data as this run did:
        the loader options that decide its splits and transform (not how it was read:
        ``stream``, ``workers``) and the data's own (the transform's mean and std)."""
        options = self.config.data_options()
        options = {k: v for k, v in options.items() if k not in ("stream", "workers")}
        own = self.data.options() if callable(getattr(self.data, "options", None)) else {}
        return {**options, **own}

    def _save(self, status: str, model: bool = True, **extra: Any) -> dict[str, Any]:
        """Rank 0's files after an epoch or at the end: metrics and, with ``model``,
        config and weights (of the kept model)."""
        metrics = self.metrics(status, **extra)
        self.folder.write_metrics(metrics)
        if model:
            kept = self.best_state if self.keep == "best" and self.best_state else None
            self.folder.write_model(self.run_config(), kept or self.core.state_dict())
        return metrics

    def fit(self) -> dict[str, Any]:
        """Train the remaining epochs, writing a checkpoint after each; then test the kept
        model once and return the metrics (see :func:`train`)."""
        try:
            self.folder.check_writable()
            held = self.folder.lock() if self.dist.main else contextlib.nullcontext()
            with held:
                self.open_folder()
                enabled = not self.config.quiet and self.dist.main
                with TrainingProgress(
                    self.epoch_console, enabled, self.config.epochs, self.dist.world_size
                ) as progress:
                    while self.epoch < self.config.epochs and not self.stopped:
                        self._run_epoch(self.epoch + 1, progress)
                return self._finish()
        finally:
            D.teardown(self.dist)

    def _run_epoch(self, epoch: int, progress: TrainingProgress) -> None:
        config = self.config
        with self.clock("train"):
            row = self.train_epoch(epoch, progress)
        start = time.perf_counter()
        split = "val" if self.has_val else "test"
        # Evaluated (and checkpointed) every eval_every epochs and after the last.
        due = epoch % config.eval_every == 0 or epoch == config.epochs
        figures: dict[str, Any] = {"loss": None, "accuracy": None}
        if due:
            with self.clock("evaluate"):
                result = self.evaluate(split)
            figures = summarize(*result)
            if not self.has_val:
                self.last_eval = result  # the last model is kept and was just tested
        self.epoch = epoch
        self.step_losses.append(row.pop("step_losses"))
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
        self.history.append(entry)
        validated = due and self.has_val
        improved = validated and self.keeper.update(epoch, figures["accuracy"], figures["loss"])
        if improved and self.keep == "best":
            self.best_state = {k: v.detach().clone() for k, v in self.core.state_dict().items()}
        self.stopped = validated and self.keeper.should_stop(epoch)
        if self.dist.main and due:
            with self.clock("checkpoint"):
                self.folder.save_checkpoint(self.state_dict())
                if self.replacing:  # the earlier run's checkpoint is gone: its pictures too
                    self.folder.remove_pictures()
                    self.replacing = False
                self._save("running", model=improved or self.keep == "last" or epoch == 1)
        progress.epoch_line({**entry, "samples": row["samples"]})
        if self.stopped:
            self.console.print(
                f"stopping early: no better validation accuracy for {config.patience} "
                f"epochs (best: epoch {self.keeper.epoch}, {self.keeper.accuracy:.2%})",
                highlight=False,
            )

    def _finish(self) -> dict[str, Any]:
        """After the last epoch: the kept model tested once, final files and pictures
        (rank 0); the metrics (every rank)."""
        if self.keep == "best" and self.best_state is not None:
            self.core.load_state_dict(self.best_state)
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
            jobs = history_jobs(
                self.history,
                self.step_losses,
                test["confusion"],
                self.data.class_names,
                title=f"{self.config.model} on {viz.data_label(self.config.data)}",
                test=(self._kept_epoch(), test["loss"], test["accuracy"]),
            )
            trained = f"{self.config.model} trained on {viz.data_label(self.config.data)}"
            jobs.update(viz.network_jobs(self.core, self.data, title=trained))
            pictures = self.folder.write_pictures(jobs)
            self.clock.stop("pictures")
        with self.clock("checkpoint"):
            metrics = self._save("finished", pictures=pictures)
        kept = (
            f"model of epoch {metrics['kept_epoch']}, best validation accuracy "
            f"{self.keeper.accuracy:.2%}; "
            if self.keep == "best" and self.keeper.epoch
            else ""
        )
        self.console.print(
            f"test accuracy {metrics['test_accuracy']:.2%} ({self.config.model} on "
            f"{self.config.data}, {kept}{metrics['epochs']} epochs, "
            f"{metrics['train_seconds']:.1f} s of training); run folder {self.run_dir}",
            highlight=False,
            markup=False,
        )
        return metrics

    def _kept_epoch(self) -> int:
        return self.keeper.epoch if self.keep == "best" and self.keeper.epoch else self.epoch


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
    data: Any = None,
    model: torch.nn.Module | None = None,
    *,
    console: Console | None = None,
) -> dict[str, Any]:
    """Train a model and write its run folder; the Python form of ``anyconv train``.

    Args:
        config: the settings (:class:`TrainConfig`).
        data: a :class:`~anyconv.data.base.Splits` with ``x (N, C, *spatial)`` float and
            ``y (N,)`` int64; default ``load_dataset(config.data, seed=config.data_seed)``.
        model: a module mapping ``(N, C, *spatial)`` to logits ``(N, num_classes)``; default
            ``create_model(config.model, in_channels=C, num_classes=K, input_size=spatial,
            **config.model_kwargs)``. ``load_run`` can rebuild only registered models.
        console: where progress and per-epoch lines go (default: stderr).

    Returns:
        The metrics also written to ``metrics.json``: ``test_accuracy`` and
        ``train_accuracy`` (fractions in [0, 1]), ``test_loss``, ``train_loss``,
        ``epochs``, ``parameters``, ``train_seconds``, ``samples_per_second``,
        ``history`` (a dict per epoch), ``confusion`` (K x K lists), ``run_dir``, ...

    Raises:
        TrainingDiverged: the loss became NaN/inf; the previous checkpoint is kept.

    Launched by ``torchrun --nproc_per_node=N``, each process trains a shard of every
    batch under DistributedDataParallel; rank 0 alone writes files and prints.

    Example:
        >>> from anyconv.data.base import Splits
        >>> x, y = torch.randn(64, 1, 4, 4), torch.arange(64) % 2
        >>> data = Splits(x, y, x, y, num_classes=2, kind="image", name="toy")
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2))
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as out:
        ...     cfg = TrainConfig(model="toy", epochs=1, out=out, quiet=True, pictures=False)
        ...     metrics = train(cfg, data, net)
        >>> metrics["epochs"], metrics["parameters"]
        (1, 34)
    """
    return Trainer(config, data, model, console).fit()
