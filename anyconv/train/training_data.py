"""The data of one training run as the loop reads it: the validation split, where the
samples live, and each epoch's random draws and batches.

In-memory data is placed on the device once and sliced by a seeded permutation per
epoch, with no ``DataLoader`` overhead; data read sample by sample (streamed or
transformed image folders) is read through its :meth:`~anyconv.data.Dataset.batches` in
the order drawn, decoded by worker processes. Either way the epoch's random choices are
drawn up front from the run's generator, so that a resumed run redraws exactly the epoch
it lost.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Iterator
from typing import Any

import torch

from anyconv._checks import fail
from anyconv.data.base import Dataset
from anyconv.train import distributed as D
from anyconv.train.augment import random_shift
from anyconv.train.config import TrainConfig
from anyconv.train.inputs import input_record
from anyconv.train.validation import stratified_split

INPUT_SAMPLES = 512  # training inputs of streamed data that config.json's input record sums


class TrainingData:
    """A :class:`~anyconv.data.Dataset` split and placed for training.

    The validation split is held out of the training split (``config.val_fraction``,
    stratified, drawn from ``config.data_seed``) and read with the test-time transform.

    Args:
        data: the data set.
        config: the run's settings (validation fraction, batch size, shifts, seeds).
        dist: the process group (:func:`anyconv.train.distributed.setup`).
        device: where the model trains; in-memory training tensors are moved there.

    Attributes:
        data: the data set.
        train_index, val_index: indices into its training split: what is trained on and
            what validates.
        x_train: the training inputs on ``device`` when held in memory, else None.
        y_train: their labels on ``device``.
        x_val, y_val: the validation inputs (None when read in batches) and labels.
        augment: whether the loop shifts the images at random.
        batch: samples per step and process.
        steps_per_epoch, samples_per_epoch: the step plan (over all processes).

    Example:
        >>> from anyconv.data import Splits
        >>> x, y = torch.zeros(20, 1, 4, 4), torch.arange(20) % 2
        >>> config = TrainConfig(model="toy", batch_size=8, val_fraction=0.2)
        >>> feed = TrainingData(Splits(x, y, x, y, 2, "image", "toy"), config,
        ...                     D.setup("cpu")[0], torch.device("cpu"))
        >>> len(feed.y_train), len(feed.y_val), feed.steps_per_epoch
        (16, 4, 2)
    """

    def __init__(
        self, data: Dataset, config: TrainConfig, dist: D.Dist, device: torch.device
    ) -> None:
        self.data, self.config, self.dist, self.device = data, config, dist, device
        tensors = data.tensors("train")  # None: read through data.batches
        y_train = data.labels("train")
        fraction = 0.1 if config.val_fraction is None else config.val_fraction
        keep, held = stratified_split(y_train, fraction, config.data_seed)
        self.train_index, self.val_index = keep, held
        self.x_val = tensors[0][held] if tensors is not None else None
        self.y_val = y_train[held]
        subset = len(held) > 0  # else the whole split, uncopied
        self.x_train = None
        if tensors is not None:
            self.x_train = (tensors[0][keep] if subset else tensors[0]).to(device)
        self.y_train = (y_train[keep] if subset else y_train).to(device)
        self.augment = (
            config.augment
            and config.shift > 0
            and data.kind in ("image", "video")
            and not data.augments  # it crops at random itself
        )
        size = tuple(data.input_shape[-2:])
        if min(size) == 1:  # no shift of an image one pixel high or wide leaves it visible
            self.augment = False
        if self.augment and config.shift >= min(size):  # would pad the batch by `shift`
            raise fail(
                "train",
                "shift",
                f"smaller than the images' height and width {size} (a shift of the whole "
                "image leaves nothing to see)",
                config.shift,
            )
        self.batch = max(1, config.batch_size // dist.world_size)  # per process
        shard_size = len(D.shard(torch.arange(len(self.y_train)), dist))
        self.steps_per_epoch = math.ceil(shard_size / self.batch)
        self.samples_per_epoch = shard_size * dist.world_size

    @property
    def has_val(self) -> bool:
        """Whether there is a validation split."""
        return len(self.y_val) > 0

    def draw(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The epoch's random choices, all drawn up front from ``generator``: this
        process's share of the permutation (the same on every rank, then sharded), on the
        device, and the shift offsets ``(n, 2)`` when the loop shifts (else None)."""
        n = len(self.y_train)
        order = torch.randperm(n, generator=generator)
        offsets = None
        if self.augment:
            offsets = torch.randint(0, 2 * self.config.shift + 1, (n, 2), generator=generator).to(
                self.device
            )
        return D.shard(order, self.dist).to(self.device), offsets

    def batches(
        self, order: torch.Tensor, offsets: torch.Tensor | None, epoch: int
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The epoch's ``(x, y)`` training batches on the device, in the order drawn
        (:meth:`draw`), shifted by ``offsets``."""
        config, batch = self.config, self.batch
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
        for s in range(self.steps_per_epoch):
            index = order[s * batch : (s + 1) * batch]
            yb = self.y_train[index]
            if loaded is None:
                xb = self.x_train[index]
            else:
                xb = next(loaded)[0].to(self.device, non_blocking=True)
            if offsets is not None:
                xb = random_shift(xb, offsets[index], config.shift)
            yield xb, yb

    def evaluation_batches(
        self, split: str, batch_size: int
    ) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
        """This process's share (every ``world_size``-th sample) of the ``"test"`` or
        ``"val"`` split in ``(x, y)`` batches, read with the test-time transform."""
        rank, world = self.dist.rank, self.dist.world_size
        if split == "test":
            x, y = self.data.tensors("test") or (None, self.data.labels("test"))
            part, index = "test", torch.arange(len(y))
        else:
            x, y, part, index = self.x_val, self.y_val, "train", self.val_index
        if x is None:
            return self.data.batches(part, index[rank::world], batch_size)
        x, y = x[rank::world], y[rank::world]
        return (
            (x[start : start + batch_size], y[start : start + batch_size])
            for start in range(0, len(x), batch_size)
        )

    @functools.cached_property
    def input_record(self) -> dict[str, Any]:
        """``config.json``'s ``input``: the data's normalisation and the range of the
        training inputs (of up to :data:`INPUT_SAMPLES` of them, evenly spread, when they
        are read through ``data.batches``)."""
        normalization = self.data.normalization
        if self.x_train is not None:
            return input_record(self.x_train, normalization)
        index = self.train_index
        index = index[:: max(1, len(index) // INPUT_SAMPLES)][:INPUT_SAMPLES]
        batches = self.data.batches("train", index, self.config.eval_batch_size)
        return input_record(torch.cat([x for x, _ in batches]), normalization)

    @functools.cached_property
    def fingerprint(self) -> dict[str, Any]:
        """The data's fingerprint, stored in each checkpoint (computed once, when first
        needed)."""
        return self.data.fingerprint()
