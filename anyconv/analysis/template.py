"""Template matching by normalized cross-correlation (Lewis, "Fast Normalized
Cross-Correlation", 1995): a correlation with the zero-mean template, divided by the local
standard deviation of the image under it.

The correlation is :func:`anyconv.conv`, so ``algorithm="auto"`` sends large templates to
the FFT path; the window sums of the image and its square come from cumulative sums
(integral images), in float64, so the subtraction ``Σx² − (Σx)²/n`` does not lose the
variance of flat regions to rounding.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from anyconv._checks import check_float_tensor, check_input, fail
from anyconv.functional.conv import conv
from anyconv.padding import conv_spec, pad


def _window_sums(x: torch.Tensor, kernel: tuple[int, ...]) -> torch.Tensor:
    """Sums of ``x`` (``(N, *spatial)``, already padded) over every window of ``kernel``
    that fits: ``(N, *(n - k + 1))``, by one cumulative sum per axis."""
    for axis, k in enumerate(kernel, start=1):
        c = torch.nn.functional.pad(x.cumsum(axis), [0, 0] * (x.dim() - 1 - axis) + [1, 0])
        n = c.shape[axis]
        x = c.narrow(axis, k, n - k) - c.narrow(axis, 0, n - k)
    return x


def match_template(
    image: torch.Tensor,
    template: torch.Tensor,
    *,
    padding: Any = "valid",
    padding_mode: str = "zeros",
    algorithm: str = "auto",
) -> torch.Tensor:
    """Normalized cross-correlation of ``template`` with every window of ``image``.

    ``r(u) = Σ (x_u − mean(x_u)) (t − mean(t)) / sqrt(Σ (x_u − mean(x_u))² · Σ (t − mean(t))²)``
    over the window ``x_u`` the template covers at ``u`` (all channels together): 1 where
    the window is an increasing affine copy of the template, -1 for a decreasing one, and 0
    where the window (or the template) is constant. This is
    ``skimage.feature.match_template``. Its ``pad_input=True`` is ``padding="same"`` for odd
    template sizes; for an even size ``k`` it centres on tap ``k//2`` where anyconv's
    ``"same"`` centres on ``(k-1)//2``, so it equals ``padding=(k//2, (k-1)//2)`` per axis.

    Args:
        image: ``(N, C, *spatial)`` with 1, 2 or 3 spatial axes.
        template: ``(C, *kernel)``.
        padding: any padding rule of :func:`anyconv.conv` (``"valid"``: the template stays
            inside the image; ``"same"``: one score per image position, centred).
        padding_mode: the border of :func:`anyconv.conv` the padding uses.
        algorithm: the algorithm of the correlation (see :func:`anyconv.conv`).

    Returns:
        ``(N, *out_spatial)``, scores in ``[-1, 1]``, in the image's dtype.

    Example:
        >>> image = torch.rand(1, 1, 40, 50)
        >>> template = image[0, :, 10:17, 20:25] * 3 + 1  # an affine copy
        >>> r = match_template(image, template)
        >>> r.shape, divmod(int(r.flatten().argmax()), r.shape[-1])
        (torch.Size([1, 34, 46]), (10, 20))
        >>> round(r.max().item(), 4)
        1.0
    """
    func = "match_template"
    check_input(image, func, arg="image")
    check_float_tensor(template, "template", func)
    if template.dim() != image.dim() - 1 or template.shape[0] != image.shape[1]:
        raise fail(
            func,
            "template",
            f"a tensor (C, *kernel) with C = {image.shape[1]} and {image.dim() - 2} kernel axes",
            template,
        )
    kernel = tuple(template.shape[1:])
    spec = conv_spec(
        tuple(image.shape),
        (1, *template.shape),
        stride=1,
        padding=padding,
        dilation=1,
        groups=1,
        padding_mode=padding_mode,
        func=func,
    )
    if any(m < 1 for m in spec.out_shape):
        raise fail(
            func, "template", f"no larger than the padded image {tuple(image.shape[2:])}", template
        )
    t = template.to(image.dtype)
    centred = t - t.mean()
    xcorr = conv(
        image, centred[None], padding=padding, padding_mode=padding_mode, algorithm=algorithm
    )[:, 0]
    x = pad(image.double(), spec.padding, spec.padding_mode)
    count = math.prod(template.shape)
    window = _window_sums(x.sum(1), kernel)
    window2 = _window_sums(x.square().sum(1), kernel)
    variance = (window2 - window.square() / count).clamp_min(0)
    denominator = (variance * centred.double().square().sum()).sqrt()
    eps = torch.finfo(image.dtype).eps
    scores = xcorr.double() / denominator.clamp_min(eps)
    scores = torch.where(denominator > eps, scores, torch.zeros_like(scores))
    return scores.to(image.dtype)
