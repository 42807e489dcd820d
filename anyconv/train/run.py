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
import json
import os
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from anyconv.data.base import Dataset
from anyconv.data.spec import DataSpec
from anyconv.train.checkpoint import (
    load_checkpoint,
    load_weights,
    remove_strays,
    save_checkpoint,
    save_weights,
    write_json,
)
from anyconv.train.metrics import write_csv

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
RUNS_ROOT = Path("runs")


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
        return Path(root) / f"{model}-{DataSpec.parse(data).slug}-{stamp}"

    @classmethod
    def latest(
        cls, model: str, data: str | DataSpec, root: str | Path = RUNS_ROOT
    ) -> RunFolder | None:
        """The newest default-named run of this model and data that has a checkpoint."""
        pattern = f"{model}-{DataSpec.parse(data).slug}-*/{CHECKPOINT}"
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
        """Refuse a path that is a file, lies under a file, or cannot be written."""
        for parent in (self.path, *self.path.parents):
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
        system when the process dies, so a killed run never blocks its own ``--resume``);
        the temporary files a killed writer left are removed once the folder is held; a
        folder created here and left holding nothing else is removed again."""
        created = not self.path.exists()
        self.path.mkdir(parents=True, exist_ok=True)
        path = self.file(LOCK)
        handle = open(path, "a+")  # noqa: SIM115 (held open for the whole run)
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    handle.seek(0)
                    holder = handle.read().strip() or "another process"
                    raise FileExistsError(
                        f"{self.path}: another anyconv train ({holder}) is writing into this "
                        "run folder; wait for it to finish or choose another --out"
                    ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}")
            handle.flush()
            remove_strays(self.path)  # left by a writer killed mid-write; none is alive now
            yield
        finally:
            handle.close()
            if created and {p.name for p in self.path.iterdir()} <= {LOCK}:
                path.unlink(missing_ok=True)
                self.path.rmdir()

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
        Returns the names written."""
        written = []
        for name, draw in jobs.items():
            try:
                draw(self.file(name))
                written.append(name)
            except Exception as error:
                warnings.warn(f"{name} not written: {error}", RuntimeWarning, stacklevel=2)
        return written

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
        return config

    def load_model(
        self, device: str | torch.device = "cpu"
    ) -> tuple[torch.nn.Module, dict[str, Any]]:
        """Rebuild the trained model (see :func:`load_run`)."""
        config = self.read_config()
        members = config.get("members")
        if members is not None:  # an ensemble: its members' runs, averaged
            return self._load_ensemble(config, members, device)
        weights = self.file(WEIGHTS)
        if not weights.is_file():
            raise FileNotFoundError(
                f"{weights} is missing; is {self.path} a run folder written by anyconv train?"
            )
        kwargs = dict(config["model_kwargs"])
        if "input_size" in kwargs:
            kwargs["input_size"] = tuple(kwargs["input_size"])  # JSON made it a list
        from anyconv.models import create_model

        _check_size(config["model"], kwargs, weights)
        model = create_model(config["model"], **kwargs)
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


def _check_size(name: str, kwargs: dict[str, Any], weights: Path) -> None:
    """Refuse a config whose model is far larger than its weights file, before allocating:
    the model is first built on the meta device, which allocates nothing."""
    from anyconv.models import create_model

    try:
        with torch.device("meta"):
            meta = create_model(name, **kwargs)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"{weights.parent / CONFIG}: its model cannot be built ({error})"
        ) from None
    except Exception:  # a model that cannot be built on the meta device: no estimate
        return
    need = sum(t.numel() * t.element_size() for t in meta.state_dict().values())
    have = weights.stat().st_size
    if need > 2 * have + (1 << 20):
        raise ValueError(
            f"{weights.parent / CONFIG}: describes a {name} of {need / 2**20:,.1f} MiB of "
            f"weights, but {weights} holds {have / 2**20:,.1f} MiB: a damaged or altered "
            "run folder"
        )


def load_run(
    run_dir: str | Path, device: str | torch.device = "cpu"
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild a trained model from its run folder: ``config.json`` + ``model.safetensors``.

    The model comes from :func:`anyconv.models.create_model` with the recorded name and
    arguments, in eval mode; nothing is unpickled.

    Returns:
        ``(model, config)`` where ``config`` is ``config.json``'s dict (``model``,
        ``model_kwargs``, ``data``, ``kind``, ``input_shape``, ``num_classes``,
        ``class_names``, ``train``: the :class:`TrainConfig` fields).

    Example (not run here)::

        model, config = load_run("runs/lenet5-digits-20250101-120000")
        probs = predict(model, x)  # x: (N, *config["input_shape"])
    """
    return RunFolder(run_dir).load_model(device)


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
