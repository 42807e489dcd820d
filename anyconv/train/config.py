"""``TrainConfig``: every setting of a training run, validated, and its JSON form."""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field
from pathlib import Path
from typing import Any

from anyconv._checks import check_bool, check_int, check_real, fail
from anyconv.data.spec import DataSpec
from anyconv.train.recipes import fallback_keys, recipe
from anyconv.train.run import RunFolder

__all__ = [
    "CHOICES",
    "DATA_OPTIONS",
    "DATA_VIEW_OPTIONS",
    "DEVICES",
    "OPTIMIZERS",
    "RESUME_KEYS",
    "SCHEDULES",
    "Setting",
    "TrainConfig",
    "setting_facts",
]

OPTIMIZERS = ("adamw", "sgd")
SCHEDULES = ("cosine", "onecycle", "none")
DEVICES = ("auto", "cpu", "cuda")
KEEP = ("best", "last")
LENGTH_RULES = ("pad", "truncate")  # anyconv.data.ucr.LENGTH_RULES (the loader checks too)
MAX_SEED = 2**63 - 1  # torch.manual_seed's range
MAX_THREADS = 1024  # torch.set_num_threads per process; beyond any machine's cores
MAX_ENSEMBLE = 100  # members of an ensemble, each a full training run
FUNC = "TrainConfig"

Check = Callable[[Any, str], None]


@dataclass(frozen=True)
class Setting:
    """What anyconv knows of one :class:`TrainConfig` field, written beside it (the field's
    ``metadata["setting"]``); the lists of settings that the resumption check, the data
    loader and the command line use are derived from these.

    Attributes:
        resume: a run and its resumption must agree on it (changing it would silently
            train another model), so resuming refuses a change. Every field says.
        data: ``"view"`` for a loader option that decides which samples there are and how
            they look (splits, transform: ``evaluate`` and ``predict`` repeat it);
            ``"read"`` for one that decides only how they are read (``stream``,
            ``workers``); None for a setting of the training itself.
        flag: whether ``anyconv train`` has an option ``--NAME`` for it (``model`` is the
            positional argument, ``model_kwargs`` the repeatable ``-o NAME=VALUE``).
        aliases: more names of the option (``--plots`` for ``--pictures``).
        off: one more name of a switch's ``--no-NAME`` (``--in-memory``).
        choices: the names it is limited to (the command line's choices too).
        check: ``check(value, name)`` raises anyconv's error for a bad value.
    """

    resume: bool
    data: str | None = None
    flag: bool = True
    aliases: tuple[str, ...] = ()
    off: str | None = None
    choices: tuple[str, ...] | None = None
    check: Check | None = None


def setting(default: Any = MISSING, *, factory: Any = MISSING, resume: bool, **facts: Any) -> Any:
    """A :class:`TrainConfig` field with its :class:`Setting` (``resume`` must be decided)."""
    meta = {"setting": Setting(resume=resume, **facts)}
    return field(default=default, default_factory=factory, metadata=meta)


def _optional(check: Check) -> Check:
    return lambda value, name: None if value is None else check(value, name)


def _int(**bounds: Any) -> Check:
    return lambda value, name: check_int(value, name, FUNC, **bounds)


def _real(**bounds: Any) -> Check:
    return lambda value, name: check_real(value, name, FUNC, **bounds)


def _bool(value: Any, name: str) -> None:
    check_bool(value, name, FUNC)


def _string(value: Any, name: str) -> None:
    if not isinstance(value, str):
        raise fail(FUNC, name, "a string", value, TypeError)


def _choice(options: tuple[str, ...]) -> Check:
    def check(value: Any, name: str) -> None:
        if value not in options:
            raise fail(FUNC, name, "one of " + ", ".join(map(repr, options)), value)

    return check


def _model_kwargs(value: Any, name: str) -> None:
    if not isinstance(value, dict):
        raise fail(FUNC, name, "a dict", value, TypeError)
    if {"in_channels", "num_classes", "input_size"} & set(value):
        raise fail(
            FUNC,
            name,
            "free of in_channels/num_classes/input_size (they come from the data)",
            value,
        )


def _out(value: Any, name: str) -> None:
    if value is not None and not isinstance(value, str | Path):
        raise fail(FUNC, name, "a folder path or None", value, TypeError)


def _workers(value: Any, name: str) -> None:
    from anyconv.data.batches import check_workers

    check_workers(value, FUNC)


def _crop_scale(value: Any, name: str) -> None:
    if check_real(value, name, FUNC, above=0) > 1:
        raise fail(FUNC, name, "a fraction 0 < f <= 1", value)


_SEED = _int(minimum=0, maximum=MAX_SEED, note="2**63 - 1")
_POSITIVE = _int(minimum=1)
_RATE = _real(minimum=0, below=math.inf)


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
        shift: the largest shift of ``augment``, in pixels (images one pixel high or
            wide are not shifted).
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
        lengths: ``ucr:`` series of unequal lengths: pad (at the end, to the longest, with
            the series' mean, 0 after z-normalising) or truncate (to the shortest).
        stream: decode ``folder:`` images from disk in every epoch (through ``workers``
            processes) rather than holding them decoded in memory; default: stream when
            they would fill more than a quarter of the free memory.
        workers: processes decoding streamed or transformed images (0: the training
            process itself); default CPUs - 1, at most 4. Does not change the results.
        ensemble: train this many networks, with seeds seed, seed+1, ..., into
            ``member-1`` .. ``member-K`` of the run folder, and average their class
            probabilities (InceptionTime's ensemble of 5); the folder's own config.json
            and metrics.json (the test accuracy of the average, and each member's) make it
            a run that evaluate and predict use as one model.

    ``epochs``, ``batch_size``, ``lr``, ``augment``, ``weight_decay`` and ``val_fraction``
    left at ``None`` take the default recipe of the model and data, where it has one
    (:func:`anyconv.train.recipes.recipe`); epochs from the fallback recipe (data without
    a recipe of its own) grow on small data to give at least
    :data:`~anyconv.train.advice.MIN_STEPS` optimiser steps (the trainer decides, once the
    data's size is known).

    Example:
        >>> TrainConfig(model="lenet5", epochs=2).to_dict()["optimizer"]
        'adamw'
        >>> TrainConfig(model="cnn1d", data="mnist1d").epochs  # the data set's recipe
        30
    """

    model: str = setting("lenet5", resume=True, flag=False, check=_string)
    model_kwargs: dict[str, Any] = setting(
        factory=dict, resume=True, flag=False, check=_model_kwargs
    )
    data: str = setting("digits", resume=True, check=_string)
    data_seed: int = setting(0, resume=True, check=_SEED)
    epochs: int | None = setting(None, resume=False, check=_POSITIVE)
    batch_size: int | None = setting(None, resume=True, check=_POSITIVE)
    lr: float | None = setting(None, resume=True, check=_RATE)
    optimizer: str = setting("adamw", resume=True, choices=OPTIMIZERS)
    momentum: float = setting(0.9, resume=True, check=_RATE)
    weight_decay: float | None = setting(None, resume=True, check=_RATE)
    schedule: str = setting("cosine", resume=True, choices=SCHEDULES)
    augment: bool | None = setting(None, resume=True, check=_bool)
    shift: int = setting(1, resume=True, check=_int(minimum=0))
    seed: int = setting(0, resume=True, check=_SEED)
    device: str = setting("auto", resume=False, choices=DEVICES)
    amp: bool = setting(False, resume=False, check=_bool)
    out: str | None = setting(None, resume=False, check=_out)
    resume: bool = setting(False, resume=False, check=_bool)
    overwrite: bool = setting(False, resume=False, check=_bool)
    force: bool = setting(False, resume=False, check=_bool)
    quiet: bool = setting(False, resume=False, check=_bool)
    pictures: bool = setting(True, resume=False, aliases=("--plots",), check=_bool)
    eval_batch_size: int = setting(1024, resume=False, check=_POSITIVE)
    val_fraction: float | None = setting(
        None, resume=True, check=_optional(_real(minimum=0, below=1))
    )
    keep: str | None = setting(None, resume=False, choices=KEEP)
    patience: int = setting(0, resume=False, check=_int(minimum=0, note="0: never stop early"))
    threads: int | None = setting(
        None,
        resume=False,
        check=_optional(_int(minimum=1, maximum=MAX_THREADS, note="or None")),
    )
    eval_every: int = setting(1, resume=False, check=_POSITIVE)
    image_size: list[int] | None = setting(None, resume=True, data="view")
    flip: bool = setting(False, resume=True, data="view", check=_bool)
    crop_scale: float = setting(0.08, resume=True, data="view", check=_crop_scale)
    test_fraction: float = setting(0.2, resume=True, data="view", check=_real(above=0, below=1))
    lengths: str = setting("pad", resume=True, data="view", choices=LENGTH_RULES)
    stream: bool | None = setting(
        None, resume=False, data="read", off="--in-memory", check=_optional(_bool)
    )
    workers: int | None = setting(None, resume=False, data="read", check=_optional(_workers))
    ensemble: int = setting(1, resume=True, check=_int(minimum=1, maximum=MAX_ENSEMBLE))

    def __post_init__(self) -> None:
        filled = set()
        if isinstance(self.model, str) and isinstance(self.data, str):
            for key, value in recipe(self.model, self.data).items():
                if getattr(self, key) is None:
                    setattr(self, key, value)
                    filled.add(key)
            filled &= fallback_keys(self.model, self.data)
        # Not a field (neither a flag nor saved): which settings the fallback recipe gave,
        # so that the trainer scales its epochs to the data (recipes.epochs_for_steps).
        self.from_fallback = frozenset(filled)
        self.validate()

    @classmethod
    def field_help(cls) -> dict[str, str]:
        """Each field's one-paragraph help, read from this class's docstring (the one
        place it is written; the command line's help comes from here).

        Example:
            >>> TrainConfig.field_help()["momentum"]
            "SGD's momentum (not Nesterov)."
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
        """Raise ``ValueError``/``TypeError`` naming the first bad setting, in the order of
        the fields (each field's :class:`Setting` holds its check and choices)."""
        from anyconv.data.transforms import image_size

        size = image_size(self.image_size, FUNC)
        self.image_size = list(size) if size else None  # JSON keeps lists: resume compares
        for name, facts in setting_facts().items():
            value = getattr(self, name)
            if facts.choices is not None and not (value is None and name in OPTIONAL_CHOICES):
                _choice(facts.choices)(value, name)
            if facts.check is not None:
                facts.check(value, name)

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


def setting_facts(cls: type = TrainConfig) -> dict[str, Setting]:
    """Each field's :class:`Setting`, by name; a field without one is an error naming it
    (so a new setting cannot leave the resumption check or the command line unsaid).

    Example:
        >>> setting_facts()["lr"].resume, setting_facts()["stream"].data
        (True, 'read')
    """
    facts = {}
    for f in dataclasses.fields(cls):
        if not isinstance(f.metadata.get("setting"), Setting):
            raise TypeError(
                f"{cls.__name__}.{f.name} has no Setting: declare it with setting(..., "
                "resume=...) and say whether resuming may change it"
            )
        facts[f.name] = f.metadata["setting"]
    return facts


RESUME_KEYS = tuple(name for name, facts in setting_facts().items() if facts.resume)
"""The settings a resumed run must share with its checkpoint; ``epochs`` may grow (the
schedule then stretches)."""
DATA_OPTIONS = tuple(name for name, facts in setting_facts().items() if facts.data)
"""The settings that go to the data loader (:meth:`TrainConfig.data_options`)."""
DATA_VIEW_OPTIONS = tuple(n for n, facts in setting_facts().items() if facts.data == "view")
"""The loader options that ``evaluate`` and ``predict`` repeat to see the data as the run
did (not those deciding only how it is read)."""
CHOICES = {n: facts.choices for n, facts in setting_facts().items() if facts.choices}
"""The settings limited to a few names, and those names (the CLI's choices too)."""
OPTIONAL_CHOICES = tuple(
    f.name for f in dataclasses.fields(TrainConfig) if f.name in CHOICES and f.default is None
)
"""Choices that may stay None: decided from the data (see the field's help)."""
