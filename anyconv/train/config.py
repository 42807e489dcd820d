"""``TrainConfig``: every setting of a training run, validated, and its JSON form."""

from __future__ import annotations

import dataclasses
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anyconv._spec import check_bool, check_int, check_real, fail, positive_int

OPTIMIZERS = ("adamw", "sgd")
SCHEDULES = ("cosine", "onecycle", "none")
DEVICES = ("auto", "cpu", "cuda")

# Changing any of these between a run and its resumption would silently train a different
# model, so resuming refuses; ``epochs`` may grow (the schedule then stretches).
RESUME_KEYS = (
    "model",
    "model_kwargs",
    "data",
    "data_seed",
    "batch_size",
    "lr",
    "optimizer",
    "momentum",
    "weight_decay",
    "schedule",
    "augment",
    "shift",
    "seed",
    "image_size",  # [h-data] data options that change what is trained on
    "flip",
    "crop_scale",
    "val_fraction",
)


@dataclass
class TrainConfig:
    """Settings of one training run.

    Attributes:
        model: registered model name (``anyconv.models.list_models()``).
        model_kwargs: extra arguments of the model constructor; ``in_channels``,
            ``num_classes`` and ``input_size`` are filled in from the data.
        data: dataset spec for :func:`anyconv.data.load_dataset` (``"digits"``, ``"idx:DIR"``).
        data_seed: seed of the dataset split / generation, kept apart from ``seed`` so runs
            with different training seeds are evaluated on the same test set.
        epochs: passes over the training split.
        batch_size: samples per optimiser step, over all processes together.
        lr: peak learning rate.
        optimizer: ``"adamw"`` or ``"sgd"`` (Nesterov-free momentum ``momentum``).
        weight_decay: decoupled (AdamW) or L2 (SGD) weight decay.
        schedule: per-step learning-rate schedule: ``"cosine"`` (to zero), ``"onecycle"``
            (warm-up 30% from lr/25, cosine down to lr/1e4) or ``"none"``.
        augment: random shifts of images (and video frames) by up to ``shift`` pixels.
        seed: seeds weight initialisation, shuffling, augmentation and dropout.
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
        amp: mixed precision (bfloat16, or float16 with loss scaling) on CUDA; ignored on CPU.
        out: run folder; default ``runs/<model>-<data>-<YYYYmmdd-HHMMSS>``.
        resume: continue from ``out/checkpoint.pt`` when it exists.
        quiet: no progress bar and no per-epoch lines.
        pictures: write the PNG figures at the end of the run.
        eval_batch_size: batch size of the evaluation passes.
        image_size: ``[H, W]`` (or ``H``) that ``folder:`` images are resized and cropped
            to (random-resized crops for training), then normalised per channel by the
            training set's mean and standard deviation; None: images as they are.
        flip: mirror ``folder:`` training images left-right at random.
        crop_scale: smallest area of a random training crop, as a fraction of the image.
        val_fraction: fraction of each class held out as the test split of a ``folder:``
            without a test folder (default 0.2).
        stream: decode ``folder:`` images from disk in every epoch (True), hold them in
            memory (False), or decide by their size (None).
        workers: processes decoding streamed or transformed images (None: CPUs - 1, at
            most 4; 0: the training process itself). Does not change the results.
        eval_every: evaluate the test split, write the checkpoint and the run's files
            every this many epochs, and after the last (1: every epoch). Epochs in between
            have no test figures in the history.

    Example:
        >>> TrainConfig(model="lenet5", epochs=2).to_dict()["optimizer"]
        'adamw'
    """

    model: str = "lenet5"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    data: str = "digits"
    data_seed: int = 0
    epochs: int = 50
    batch_size: int = 64
    lr: float = 5e-3
    optimizer: str = "adamw"
    momentum: float = 0.9
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    augment: bool = True
    shift: int = 1
    seed: int = 0
    device: str = "auto"
    amp: bool = False
    out: str | None = None
    resume: bool = False
    quiet: bool = False
    pictures: bool = True
    eval_batch_size: int = 1024
    # [h-data] data options, passed to load_dataset by data_options()
    image_size: list[int] | None = None
    flip: bool = False
    crop_scale: float = 0.08
    val_fraction: float | None = None
    stream: bool | None = None
    workers: int | None = None
    eval_every: int = 1  # [h-data] for many short epochs (ucr: data)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError``/``TypeError`` naming the first bad setting."""
        func = "TrainConfig"
        for name in ("epochs", "batch_size", "eval_batch_size", "eval_every"):
            positive_int(getattr(self, name), name, func)
        check_int(self.shift, "shift", func, minimum=0)
        for name in ("lr", "momentum", "weight_decay"):
            check_real(getattr(self, name), name, func, minimum=0)
        for name, allowed in (
            ("optimizer", OPTIMIZERS),
            ("schedule", SCHEDULES),
            ("device", DEVICES),
        ):
            if getattr(self, name) not in allowed:
                raise fail(
                    func, name, "one of " + ", ".join(map(repr, allowed)), getattr(self, name)
                )
        if not isinstance(self.model_kwargs, dict):
            raise fail(func, "model_kwargs", "a dict", self.model_kwargs, TypeError)
        self._validate_data_options()
        reserved = {"in_channels", "num_classes", "input_size"} & set(self.model_kwargs)
        if reserved:
            raise fail(
                func,
                "model_kwargs",
                "free of in_channels/num_classes/input_size (they come from the data)",
                self.model_kwargs,
            )

    def _validate_data_options(self) -> None:  # [h-data]
        from anyconv.data.transforms import image_size

        func = "TrainConfig"
        size = image_size(self.image_size, func)
        self.image_size = list(size) if size else None  # JSON keeps lists: resume compares
        check_bool(self.flip, "flip", func)
        if check_real(self.crop_scale, "crop_scale", func, above=0) > 1:
            raise fail(func, "crop_scale", "a fraction 0 < f <= 1", self.crop_scale)
        if self.val_fraction is not None:
            check_real(self.val_fraction, "val_fraction", func, above=0, below=1)
        if self.stream not in (None, True, False):
            raise fail(func, "stream", "True, False or None", self.stream, TypeError)
        if self.workers is not None:
            check_int(self.workers, "workers", func, minimum=0)

    def data_options(self) -> dict[str, Any]:  # [h-data]
        """The keyword arguments of :func:`anyconv.data.load_dataset` that these settings
        ask for: only those that differ from the defaults, so that a loader without them
        (``digits``) is not refused for options that were never set."""
        options = {
            "image_size": self.image_size,
            "flip": True if self.flip else None,  # False is every loader's default
            "crop_scale": self.crop_scale if self.crop_scale != 0.08 else None,
            "val_fraction": self.val_fraction,
            "stream": self.stream,
            "workers": self.workers,
        }
        return {k: v for k, v in options.items() if v is not None}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (only primitives and containers of them)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error naming them."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise fail(
                "TrainConfig.from_dict", "values", "keys among " + ", ".join(sorted(known)), unknown
            )
        return cls(**values)

    def run_dir(self) -> Path:
        """``out``, or the default ``runs/<model>-<data>-<YYYYmmdd-HHMMSS>``."""
        if self.out is not None:
            return Path(self.out)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        return Path("runs") / f"{self.model}-{data_slug(self.data)}-{stamp}"


def data_slug(spec: str) -> str:
    """A file-name-safe short form of a data spec: ``"idx:../data/mnist"`` -> ``"idx-mnist"``."""
    name, _, argument = spec.partition(":")
    if argument:
        name = f"{name}-{Path(argument.rstrip('/')).name}"
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "data"
