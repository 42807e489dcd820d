"""The validation split, and which epoch was best.

The validation split is held out of the training split, stratified by class and drawn
from ``data_seed`` (so runs of different training seeds share it); the test split is
touched once, at the end, by the kept model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from anyconv.data.holdout import stratified_split

__all__ = ["BestEpoch", "stratified_split"]


@dataclass
class BestEpoch:
    """Tracks the best epoch by validation accuracy (ties: lower validation loss) and
    when to stop early.

    Attributes:
        patience: epochs without a better one before stopping; 0 never stops.
        epoch: the best epoch so far (0: none yet).
        accuracy, loss: its validation figures.

    Example:
        >>> best = BestEpoch(patience=2)
        >>> [best.update(e, acc, 1.0) for e, acc in [(1, 0.5), (2, 0.7), (3, 0.6), (4, 0.7)]]
        [True, True, False, False]
        >>> best.epoch, best.should_stop(4)
        (2, True)
    """

    patience: int = 0
    epoch: int = 0
    accuracy: float = -1.0
    loss: float = float("inf")

    def update(self, epoch: int, accuracy: float, loss: float) -> bool:
        """Record an epoch's validation figures; True when it is the new best."""
        better = accuracy > self.accuracy or (accuracy == self.accuracy and loss < self.loss)
        if better:
            self.epoch, self.accuracy, self.loss = epoch, accuracy, loss
        return better

    def should_stop(self, epoch: int) -> bool:
        """Whether ``patience`` epochs have passed since the best one."""
        return self.patience > 0 and epoch - self.epoch >= self.patience

    def state(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "accuracy": self.accuracy, "loss": self.loss}

    def load(self, state: dict[str, Any]) -> None:
        self.epoch = int(state["epoch"])
        self.accuracy, self.loss = float(state["accuracy"]), float(state["loss"])
