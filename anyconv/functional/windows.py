"""Sliding windows as strided views: every receptive field of a padded input, no copy.

Shared by the layers that read windows (im2col's columns, overlap-save's blocks, SoftPool's
unfolded windows); it knows nothing about what the windows are used for.
"""

from __future__ import annotations

import torch

from anyconv.padding import effective_kernel

Ints = tuple[int, ...]


def sliding_windows(xp: torch.Tensor, kernel: Ints, stride: Ints, dilation: Ints) -> torch.Tensor:
    """Every receptive field of a padded input, as a view (no copy).

    Args:
        xp: padded input ``(N, C, *padded)``.
        kernel, stride, dilation: one int per spatial axis.

    Returns:
        a view ``(N, C, *out, *kernel)``: ``[n, c, j, p]`` is ``xp[n, c, j*stride +
        p*dilation]``.

    Example:
        >>> sliding_windows(torch.arange(6.0).view(1, 1, 6), (2,), (2,), (2,))[0, 0]
        tensor([[0., 2.],
                [2., 4.]])
    """
    for axis, (k_eff, s) in enumerate(zip(effective_kernel(kernel, dilation), stride, strict=True)):
        xp = xp.unfold(2 + axis, k_eff, s)
    return xp[(..., *(slice(None, None, d) for d in dilation))]
