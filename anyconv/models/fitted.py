"""Models fitted without epochs: one pass over the training split, no optimiser, no
gradient (MiniRocket's transform and ridge classifier). The trainer asks
``isinstance(model, FittedModel)`` and runs :meth:`FittedModel.fit` as the run's one and
only epoch; everything else (evaluation, the run folder, ``evaluate``, ``predict``,
``summary``, the pictures) treats it as any network."""

from __future__ import annotations

import abc
from typing import Any

import torch

from anyconv.nn.base import Module


class FittedModel(Module, abc.ABC):
    """A classifier whose parameters come from one pass over the training data (a closed
    form, a convex solver) instead of gradient steps.

    Subclasses hold what they fit as parameters and buffers, so that the run folder's
    ``model.safetensors`` restores a fitted model through the registry like any other,
    and implement :meth:`fit`. Their ``forward`` maps ``(N, C, *spatial)`` to logits
    ``(N, num_classes)`` as every model does.
    """

    @abc.abstractmethod
    def fit(
        self, x: torch.Tensor, y: torch.Tensor, *, generator: torch.Generator
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """Fit to the training split and return its logits ``(N, num_classes)`` (which the
        trainer turns into the training loss and accuracy, as for an epoch) and a dict of
        facts about the fit for ``metrics.json`` (e.g. the regularisation chosen).

        Args:
            x: training inputs ``(N, C, *spatial)`` on the model's device.
            y: their labels ``(N,)`` int64, ``0 <= y < num_classes``.
            generator: the run's random generator (seeded with ``TrainConfig.seed``): every
                random choice of the fit is drawn from it.
        """
