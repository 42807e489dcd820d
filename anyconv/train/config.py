"""``TrainConfig``: every setting of a training run, validated, and its JSON form."""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anyconv._checks import check_bool, check_int, check_real, fail
from anyconv.data.spec import DataSpec
from anyconv.train.recipes import recipe
from anyconv.train.run import RunFolder

__all__ = ["CHOICES", "DEVICES", "OPTIMIZERS", "SCHEDULES", "TrainConfig"]

OPTIMIZERS = ("adamw", "sgd")
SCHEDULES = ("cosine", "onecycle", "none")
DEVICES = ("auto", "cpu", "cuda")
KEEP = ("best", "last")
CHOICES: dict[str, tuple[str, ...]] = {
    "optimizer": OPTIMIZERS,
    "schedule": SCHEDULES,
    "device": DEVICES,
    "keep": KEEP,
}
OPTIONAL_CHOICES = ("keep",)  # None: decided from the data (see the field's help)
"""The settings limited to a few names, and those names (the CLI's choices too)."""
MAX_SEED = 2**63 - 1  # torch.manual_seed's range
MAX_THREADS = 1024  # torch.set_num_threads per process; beyond any machine's cores


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
    "val_fraction",
    "image_size",
    "flip",
    "crop_scale",
    "test_fraction",
)

DATA_OPTIONS = ("image_size", "flip", "crop_scale", "test_fraction", "stream", "workers")
"""The settings that go to the data loader (:meth:`TrainConfig.data_options`)."""


@dataclass
class TrainConfig:
    """Settings of one training run.

    Attributes:
        model: registered model name (``anyconv models``).
        model_kwargs: extra arguments of the model constructor (``anyconv models`` lists
            each model's); ``in_channels``, ``num_classes`` and ``input_size`` come from
            the data.
        data: dataset spec (``anyconv datasets``): ``digits``, ``idx:DIR``, ...
        data_seed: seed of the dataset split or generation, kept apart from ``seed`` so
            runs with different training seeds are evaluated on the same test set.
        epochs: passes over the training split.
        batch_size: samples per optimiser step, over all processes together.
        lr: peak learning rate.
        optimizer: the optimiser; SGD uses ``momentum``.
        momentum: SGD's momentum (not Nesterov).
        weight_decay: decoupled (AdamW) or L2 (SGD) weight decay.
        schedule: per-step learning rate: cosine (to zero), onecycle (warm-up over 30%
            from lr/25, then cosine down to lr/1e4) or none (constant).
        augment: random shifts of images (and of all frames of a video) by up to
            ``shift`` pixels.
        shift: the largest shift of ``augment``, in pixels.
        seed: seeds weight initialisation, shuffling, augmentation and dropout.
        device: auto (CUDA when available), cpu or cuda.
        amp: mixed precision on CUDA (bfloat16, or float16 with loss scaling); ignored on
            CPU.
        out: run folder; default ``runs/<model>-<data>-<YYYYmmdd-HHMMSS>``.
        resume: continue from the run folder's checkpoint (without ``out``: the newest run
            of this model and data).
        overwrite: replace a run already in ``out``; its files stay as they are until the
            new run has written its first checkpoint.
        force: resume even though the data or the number of processes changed since the
            checkpoint.
        quiet: no progress bar and no per-epoch lines.
        pictures: draw the PNG figures at the end of the run.
        eval_batch_size: samples per forward pass when evaluating.
        val_fraction: share of the training split held out for validation, stratified by
            class and drawn from ``data_seed``; default 0.1 for data sets without a
            validation split of their own (0 in the recipe of fcn and resnet1d on ucr:
            data). 0: none (the test split is then evaluated after every epoch and the
            last model kept).
        keep: the model the run keeps (``model.safetensors``) and tests once at the end:
            best (highest validation accuracy, ties to lower loss) or last; default best
            when there is a validation split.
        patience: stop after this many epochs without a better validation accuracy; 0
            never stops early.
        threads: CPU threads of PyTorch (``torch.set_num_threads``, for the whole
            process); default what torch picks. On a busy machine fewer threads than
            cores can train several times faster.
        eval_every: evaluate (the validation split, or the test split when there is
            none), write the checkpoint and the run's files every this many epochs and
            after the last; epochs in between have no evaluation figures in the history,
            and ``patience`` counts only evaluated epochs. For many short epochs.
        image_size: H or H,W: ``folder:`` images of any size are resized (shorter side)
            and centre-cropped to it for testing, random-resized-cropped for training,
            then normalised per channel by the training split's mean and standard
            deviation (stored in the run for evaluate and predict); default: images as
            they are, all of one size.
        flip: mirror ``folder:`` training images left-right at random.
        crop_scale: smallest area of a random training crop of ``image_size``, as a
            fraction of the image.
        test_fraction: share of each class of a ``folder:`` without a test folder held
            out as its test split, stratified and drawn from ``data_seed``.
        stream: decode ``folder:`` images from disk in every epoch (through ``workers``
            processes) rather than holding them decoded in memory; default: stream when
            they would fill more than a quarter of the free memory.
        workers: processes decoding streamed or transformed images (0: the training
            process itself); default CPUs - 1, at most 4. Does not change the results.

    ``epochs``, ``batch_size``, ``lr``, ``augment``, ``weight_decay`` and ``val_fraction``
    left at ``None`` take the default recipe of the model and data, where it has one
    (:func:`anyconv.train.recipes.recipe`).

    Example:
        >>> TrainConfig(model="lenet5", epochs=2).to_dict()["optimizer"]
        'adamw'
        >>> TrainConfig(model="cnn1d", data="mnist1d").epochs  # the data set's recipe
        30
    """

    model: str = "lenet5"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    data: str = "digits"
    data_seed: int = 0
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    optimizer: str = "adamw"
    momentum: float = 0.9
    weight_decay: float | None = None
    schedule: str = "cosine"
    augment: bool | None = None
    shift: int = 1
    seed: int = 0
    device: str = "auto"
    amp: bool = False
    out: str | None = None
    resume: bool = False
    overwrite: bool = False
    force: bool = False
    quiet: bool = False
    pictures: bool = True
    eval_batch_size: int = 1024
    val_fraction: float | None = None
    keep: str | None = None
    patience: int = 0
    threads: int | None = None
    eval_every: int = 1
    image_size: list[int] | None = None
    flip: bool = False
    crop_scale: float = 0.08
    test_fraction: float = 0.2
    stream: bool | None = None
    workers: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.model, str) and isinstance(self.data, str):
            for key, value in recipe(self.model, self.data).items():
                if getattr(self, key) is None:
                    setattr(self, key, value)
        self.validate()

    @classmethod
    def field_help(cls) -> dict[str, str]:
        """Each field's one-paragraph help, read from this class's docstring (the one
        place it is written; the command line's help comes from here).

        Example:
            >>> TrainConfig.field_help()["shift"]
            'the largest shift of ``augment``, in pixels.'
        """
        doc = inspect.getdoc(cls) or ""
        section = doc.split("Attributes:\n", 1)[1].split("\n\n", 1)[0]
        helps: dict[str, str] = {}
        name = ""
        for line in section.splitlines():
            match = re.match(r"    (\w+): (.*)", line)
            if match:
                name = match[1]
                helps[name] = match[2]
            elif name:
                helps[name] += " " + line.strip()
        return helps

    def validate(self) -> None:
        """Raise ``ValueError``/``TypeError`` naming the first bad setting."""
        func = "TrainConfig"
        for name in ("model", "data"):
            if not isinstance(getattr(self, name), str):
                raise fail(func, name, "a string", getattr(self, name), TypeError)
        if self.threads is not None:
            check_int(self.threads, "threads", func, minimum=1, maximum=MAX_THREADS, note="or None")
        check_int(self.patience, "patience", func, minimum=0, note="0: never stop early")
        if self.val_fraction is not None:
            check_real(self.val_fraction, "val_fraction", func, minimum=0, below=1)
        for name in ("epochs", "batch_size", "eval_batch_size", "eval_every"):
            check_int(getattr(self, name), name, func, minimum=1)
        for name in ("seed", "data_seed"):
            check_int(
                getattr(self, name), name, func, minimum=0, maximum=MAX_SEED, note="2**63 - 1"
            )
        check_int(self.shift, "shift", func, minimum=0)
        for name in ("lr", "momentum", "weight_decay"):
            check_real(getattr(self, name), name, func, minimum=0, below=math.inf)
        for name in ("augment", "amp", "resume", "overwrite", "force", "quiet", "pictures", "flip"):
            check_bool(getattr(self, name), name, func)
        for name, allowed in CHOICES.items():
            if getattr(self, name) is None and name in OPTIONAL_CHOICES:
                continue
            if getattr(self, name) not in allowed:
                raise fail(
                    func, name, "one of " + ", ".join(map(repr, allowed)), getattr(self, name)
                )
        if self.out is not None and not isinstance(self.out, str | Path):
            raise fail(func, "out", "a folder path or None", self.out, TypeError)
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

    def _validate_data_options(self) -> None:
        from anyconv.data.transforms import image_size

        func = "TrainConfig"
        size = image_size(self.image_size, func)
        self.image_size = list(size) if size else None  # JSON keeps lists: resume compares
        if check_real(self.crop_scale, "crop_scale", func, above=0) > 1:
            raise fail(func, "crop_scale", "a fraction 0 < f <= 1", self.crop_scale)
        check_real(self.test_fraction, "test_fraction", func, above=0, below=1)
        if self.stream is not None:
            check_bool(self.stream, "stream", func)
        if self.workers is not None:
            check_int(self.workers, "workers", func, minimum=0)

    def data_options(self) -> dict[str, Any]:
        """The keyword arguments of :func:`anyconv.data.load_dataset` for ``data``: each
        :data:`DATA_OPTIONS` setting its loader takes, and any other one set to a value
        other than its default (which the loader then refuses, naming it).

        Example:
            >>> TrainConfig(data="digits").data_options()
            {}
            >>> TrainConfig(data="folder:photos", image_size=32).data_options()["image_size"]
            [32, 32]
        """
        from anyconv.data.base import loader_options

        taken = loader_options(self.data)
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        options = {
            name: getattr(self, name)
            for name in DATA_OPTIONS
            if name in taken or getattr(self, name) != defaults[name]
        }
        return {k: v for k, v in options.items() if v is not None}

    @property
    def data_spec(self) -> DataSpec:
        """``data`` parsed (:class:`~anyconv.data.DataSpec`).

        Example:
            >>> TrainConfig(data="idx:/data/mnist").data_spec.label
            'idx:mnist'
        """
        return DataSpec.parse(self.data, "TrainConfig", "data")

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
        """``out``, or a new run's default ``runs/<model>-<data>-<YYYYmmdd-HHMMSS>``
        (:meth:`RunFolder.default_path <anyconv.train.run.RunFolder.default_path>`)."""
        if self.out is not None:
            return Path(self.out)
        return RunFolder.default_path(self.model, self.data)
