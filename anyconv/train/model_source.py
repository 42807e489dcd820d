"""What a run records about its model, and how a run folder's model is rebuilt.

``config.json`` says where its model comes from (``model_source``):

- ``"registry"``: a registered model (``anyconv models``), its name and keyword arguments;
- ``"import"``: your own model named by an import path ``"package.module:Name"`` (a
  ``torch.nn.Module`` subclass, or a function annotated ``-> torch.nn.Module``; see
  :mod:`anyconv.models.imported`) and the keyword arguments it was built with;
- ``"object"``: a model handed to :func:`~anyconv.train.train` as an object that neither
  of those builds. Its class path is recorded (``model``), but not its constructor
  arguments, which anyconv cannot know: the folder keeps its weights, and
  ``load_run(RUN, model=YourNet(...))`` loads them into a model you build.

A model given as an object is recorded as a registered name or an import path only when
``TrainConfig.model`` names one that builds the same class with the same weight names and
shapes (checked on the meta device, which allocates nothing).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from anyconv.models.imported import build_imported, class_path, is_import_path, short_name

__all__ = ["SOURCES", "ModelRecord", "build_model", "rebuild", "record_given", "short_name"]

SOURCES = ("registry", "import", "object")
"""The values of ``config.json``'s ``model_source`` (a run without one is ``"registry"``)."""


@dataclasses.dataclass(frozen=True)
class ModelRecord:
    """How a run's model was made: ``name`` (a registered name, an import path, or for
    ``source == "object"`` the class path), ``kwargs`` (every constructor argument, the
    data's ``in_channels``/``num_classes``/``input_size`` included; empty for an object),
    ``source`` (one of :data:`SOURCES`) and ``class_path`` (``"module:QualName"``)."""

    name: str
    kwargs: dict[str, Any]
    source: str
    class_path: str

    @property
    def rebuildable(self) -> bool:
        return self.source != "object"

    def fields(self) -> dict[str, Any]:
        """The keys of ``config.json`` that describe the model."""
        return {
            "model": self.name,
            "model_kwargs": self.kwargs,
            "model_source": self.source,
            "model_class": self.class_path,
        }


def _registered(name: str) -> bool:
    from anyconv.models.registry import MODELS

    return name in MODELS


def build_model(
    name: str, kwargs: dict[str, Any], data_kwargs: dict[str, Any], func: str = "train"
) -> tuple[torch.nn.Module, ModelRecord]:
    """Build ``name`` (a registered name or an import path) with ``kwargs`` and the data's
    arguments (all of them for a registered model; those it takes for an import path).

    Example:
        >>> net, record = build_model("lenet5", {}, {"in_channels": 1, "num_classes": 10,
        ...                                          "input_size": (28, 28)})
        >>> record.source, record.class_path
        ('registry', 'anyconv.models.lenet:LeNet5')
    """
    if is_import_path(name) and not _registered(name):
        model, arguments = build_imported(name, kwargs, data_kwargs, func)
        return model, ModelRecord(name, arguments, "import", class_path(model))
    from anyconv.models import create_model

    arguments = {**kwargs, **data_kwargs}
    model = create_model(name, **arguments)
    return model, ModelRecord(name, arguments, "registry", class_path(model))


def _layout(model: torch.nn.Module) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    return {k: (tuple(v.shape), v.dtype) for k, v in model.state_dict().items()}


def record_given(
    model: torch.nn.Module, name: str, kwargs: dict[str, Any], data_kwargs: dict[str, Any]
) -> ModelRecord:
    """The record of a model given as an object: ``name`` with its arguments when building
    ``name`` gives the same class and weight layout (on the meta device), else the
    object's class with unknown arguments (``source="object"``).

    Example:
        >>> record_given(torch.nn.Linear(2, 3), "lenet5", {}, {}).source
        'object'
    """
    if _registered(name) or is_import_path(name):
        try:
            with torch.device("meta"):
                meta, record = build_model(name, kwargs, data_kwargs)
        except Exception:
            meta = None
        if meta is not None and type(meta) is type(model) and _layout(meta) == _layout(model):
            return record
    path = class_path(model)
    return ModelRecord(path, {}, "object", path)


def _source(config: dict[str, Any], where: Any) -> str:
    source = config.get("model_source", "registry")
    if source not in SOURCES:
        raise ValueError(
            f"{where}: malformed run config, 'model_source' must be one of "
            f"{', '.join(map(repr, SOURCES))}; got {source!r}"
        )
    return source


def rebuild(
    config: dict[str, Any], where: Any, device: str | torch.device = "cpu"
) -> torch.nn.Module:
    """The model ``config`` (a run's ``config.json``, named ``where`` in messages)
    describes, untrained, built on ``device`` (``"meta"`` allocates nothing); a model that
    cannot be rebuilt is one ``ValueError`` that says why and what to do.

    Example:
        >>> rebuild({"model": "torch.nn:Linear", "model_source": "import",
        ...          "model_kwargs": {"in_features": 2, "out_features": 3}}, "config.json")
        Linear(in_features=2, out_features=3, bias=True)
    """
    source = _source(config, where)
    name = config["model"]
    if source == "object":
        short = short_name(name)
        raise ValueError(
            f"{where}: the model {name} was given to train() as an object, whose "
            f"constructor arguments anyconv cannot know, so it cannot rebuild it; load the "
            f"weights with anyconv.train.load_run(RUN, model={short}(...)), or train with "
            f"TrainConfig(model='{name}', model_kwargs={{...}}) to record them"
        )
    kwargs = dict(config["model_kwargs"])
    if isinstance(kwargs.get("input_size"), list):
        kwargs["input_size"] = tuple(kwargs["input_size"])  # JSON made it a list
    if source == "import" and not is_import_path(name):
        raise ValueError(
            f"{where}: malformed run config, 'model' must be an import path "
            f"'package.module:Name' for model_source 'import'; got {name!r}"
        )
    try:
        with torch.device(device):
            if source == "import":
                return build_imported(name, kwargs, func="load_run")[0]
            from anyconv.models import create_model

            return create_model(name, **kwargs)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{where}: its model cannot be built ({error})") from None
