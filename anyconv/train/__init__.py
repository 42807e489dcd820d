"""Training, evaluation and run folders.

Example:
    >>> import tempfile, torch
    >>> from anyconv.data.base import Splits
    >>> from anyconv.train import TrainConfig, train
    >>> x, y = torch.randn(32, 1, 4, 4), torch.arange(32) % 2
    >>> data = Splits(x, y, x, y, num_classes=2, kind="image", name="toy")
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2))
    >>> with tempfile.TemporaryDirectory() as out:
    ...     m = train(TrainConfig(epochs=2, out=out, quiet=True, pictures=False), data, net)
    >>> len(m["history"])
    2
"""

from anyconv.train.augment import random_shift
from anyconv.train.checkpoint import load_checkpoint
from anyconv.train.config import TrainConfig
from anyconv.train.metrics import evaluate, predict
from anyconv.train.run import RunFolder, load_run
from anyconv.train.schedule import lr_factor
from anyconv.train.trainer import Trainer, TrainingDiverged, train

fit = train

__all__ = [
    "RunFolder",
    "TrainConfig",
    "Trainer",
    "TrainingDiverged",
    "evaluate",
    "fit",
    "load_checkpoint",
    "load_run",
    "lr_factor",
    "predict",
    "random_shift",
    "train",
]
