"""The training loop: in-memory tensors, a seeded permutation per epoch, no DataLoader.

Reproducibility and resumption rest on three rules:

- every random choice of an epoch (permutation, shift offsets) is drawn at the epoch's
  start from one ``torch.Generator``, whose state after the draw is what the epoch-end
  checkpoint stores -- so a resumed run redraws exactly the epoch it lost;
- the global torch RNG (dropout) is reseeded at each epoch start from
  ``(seed, epoch, rank)``, so it needs no state from a killed process;
- the learning rate is a pure function of the step counter (``schedule.lr_factor``).

A run killed mid-epoch and resumed restarts that epoch from its beginning and ends with
bitwise the same weights as an uninterrupted run on the same device and thread count.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from anyconv.train import distributed as D
from anyconv.train.augment import random_shift
from anyconv.train.checkpoint import (
    CHECKPOINT,
    FORMAT_VERSION,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from anyconv.train.config import RESUME_KEYS, TrainConfig, data_slug
from anyconv.train.metrics import autocast, batch_sums, evaluation_sums, summarize
from anyconv.train.run import finish_run, write_progress
from anyconv.train.schedule import lr_factor

CHECK_EVERY = 16  # steps between loss checks / progress updates: one device sync each


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


def _mixed_precision(
    config: TrainConfig, device: torch.device
) -> tuple[torch.dtype | None, torch.amp.GradScaler | None]:
    if not config.amp or device.type != "cuda":
        return None, None
    if torch.cuda.is_bf16_supported():
        return torch.bfloat16, None  # bfloat16 has float32's range: no loss scaling needed
    return torch.float16, torch.amp.GradScaler("cuda")


def _find_previous_run(config: TrainConfig) -> Path | None:
    """For ``resume`` without ``out``: the newest default-named run of this model and data."""
    found = sorted(Path("runs").glob(f"{config.model}-{data_slug(config.data)}-*/{CHECKPOINT}"))
    return found[-1].parent if found else None


class Trainer:
    """One training run; ``Trainer(config, data, model).fit()`` is :func:`train`.

    ``train_epoch`` alone runs one epoch without evaluation or files, which is what the
    overhead benchmark times against a plain PyTorch loop.
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
        self.dist, self.device = D.setup(config.device)
        try:
            self._build(data, model, console)
        except BaseException:
            D.teardown(self.dist)
            raise

    def _build(self, data: Any, model: torch.nn.Module | None, console: Console | None) -> None:
        config, device = self.config, self.device
        if data is None:
            from anyconv.data import load_dataset

            data = load_dataset(config.data, seed=config.data_seed, **config.data_options())
        from anyconv.data import check_trainable  # [h-data] refuse a one-class training split

        check_trainable(data)
        self.data = data
        self.model_kwargs = {
            **config.model_kwargs,
            "in_channels": data.input_shape[0],
            "num_classes": data.num_classes,
            "input_size": tuple(data.input_shape[1:]),
        }
        torch.manual_seed(config.seed)  # weight initialisation
        if model is None:
            from anyconv.models import create_model

            model = create_model(config.model, **self.model_kwargs)
        self.core = model.to(device)
        self.parameters = sum(p.numel() for p in self.core.parameters())
        self.model = self.core
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel

            self.model = DistributedDataParallel(
                self.core, device_ids=[device.index] if device.type == "cuda" else None
            )
        params = [p for p in self.core.parameters() if p.requires_grad]
        if config.optimizer == "adamw":
            self.optimizer: torch.optim.Optimizer = torch.optim.AdamW(
                params, lr=config.lr, weight_decay=config.weight_decay
            )
        else:
            self.optimizer = torch.optim.SGD(
                params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
            )
        self.amp_dtype, self.scaler = _mixed_precision(config, device)
        self.generator = torch.Generator().manual_seed(config.seed)

        # [h-data] tensors live on the device; other data (streamed or transformed image
        # folders) is read in batches through data.batches(), decoded by worker processes.
        self.in_memory = hasattr(data, "x_train")
        self.x_train = data.x_train.to(device) if self.in_memory else None
        self.y_train = data.y_train.to(device)
        self.augment = (
            config.augment
            and config.shift > 0
            and data.kind in ("image", "video")
            and not getattr(data, "augments", False)  # [h-data] it crops at random itself
        )
        self.batch = max(1, config.batch_size // self.dist.world_size)  # per process
        shard_size = len(D.shard(torch.arange(len(self.y_train)), self.dist))
        self.steps_per_epoch = math.ceil(shard_size / self.batch)
        self.samples_per_epoch = shard_size * self.dist.world_size
        self.total_steps = self.steps_per_epoch * config.epochs
        self.step = 0
        self.epoch = 0
        self.history: list[dict[str, Any]] = []
        self.last_eval: tuple[torch.Tensor, torch.Tensor] | None = None

        out = config.out
        if out is None and config.resume:
            previous = _find_previous_run(config)
            out = str(previous) if previous else None
        self.run_dir = Path(out) if out is not None else config.run_dir()
        self.console = console or Console(stderr=True, quiet=config.quiet or not self.dist.main)
        if config.resume and (self.run_dir / CHECKPOINT).exists():
            self._resume(self.run_dir / CHECKPOINT)

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
            "config": self.config.to_dict(),
            "world_size": self.dist.world_size,
        }

    def _resume(self, path: Path) -> None:
        state = load_checkpoint(path)
        saved = state["config"]
        changed = [k for k in RESUME_KEYS if saved.get(k) != self.config.to_dict()[k]]
        if changed:
            raise ValueError(
                f"cannot resume {path}: the run was started with different "
                + ", ".join(
                    f"{k} ({saved.get(k)!r}, now {getattr(self.config, k)!r})" for k in changed
                )
            )
        self.core.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scaler and state["scaler"]:
            self.scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"], self.generator)
        self.epoch, self.step, self.history = state["epoch"], state["step"], state["history"]
        self.console.print(f"resuming {path} after epoch {self.epoch}")

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

    def train_epoch(self, epoch: int, progress: Progress | None = None) -> dict[str, float]:
        """Run epoch ``epoch`` (1-based): returns ``loss``, ``accuracy`` (over all ranks),
        ``lr`` (at its first step) and ``seconds``. Raises :class:`TrainingDiverged`."""
        config, model, opt = self.config, self.model, self.optimizer
        start = time.perf_counter()
        torch.manual_seed(hash((config.seed, epoch, self.dist.rank)) & 0x7FFF_FFFF_FFFF)
        order, offsets = self._draw_epoch()
        steps, batch = self.steps_per_epoch, self.batch
        losses = torch.zeros(steps, device=self.device)
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        first_lr = config.lr * lr_factor(config.schedule, self.step, self.total_steps)
        task = (
            progress.add_task(
                f"epoch {epoch}/{config.epochs}", total=steps, loss=0.0, acc=0.0, sps=0.0
            )
            if progress
            else None
        )
        model.train()
        checked = 0
        loaded = None  # [h-data] batches of streamed / transformed data, in the order drawn
        if not self.in_memory:
            loaded = self.data.batches(
                "train",
                order.cpu(),
                batch,
                epoch=epoch,
                seed=config.seed if config.augment else None,
                pin_memory=self.device.type == "cuda",
            )
        for s in range(steps):
            index = order[s * batch : (s + 1) * batch]
            if loaded is None:
                xb, yb = self.x_train[index], self.y_train[index]
            else:
                xb, yb = (t.to(self.device, non_blocking=True) for t in next(loaded))
            if offsets is not None:
                xb = random_shift(xb, offsets[index], config.shift)
            lr = config.lr * lr_factor(config.schedule, self.step, self.total_steps)
            for group in opt.param_groups:
                group["lr"] = lr
            with autocast(self.device, self.amp_dtype):
                logits = model(xb)
            loss = F.cross_entropy(logits.float(), yb)
            opt.zero_grad(set_to_none=True)
            if self.scaler:
                self.scaler.scale(loss).backward()
                self.scaler.step(opt)
                self.scaler.update()
            else:
                loss.backward()
                opt.step()
            self.step += 1
            losses[s] = loss.detach() * len(yb)
            correct += (logits.detach().argmax(1) == yb).sum()
            if (s + 1) % CHECK_EVERY == 0 or s + 1 == steps:
                self._check(losses, checked, s + 1, epoch)
                checked = s + 1
                if progress is not None and task is not None:
                    done = min((s + 1) * batch, len(order))
                    loss_sum, hits = losses[: s + 1].sum().item(), correct.item()
                    progress.update(
                        task,
                        completed=s + 1,
                        loss=loss_sum / done,
                        acc=hits / done,
                        sps=done * self.dist.world_size / (time.perf_counter() - start),
                    )
        totals = torch.stack(
            [
                losses.sum().double(),
                correct.double(),
                torch.tensor(float(len(order)), device=self.device).double(),
            ]
        )
        D.all_reduce(totals, self.dist)
        loss_sum, hits, n = totals.tolist()
        if progress is not None and task is not None:
            progress.remove_task(task)
        return {
            "loss": loss_sum / n,
            "accuracy": hits / n,
            "lr": first_lr,
            "seconds": time.perf_counter() - start,
            "samples": n,
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
        checkpoint = self.run_dir / CHECKPOINT
        checkpoint = checkpoint if checkpoint.exists() else None
        error = TrainingDiverged(epoch, step, global_step, loss, checkpoint)
        if self.dist.main:
            write_progress(self, status="diverged", error=str(error))
        raise error

    # -- the run -----------------------------------------------------------------------

    def evaluate(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Sums ``(loss, correct, n)`` and confusion over the test split, each rank taking
        every ``world_size``-th sample and all-reducing."""
        rank, world = self.dist.rank, self.dist.world_size
        if self.in_memory:
            sums, confusion = evaluation_sums(
                self.core,
                self.data.x_test[rank::world],
                self.data.y_test[rank::world],
                self.data.num_classes,
                self.config.eval_batch_size,
                self.device,
                self.amp_dtype,
            )
        else:  # [h-data] streamed / transformed test images, this rank's share
            mine = torch.arange(len(self.data.y_test))[rank::world]
            batches = self.data.batches("test", mine, self.config.eval_batch_size)
            sums, confusion = batch_sums(
                self.core, batches, self.data.num_classes, self.device, self.amp_dtype
            )
        D.all_reduce(sums, self.dist)
        D.all_reduce(confusion, self.dist)
        return sums, confusion

    def _progress(self) -> Progress:
        console = self.console
        enabled = console.is_terminal and not self.config.quiet and self.dist.main
        return Progress(
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
            disable=not enabled,
        )

    def fit(self) -> dict[str, Any]:
        """Train the remaining epochs, writing a checkpoint after each; return the metrics
        (see :func:`train`)."""
        try:
            with self._progress() as progress:
                while self.epoch < self.config.epochs:
                    self._run_epoch(self.epoch + 1, progress)
            return finish_run(self)
        finally:
            D.teardown(self.dist)

    def _run_epoch(self, epoch: int, progress: Progress) -> None:
        row = self.train_epoch(epoch, progress)
        start = time.perf_counter()
        # [h-data] every eval_every epochs and after the last: evaluate, checkpoint, write
        due = epoch % self.config.eval_every == 0 or epoch == self.config.epochs
        test = {"loss": None, "accuracy": None}
        if due:
            self.last_eval = self.evaluate()
            test = summarize(*self.last_eval)
        self.epoch = epoch
        self.history.append(
            {
                "epoch": epoch,
                "loss": row["loss"],
                "accuracy": row["accuracy"],
                "test_loss": test["loss"],
                "test_accuracy": test["accuracy"],
                "lr": row["lr"],
                "seconds": row["seconds"],
                "eval_seconds": time.perf_counter() - start,
            }
        )
        if self.dist.main and due:
            save_checkpoint(self.run_dir / CHECKPOINT, self.state_dict())
            write_progress(self, status="running")
        speed = row["samples"] / row["seconds"]
        tested = f"test_loss {test['loss']:.4f}  test_acc {test['accuracy']:.2%}  " if due else ""
        self.console.print(
            f"epoch {epoch}/{self.config.epochs}  loss {row['loss']:.4f}  "
            f"acc {row['accuracy']:.2%}  {tested}lr {row['lr']:.2e}  "
            f"{speed:,.0f} samples/s  {row['seconds']:.1f}s",
            highlight=False,
            soft_wrap=True,
        )


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
