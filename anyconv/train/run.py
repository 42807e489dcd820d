"""The run folder: its layout, its naming rule, writing it and reading it back.

::

    RUN_DIR/
      config.json        everything to rebuild the model (name, kwargs, data, class names)
      model.safetensors  the weights (safetensors: loading never unpickles)
      checkpoint.pt      the last epoch's full state, for --resume (weights_only loadable)
      metrics.json       final figures and the per-epoch history
      metrics.csv        the history, one row per epoch
      history.png, confusion.png, filters.png, feature_maps.png, samples.png
      cam.png            class activation maps, for networks that support them (fcn, resnet1d)

:class:`RunFolder` is the one place that knows these names and formats. It takes plain
values (dicts, tensors, a model) and never reads a trainer; :func:`load_run` reopens a
folder as a model.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from anyconv._checks import fail
from anyconv.data.base import Dataset
from anyconv.data.spec import DataSpec
from anyconv.train.checkpoint import (
    TMP_PREFIX,
    load_checkpoint,
    load_weights,
    remove_strays,
    save_checkpoint,
    save_weights,
    write_json,
)
from anyconv.train.metrics import write_csv
from anyconv.train.model_source import rebuild, short_name

try:
    import fcntl
except ImportError:  # not POSIX: no lock (documented)
    fcntl = None  # type: ignore[assignment]

CHECKPOINT = "checkpoint.pt"
WEIGHTS = "model.safetensors"
CONFIG = "config.json"
METRICS = "metrics.json"
METRICS_CSV = "metrics.csv"
PICTURES = (
    "history.png",
    "confusion.png",
    "filters.png",
    "feature_maps.png",
    "samples.png",
    "cam.png",  # networks that support class activation maps only (fcn, resnet1d)
)
LOCK = ".lock"
RUN_FILES = (CHECKPOINT, WEIGHTS, CONFIG, METRICS, METRICS_CSV, *PICTURES)
"""The files anyconv writes into a run folder (atomically: their temporary files are
``.anyconv-NAME.PID.tmp``)."""
RUNS_ROOT = Path("runs")


def model_slug(model: str) -> str:
    """A file-name-safe short form of a model name: a registered name as it is, your own
    model's class name (``"mynets.small:SmallNet"`` -> ``"SmallNet"``).

    Example:
        >>> model_slug("lenet5"), model_slug("mynets.small:SmallNet")
        ('lenet5', 'SmallNet')
    """
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", short_name(model)).strip("-") or "model"


def run_config(
    *,
    model: str,
    model_kwargs: dict[str, Any],
    data_spec: str,
    data: Any,
    train: dict[str, Any],
    **extra: Any,
) -> dict[str, Any]:
    """What ``config.json`` holds: enough to rebuild the model and read its outputs.

    ``data`` is the :class:`~anyconv.data.base.Splits` trained on (its name, kind, input
    shape, classes); ``train`` the :class:`~anyconv.train.TrainConfig` as a dict; ``extra``
    adds keys (``input``: the input normalisation and value range; ``data_options``: the
    loader options that ``evaluate`` and ``predict`` repeat, such as a folder's held-out
    test split and image transform).
    """
    return {
        "model": model,
        "model_kwargs": model_kwargs,
        "data": data_spec,
        "data_name": data.name,
        "kind": data.kind,
        "input_shape": list(data.input_shape),
        "num_classes": data.num_classes,
        "class_names": list(data.class_names),
        "train": train,
        **extra,
    }


CONFIG_KEYS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "model": (str, "a model name"),
    "model_kwargs": (dict, "a dict of the model's arguments"),
    "data": (str, "a data spec"),
    "input_shape": (list, "a list of positive ints (C, *spatial)"),
    "num_classes": (int, "a positive int"),
}
"""Keys ``config.json`` must hold to rebuild and use its model, with what each must be."""


def _sound(key: str, value: Any) -> bool:
    if key == "input_shape":
        ints = all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
        return ints and 2 <= len(value) <= 4
    if key == "num_classes":
        return not isinstance(value, bool) and value > 0
    return True


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _per_channel(positive: bool) -> Callable[[Any, int], bool]:
    def check(value: Any, channels: int) -> bool:
        return (
            isinstance(value, list)
            and len(value) == channels
            and all(_finite(v) and (v > 0 if positive else True) for v in value)
        )

    return check


RECORDED_DATA_OPTIONS = (
    "image_size",
    "flip",
    "crop_scale",
    "test_fraction",
    "lengths",
    "mean",
    "std",
)
"""The keys a run's ``data_options`` may hold: the loader settings that decide its splits
and transform (``config.DATA_VIEW_OPTIONS``, not how the data is read: ``stream``,
``workers``) and a folder transform's own ``mean`` and ``std``."""

INPUT_SETTINGS: dict[str, tuple[Callable[[Any, int], bool], str]] = {
    "input.normalization.mean": (_per_channel(False), "a list of {C} finite numbers"),
    "input.normalization.std": (_per_channel(True), "a list of {C} positive numbers"),
    "input.normalization.divide": (lambda v, c: _finite(v) and v > 0, "a positive number"),
    "input.normalization.per_sample": (lambda v, c: v == "znorm", "'znorm'"),
    "input.min": (lambda v, c: _finite(v), "a finite number"),
    "input.max": (lambda v, c: _finite(v), "a finite number"),
    "input.mean": (_per_channel(False), "a list of {C} finite numbers"),
    "input.std": (
        lambda v, c: _per_channel(False)(v, c) and min(v) >= 0,
        "a list of {C} numbers >= 0",
    ),
    "data_options.mean": (_per_channel(False), "a list of {C} finite numbers or null"),
    "data_options.std": (_per_channel(True), "a list of {C} positive numbers or null"),
    "data_options.image_size": (
        lambda v, c: (
            isinstance(v, list)
            and len(v) == 2
            and all(_finite(n) and n >= 1 and int(n) == n for n in v)
        ),
        "a list [H, W] of positive ints or null",
    ),
    "data_options.flip": (lambda v, c: isinstance(v, bool), "true or false"),
    "data_options.crop_scale": (lambda v, c: _finite(v) and 0 < v <= 1, "a fraction 0 < f <= 1"),
    "data_options.test_fraction": (lambda v, c: _finite(v) and 0 < v < 1, "a fraction 0 < f < 1"),
    "data_options.lengths": (lambda v, c: v in ("pad", "truncate"), "'pad' or 'truncate'"),
}
"""What each normalisation and data setting of ``config.json`` must be (``{C}``: the
channels of ``input_shape``); ``null`` stands for "not set" where a loader records it so."""


def _check_input_settings(config: dict[str, Any], path: Path) -> None:
    """Refuse normalisation and data settings that would crash or silently skew
    ``predict``/``evaluate`` (a mean of the wrong length, a zero std, a divisor "x"), and
    data options that no run records (they would reach the loader: ``workers``)."""
    channels = config["input_shape"][0]
    recorded = set(RECORDED_DATA_OPTIONS)
    unknown = sorted(set(config.get("data_options", {})) - recorded)
    if unknown:
        raise ValueError(
            f"{path}: malformed run config, 'data_options' holds '{unknown[0]}', which no run "
            f"records (a run records {', '.join(sorted(recorded))})"
        )
    normalization = config.get("input", {}).get("normalization", {})
    if not isinstance(normalization, dict):
        raise ValueError(
            f"{path}: malformed run config, 'input.normalization' must be a JSON object; "
            f"got {normalization!r}"
        )
    sections = {
        "input.normalization": normalization,
        "input": config.get("input", {}),
        "data_options": config.get("data_options", {}),
    }
    for key, (sound, what) in INPUT_SETTINGS.items():
        section, _, name = key.rpartition(".")
        value = sections[section].get(name)
        if value is None and (section != "input.normalization" or name not in sections[section]):
            continue  # not recorded (or null, where a loader records "not set" so)
        if not sound(value, channels):
            raise ValueError(
                f"{path}: malformed run config, '{key}' must be "
                f"{what.format(C=channels)}; got {value!r}"
            )
    for section in ("input.normalization", "data_options"):
        values = sections[section]
        if (values.get("mean") is None) != (values.get("std") is None):
            raise ValueError(
                f"{path}: malformed run config, '{section}' must hold 'mean' and 'std' "
                f"together; got mean {values.get('mean')!r}, std {values.get('std')!r}"
            )


def check_data_fits_run(config: dict[str, Any], data: Any, spec: str, run_dir: Any) -> list[str]:
    """Refuse data of another input shape, kind or class count than the run was trained
    on, before the model sees it; returns warnings (other class names).

    Example:
        >>> from types import SimpleNamespace as D
        >>> config = {"data": "digits", "kind": "image", "input_shape": [1, 8, 8],
        ...           "num_classes": 10, "class_names": list("0123456789")}
        >>> seq = D(kind="sequence", input_shape=(1, 40), num_classes=10, class_names=[])
        >>> check_data_fits_run(config, seq, "mnist1d", "runs/a")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: runs/a was trained on digits (image (1, 8, 8), 10 classes); mnist1d ...
    """
    kind = config.get("kind", data.kind)
    shape, classes = tuple(config["input_shape"]), config["num_classes"]
    trained = f"{config['data']} ({kind} {shape}, {classes} classes)"
    given = f"{data.kind} {tuple(data.input_shape)}, {data.num_classes} classes"
    if tuple(data.input_shape) != shape or data.kind != kind or data.num_classes != classes:
        raise ValueError(
            f"{run_dir} was trained on {trained}; {spec} gives {given}: evaluate needs data "
            "of the same input shape and classes"
        )
    names = config.get("class_names")
    if names and list(names) != list(data.class_names):
        return [
            f"{spec} names its classes {list(data.class_names)[:5]}..., the run "
            f"{list(names)[:5]}...: they are compared by index"
        ]
    return []


def load_run_data(
    config: dict[str, Any], spec: str | None = None, *, workers: int | None = None
) -> Dataset:
    """The data set a run was trained on, or another one (``spec``), seen as the run saw
    its own. ``workers``: processes decoding a folder's images.

    The run's own data (``spec`` None) is loaded with its data seed and every option
    ``config.json``'s ``data_options`` records (a folder's held-out test split and image
    transform). Another spec gets only the recorded options its loader takes (a folder
    run's ``image_size`` and per-channel ``mean``/``std`` reach another ``folder:``, never
    ``digits`` or ``npz:``), a folder is converted to the run's channels (a grey folder for
    an RGB run), and data held in memory whose loader does not normalise per channel gets
    the run's ``mean`` and ``std``, as its training images did and as ``predict`` gives
    them to images. An empty spec is an error, not the run's own data.

    Example:
        >>> load_run_data({"data": "digits", "train": {"data_seed": 0}}).input_shape
        (1, 8, 8)
        >>> load_run_data({"data": "digits"}, "")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ValueError: load_run_data(): argument 'spec' must be a data set spec ...; got ''
    """
    from anyconv._checks import fail
    from anyconv.data import load_dataset
    from anyconv.data.base import Splits, loader_options
    from anyconv.train.inputs import normalize

    own = config["data"]
    if spec is None:
        spec = own
    if not isinstance(spec, str) or not spec.strip():
        raise fail(
            "load_run_data",
            "spec",
            "a data set spec such as 'digits' or 'folder:DIR' (leave --data out, spec=None, for "
            "the run's own data)",
            spec,
        )
    recorded = dict(config.get("data_options") or {})
    taken = loader_options(spec)
    options = recorded if spec == own else {k: v for k, v in recorded.items() if k in taken}
    shape = list(config.get("input_shape") or [])
    if "channels" in taken and len(shape) == 3 and shape[0] in (1, 3):
        options.setdefault("channels", shape[0])
    options["workers"] = workers
    data = load_dataset(spec, seed=config.get("train", {}).get("data_seed", 0), **options)
    run_norm = config.get("input", {}).get("normalization", {})
    if (
        "mean" in run_norm
        and "std" in run_norm
        and "mean" not in data.normalization
        and isinstance(data, Splits)
        and len(run_norm["mean"]) == data.input_shape[0]
    ):
        per_channel = {"mean": run_norm["mean"], "std": run_norm["std"]}
        data.x_train = normalize(data.x_train, per_channel, raw=False)
        data.x_test = normalize(data.x_test, per_channel, raw=False)
        data.normalization = {**data.normalization, **per_channel}
    return data


class RunFolder:
    """A run folder on disk: where each file goes and in which format.

    Args:
        path: the folder; it need not exist yet.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     run = RunFolder(d)
        ...     _ = run.write_metrics({"status": "running", "history": []})
        ...     run.holds_run(), run.has_checkpoint()
        (True, False)
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    # -- naming ------------------------------------------------------------------------

    @staticmethod
    def default_path(model: str, data: str | DataSpec, root: str | Path = RUNS_ROOT) -> Path:
        """``root/<model>-<data slug>-<YYYYmmdd-HHMMSS>``, the name of a new run
        (:attr:`DataSpec.slug <anyconv.data.spec.DataSpec.slug>`).

        Example:
            >>> RunFolder.default_path("lenet5", "idx:/data/mnist").name.startswith(
            ...     "lenet5-idx-mnist-")
            True
        """
        stamp = time.strftime("%Y%m%d-%H%M%S")
        return Path(root) / f"{model_slug(model)}-{DataSpec.parse(data).slug}-{stamp}"

    @classmethod
    def latest(
        cls, model: str, data: str | DataSpec, root: str | Path = RUNS_ROOT
    ) -> RunFolder | None:
        """The newest default-named run of this model and data that has a checkpoint."""
        pattern = f"{model_slug(model)}-{DataSpec.parse(data).slug}-*/{CHECKPOINT}"
        found = sorted(Path(root).glob(pattern))
        return cls(found[-1].parent) if found else None

    # -- files -------------------------------------------------------------------------

    def file(self, name: str) -> Path:
        """The path of one of the folder's files (:data:`CHECKPOINT`, :data:`WEIGHTS`, ...)."""
        return self.path / name

    @property
    def checkpoint(self) -> Path:
        return self.file(CHECKPOINT)

    def has_checkpoint(self) -> bool:
        return self.checkpoint.is_file()

    def holds_run(self) -> bool:
        """Whether the folder already holds files of a run (any of its file names)."""
        return any(self.file(n).exists() for n in (CHECKPOINT, WEIGHTS, CONFIG, METRICS))

    def check_writable(self) -> None:
        """Refuse a path that is a file, lies under a file, is (or lies under) a symbolic
        link that leads nowhere or loops, or cannot be written."""
        for parent in (self.path, *self.path.parents):
            if parent.is_symlink() and not parent.exists():
                target = os.readlink(parent)
                try:
                    parent.resolve(strict=True)
                except RuntimeError:  # Python < 3.13 reports a loop so
                    looping = True
                except OSError as error:
                    looping = error.errno == errno.ELOOP
                else:
                    looping = False
                what = (
                    "loops back on itself; choose another --out"
                    if looping
                    else f"leads to '{target}', which does not exist; create it, or choose "
                    "another --out"
                )
                where = "is" if parent == self.path else f"lies under {parent},"
                raise NotADirectoryError(f"{self.path}: {where} a symbolic link that {what}")
            if not parent.exists():
                continue
            if not parent.is_dir():
                where = "is a file" if parent == self.path else f"lies under the file {parent}"
                raise NotADirectoryError(f"{self.path}: {where}; a run folder must be a folder")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise PermissionError(f"{parent}: not writable, so {self.path} cannot be written")
            return

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder for one writer: a second ``anyconv train`` into the same folder
        is refused while this one runs. An advisory ``flock`` on ``.lock`` (released by the
        system when the process dies, so a killed run never blocks its own ``--resume``),
        which holds the writer's pid while it runs and is removed when it ends; the
        temporary files a killed writer left are removed once the folder is held (only
        anyconv's own, only in a folder that holds a run); a folder created here and left
        holding nothing else is removed again."""
        created = not self.path.exists()
        self.path.mkdir(parents=True, exist_ok=True)
        path = self.file(LOCK)
        handle = self._acquire(path)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}")
            handle.flush()
            if self.holds_run():  # left by a writer killed mid-write; none is alive now
                remove_strays(self.path, RUN_FILES)
            yield
        finally:
            # Unlinked while still held: a writer that opened it meanwhile finds it gone
            # once it holds it, and opens the new one (_acquire).
            path.unlink(missing_ok=True)
            handle.close()
            if created and not any(self.path.iterdir()):
                self.path.rmdir()

    def _acquire(self, path: Path) -> Any:
        """``path`` opened and locked: the file that is at ``path`` once it is held (another
        writer may have removed the one opened while releasing it)."""
        while True:
            handle = open(path, "a+")  # noqa: SIM115 (held open for the whole run)
            if fcntl is None:
                return handle
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                handle.close()
                raise FileExistsError(
                    f"{self.path}: another anyconv train ({holder}) is writing into this "
                    "run folder; wait for it to finish or choose another --out"
                ) from None
            try:
                if os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino:
                    return handle
            except FileNotFoundError:
                pass
            handle.close()

    def remove_pictures(self) -> None:
        """Delete the pictures of an earlier run in this folder (they are drawn anew at
        the end of a run)."""
        for name in PICTURES:
            self.file(name).unlink(missing_ok=True)

    # -- writing -----------------------------------------------------------------------

    def save_checkpoint(self, state: dict[str, Any]) -> Path:
        """Atomically write the full training state (see :mod:`anyconv.train.checkpoint`)."""
        return save_checkpoint(self.checkpoint, state)

    def load_checkpoint(self) -> dict[str, Any]:
        """The checkpoint's state dict, loaded with ``weights_only=True``."""
        return load_checkpoint(self.checkpoint)

    def write_metrics(self, metrics: dict[str, Any]) -> dict[str, Any]:
        """``metrics.json`` and, from its ``history``, ``metrics.csv``."""
        write_json(self.file(METRICS), metrics)
        write_csv(self.file(METRICS_CSV), metrics.get("history", []))
        return metrics

    def write_model(
        self, config: dict[str, Any], model: torch.nn.Module | dict[str, torch.Tensor]
    ) -> None:
        """``config.json`` (see :func:`run_config`) and the weights (of a model, or a state
        dict) as safetensors."""
        write_json(self.file(CONFIG), config)
        save_weights(self.file(WEIGHTS), model)

    def write_pictures(self, jobs: dict[str, Callable[[Path], Any]]) -> list[str]:
        """Draw each ``name -> draw(path)`` into the folder; a picture that fails is
        skipped with a warning (a finished training run is worth more than its figures).
        Returns the names written (:func:`anyconv.viz.draw_pictures`)."""
        from anyconv.viz import draw_pictures

        return draw_pictures(jobs, self.path)

    # -- reading -----------------------------------------------------------------------

    def read_config(self) -> dict[str, Any]:
        """``config.json`` as a dict, its keys checked; a missing or malformed file is an
        error naming it."""
        path = self.file(CONFIG)
        if not self.path.is_dir():
            raise NotADirectoryError(
                f"{self.path}: no such run folder (a folder written by anyconv train)"
            )
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing; is {self.path} a run folder written by anyconv train?"
            )
        try:
            config = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"{path}: not valid JSON ({error})") from None
        if not isinstance(config, dict):
            raise ValueError(f"{path}: malformed run config (not a JSON object)")
        for key, (kinds, what) in CONFIG_KEYS.items():
            if key not in config:
                raise ValueError(f"{path}: malformed run config, '{key}' is missing ({what})")
            if not isinstance(config[key], kinds) or not _sound(key, config[key]):
                raise ValueError(
                    f"{path}: malformed run config, '{key}' must be {what}; got {config[key]!r}"
                )
        names = config.get("class_names")
        if names is not None and not (
            isinstance(names, list) and len(names) in (0, config["num_classes"])
        ):
            given = f"{len(names)} names" if isinstance(names, list) else repr(names)
            raise ValueError(
                f"{path}: malformed run config, 'class_names' must be a list of "
                f"'num_classes' ({config['num_classes']}) names; got {given}"
            )
        for key in ("data_options", "input"):  # optional: older runs have none
            if not isinstance(config.get(key, {}), dict):
                raise ValueError(
                    f"{path}: malformed run config, '{key}' must be a JSON object; "
                    f"got {config[key]!r}"
                )
        _check_input_settings(config, path)
        return config

    def load_model(
        self, device: str | torch.device = "cpu", model: torch.nn.Module | None = None
    ) -> tuple[torch.nn.Module, dict[str, Any]]:
        """Rebuild the trained model, or load its weights into ``model`` (see
        :func:`load_run`)."""
        config = self.read_config()
        members = config.get("members")
        if members is not None:  # an ensemble: its members' runs, averaged
            return self._load_ensemble(config, members, device)
        weights = self.file(WEIGHTS)
        if not weights.is_file():
            raise FileNotFoundError(
                f"{weights} is missing; is {self.path} a run folder written by anyconv train?"
            )
        if model is None:
            _check_size(config, weights)
            model = rebuild(config, self.file(CONFIG))
        elif not isinstance(model, torch.nn.Module):
            raise fail("load_run", "model", "a torch.nn.Module or None", model, TypeError)
        load_weights(weights, model)
        return model.to(device).eval(), config

    def _load_ensemble(
        self, config: dict[str, Any], members: Any, device: str | torch.device
    ) -> tuple[torch.nn.Module, dict[str, Any]]:
        from anyconv.models.ensemble import Ensemble

        path = self.file(CONFIG)
        if (
            not isinstance(members, list)
            or not members
            or not all(
                isinstance(m, str) and m and "/" not in m and m not in (".", "..") for m in members
            )
        ):
            raise ValueError(
                f"{path}: malformed run config, 'members' must be a list of the member run "
                f"folders' names; got {members!r}"
            )
        models = [RunFolder(self.path / m).load_model(device)[0] for m in members]
        return Ensemble(models).to(device).eval(), config


def _check_size(config: dict[str, Any], weights: Path) -> None:
    """Refuse a config that does not describe its weights, before allocating: the model is
    first built on the meta device (which allocates nothing) and compared with the weights
    file's size; its recorded sizes must agree with each other; and one input with the
    model's widest activation must fit in the memory available."""
    path = weights.parent / CONFIG
    try:
        meta = rebuild(config, path, device="meta")
    except ValueError:
        raise
    except Exception:  # a model that cannot be built on the meta device: no estimate
        return
    need = sum(t.numel() * t.element_size() for t in meta.state_dict().values())
    have = weights.stat().st_size
    if need > 2 * have + (1 << 20):
        raise ValueError(
            f"{path}: describes a {short_name(config['model'])} of {need / 2**20:,.1f} MiB of "
            f"weights, but {weights} holds {have / 2**20:,.1f} MiB: a damaged or altered "
            "run folder"
        )
    _check_sizes_agree(config, path)
    check_input_memory(meta, config["input_shape"], path)


def _check_sizes_agree(config: dict[str, Any], path: Path) -> None:
    """The input shape ``config.json`` records in three places (``input_shape``, the
    model's ``in_channels``/``input_size``, a folder's ``image_size``) must agree."""
    shape = list(config["input_shape"])
    kwargs, options = config["model_kwargs"], config.get("data_options", {})
    recorded = {
        "model_kwargs.in_channels": (kwargs.get("in_channels"), shape[0]),
        "model_kwargs.input_size": (kwargs.get("input_size"), shape[1:]),
        "model_kwargs.num_classes": (kwargs.get("num_classes"), config["num_classes"]),
        "data_options.image_size": (options.get("image_size"), shape[-2:]),
    }
    for key, (value, want) in recorded.items():
        if value is not None and value != want:
            raise ValueError(
                f"{path}: malformed run config, '{key}' is {value!r} but 'input_shape' "
                f"{shape} and 'num_classes' {config['num_classes']} say {want!r}: a damaged "
                "or altered run folder"
            )


def check_input_memory(model: torch.nn.Module, input_shape: Sequence[int], where: Any) -> None:
    """Refuse a model and input shape ``(C, *spatial)`` whose one sample would not fit in
    the memory available now: the input, and the model's widest activation (its largest
    ``out_channels``) over the whole input twice, in float32, plus the parameters. A
    cheap floor, counted from attributes (works on the meta device).

    Example:
        >>> check_input_memory(torch.nn.Conv2d(3, 8, 3), (3, 32, 32), "run")  # fits
    """
    from anyconv.functional.algorithms.memory import check_allocation

    spatial = math.prod(input_shape[1:])
    widest = max(
        [int(getattr(m, "out_channels", 0) or 0) for m in model.modules()] + [input_shape[0]]
    )
    params = sum(p.numel() for p in model.parameters())
    need = 4 * (input_shape[0] * spatial + 2 * widest * spatial + params)
    shape = "x".join(map(str, input_shape))
    check_allocation(need, f"{where}: one input of {shape} through its model")


SCRATCH_PREFIX = "anyconv-scratch-"
"""Throw-away run folders (:func:`scratch_folder`) are ``TMP/anyconv-scratch-PID-XXXXXXXX``."""


@contextlib.contextmanager
def scratch_folder() -> Iterator[Path]:
    """A throw-away run folder in the system's temporary folder, removed on exit (for
    runs whose metrics are all that is wanted, such as the experiments'). Those that
    processes killed meanwhile left behind, named after a pid no longer alive and holding
    only a run's files, are removed on entry.

    Example:
        >>> with scratch_folder() as out:
        ...     out.name.startswith(SCRATCH_PREFIX), out.is_dir()
        (True, True)
        >>> out.exists()
        False
    """
    root = Path(tempfile.gettempdir())
    remove_dead_scratch(root)
    path = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", dir=root))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # another user's process (or no such pid to ask about): left alone
    return True


def remove_dead_scratch(root: str | Path) -> list[Path]:
    """Remove the :func:`scratch_folder` folders under ``root`` whose process is dead
    (SIGKILL skips the removal on exit): this user's, holding nothing but a run's files.
    Returns the removed."""
    pattern = re.compile(rf"{re.escape(SCRATCH_PREFIX)}(\d+)-\w+", flags=re.ASCII)
    ours = {*RUN_FILES, LOCK}
    removed = []
    for path in Path(root).glob(f"{SCRATCH_PREFIX}*"):
        match = pattern.fullmatch(path.name)
        if not match or path.is_symlink() or not path.is_dir() or _alive(int(match[1])):
            continue
        try:
            if path.stat().st_uid != os.getuid():
                continue
            names = [p.name for p in path.iterdir()]
        except OSError:
            continue
        if all(n in ours or n.startswith(TMP_PREFIX) for n in names):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def load_run(
    run_dir: str | Path, device: str | torch.device = "cpu", model: torch.nn.Module | None = None
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild a trained model from its run folder: ``config.json`` + ``model.safetensors``.

    The model is rebuilt as ``config.json`` records it (``model_source``, see
    :mod:`anyconv.train.model_source`): a registered model by name, your own by its import
    path, in eval mode; nothing is unpickled. A model that was given to ``train()`` as an
    object cannot be rebuilt (its constructor arguments are unknown): pass ``model``, a
    model of the same architecture, and the weights are loaded into it.

    Returns:
        ``(model, config)`` where ``config`` is ``config.json``'s dict (``model``,
        ``model_kwargs``, ``model_source``, ``model_class``, ``data``, ``kind``,
        ``input_shape``, ``num_classes``, ``class_names``, ``train``: the
        :class:`TrainConfig` fields).

    Example (not run here)::

        model, config = load_run("runs/lenet5-digits-20250101-120000")
        probs = predict(model, x)  # x: (N, *config["input_shape"])
        mine, config = load_run("runs/MyNet-digits-20250101-120000", model=MyNet(width=8))
    """
    return RunFolder(run_dir).load_model(device, model)


def history_jobs(
    history: Sequence[dict[str, Any]],
    steps: Sequence[float],
    confusion: torch.Tensor | None,
    class_names: Sequence[str],
    title: str | None = None,
    test: tuple[int, float, float] | None = None,
) -> dict[str, Callable[[Path], Any]]:
    """The history and confusion pictures of a run as ``name -> draw(path)`` (the
    network's own come from :func:`anyconv.viz.network_jobs`), for
    :meth:`RunFolder.write_pictures`; ``title`` (e.g. ``"lenet5 on digits"``) heads the
    history and confusion pictures; ``test`` is ``(kept epoch, test loss, test accuracy)``
    of the kept model, marked on the history."""
    from anyconv import viz

    jobs: dict[str, Callable[[Path], Any]] = {
        "history.png": lambda p: viz.plot_history(history, p, steps=steps, title=title, test=test),
    }
    if confusion is not None:
        jobs["confusion.png"] = lambda p: viz.plot_confusion(confusion, class_names, p, title=title)
    return {name: jobs[name] for name in PICTURES if name in jobs}
