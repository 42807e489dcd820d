"""An ensemble of trained networks whose class probabilities are averaged (InceptionTime's
ensemble of five, Fawaz et al. 2020): what ``anyconv train --ensemble K`` writes and
``load_run`` rebuilds."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from anyconv._checks import fail
from anyconv.nn.base import Module


class Ensemble(Module):
    """Members mapping ``(N, C, *spatial)`` to logits ``(N, K)``, averaged in probability.

    The output is the log of the mean of the members' softmax probabilities, so that its
    softmax is the average probability (what ``predict`` shows) and its argmax the
    ensemble's class, like any model's logits.

    Shapes:
        input ``(N, C, *spatial)`` -> log mean probabilities ``(N, K)``.

    Example:
        >>> a, b = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
        >>> x = torch.randn(4, 3)
        >>> mean = (a(x).softmax(1) + b(x).softmax(1)) / 2
        >>> bool(torch.allclose(Ensemble([a, b])(x).softmax(1), mean))
        True
    """

    def __init__(self, members: Sequence[torch.nn.Module]) -> None:
        super().__init__()
        if not members or not all(isinstance(m, torch.nn.Module) for m in members):
            raise fail("Ensemble", "members", "a non-empty sequence of modules", members, TypeError)
        self.members = torch.nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        log_probs = torch.stack([m(x).float().log_softmax(1) for m in self.members])
        return torch.logsumexp(log_probs, 0) - torch.log(torch.tensor(float(len(self.members))))
