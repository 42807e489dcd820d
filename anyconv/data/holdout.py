"""Stratified, seeded hold-outs: the test split of an image folder without one, and the
trainer's validation split (:mod:`anyconv.train.validation`)."""

from __future__ import annotations

import torch

from anyconv._checks import fail


def stratified_split(
    y: torch.Tensor, fraction: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices ``(train, val)`` holding out ``fraction`` of each class of labels ``y (N,)``.

    Each class gives ``round(fraction * n_c)`` samples, at least one where the class has
    two or more and ``fraction > 0``, and never all of them; indices come out sorted.

    Example:
        >>> train, val = stratified_split(torch.tensor([0, 0, 0, 0, 1, 1, 1, 1, 1, 1]), 0.25, 0)
        >>> len(train), len(val), sorted(torch.tensor([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])[val].tolist())
        (7, 3, [0, 1, 1])
    """
    if not isinstance(fraction, int | float) or isinstance(fraction, bool) or not 0 <= fraction < 1:
        raise fail("stratified_split", "fraction", "a number in [0, 1)", fraction)
    generator = torch.Generator().manual_seed(seed)
    held: list[torch.Tensor] = []
    for label in torch.unique(y).tolist():
        members = (y == label).nonzero().flatten()
        n = len(members)
        take = min(max(round(fraction * n), 1 if fraction > 0 and n > 1 else 0), n - 1)
        if take > 0:
            held.append(members[torch.randperm(n, generator=generator)[:take]])
    val = torch.cat(held).sort().values if held else torch.zeros(0, dtype=torch.long)
    keep = torch.ones(len(y), dtype=torch.bool)
    keep[val] = False
    return keep.nonzero().flatten(), val
