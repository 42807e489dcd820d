"""Batch-wise data augmentation on tensors (no per-sample Python loop)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from anyconv._checks import fail


def random_shift(x: torch.Tensor, offsets: torch.Tensor, shift: int) -> torch.Tensor:
    """Shift each sample by up to ``shift`` pixels along its last two axes, filling with 0.

    Zero-pads the batch by ``shift`` on the last two axes and crops a window of the
    original size at a per-sample offset, with one gather for the whole batch. Video
    clips ``(N, C, T, H, W)`` move every frame by the same amount.

    Args:
        x: ``(N, C, *lead, H, W)``.
        offsets: int64 ``(N, 2)`` in ``[0, 2*shift]``: the crop's top-left corner in the
            padded batch, so ``shift`` means no movement.
        shift: the padding, in pixels.

    Returns:
        Tensor of the shape of ``x``.

    Example:
        >>> x = torch.arange(9.0).view(1, 1, 3, 3)
        >>> random_shift(x, torch.tensor([[2, 1]]), 1)[0, 0]
        tensor([[3., 4., 5.],
                [6., 7., 8.],
                [0., 0., 0.]])
    """
    if x.ndim < 4:
        raise fail("random_shift", "x", "a tensor (N, C, *lead, H, W)", x)
    if shift == 0:
        return x
    h, w = x.shape[-2:]
    padded = F.pad(x, (shift, shift, shift, shift))
    offsets = offsets.to(x.device)
    rows = offsets[:, 0, None] + torch.arange(h, device=x.device)  # (N, H)
    cols = offsets[:, 1, None] + torch.arange(w, device=x.device)  # (N, W)
    lead = x.ndim - 3  # axes between N and H (channels, time)
    n = len(x)
    # Gather rows then columns: each index tensor broadcasts over the axes in between.
    rows = rows.view(n, *([1] * lead), h, 1).expand(*padded.shape[:-2], h, padded.shape[-1])
    padded = padded.gather(-2, rows)
    cols = cols.view(n, *([1] * lead), 1, w).expand(*padded.shape[:-1], w)
    return padded.gather(-1, cols)
