"""The model registry: ``create_model(name, **kw)``, ``list_models()`` (after timm)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from anyconv._checks import register_unique, unknown_name

Factory = Callable[..., torch.nn.Module]
MODELS: dict[str, tuple[Factory, str, tuple[int, ...]]] = {}


def register_model(
    name: str, help: str, input_shape: tuple[int, ...] = (1, 28, 28)
) -> Callable[[Factory], Factory]:
    """Decorator: register ``factory(*, in_channels, num_classes, input_size, **kw)``.

    ``input_size`` is the spatial size ``(*spatial)`` of one sample; a model whose
    structure depends on it (flattened features, locally connected layers) uses it.
    ``input_shape`` ``(C, *spatial)`` is the model's natural input, used where none is
    given (``anyconv summary``). A name can be registered once: a second factory under
    the same name is a ``ValueError``.
    """

    def wrap(factory: Factory) -> Factory:
        register_unique(MODELS, name, (factory, help, tuple(input_shape)), "register_model")
        return factory

    return wrap


def default_input_shape(name: str) -> tuple[int, ...]:
    """The natural input ``(C, *spatial)`` of a registered model.

    Example:
        >>> default_input_shape("cnn1d")
        (1, 40)
    """
    if name not in MODELS:
        raise unknown_name("default_input_shape", "name", name, MODELS, " (anyconv models)")
    return MODELS[name][2]


def create_model(name: str, **kwargs) -> torch.nn.Module:
    """Build a registered model, e.g. ``create_model("lenet5", in_channels=1,
    num_classes=10, input_size=(28, 28))``."""
    if name not in MODELS:
        raise unknown_name("create_model", "name", name, MODELS, " (anyconv models)")
    return MODELS[name][0](**kwargs)


def list_models() -> dict[str, str]:
    """Names of the registered models and a line of help each."""
    return {name: help for name, (_, help, _) in MODELS.items()}
