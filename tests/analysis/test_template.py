"""match_template against scikit-image and a float64 brute-force loop."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from anyconv.analysis import match_template

skimage_feature = pytest.importorskip("skimage.feature")


def brute_force(image: np.ndarray, template: np.ndarray, pads) -> np.ndarray:
    """NCC at every position of the (C, *spatial) image zero-padded by ``pads`` ((lo, hi)
    per axis), all channels jointly."""
    k = template.shape[1:]
    padded = np.pad(image, [(0, 0), *pads])
    out_shape = [p - b + 1 for p, b in zip(padded.shape[1:], k)]
    t = template - template.mean()
    out = np.zeros(out_shape)
    for u in itertools.product(*map(range, out_shape)):
        w = padded[(slice(None), *(slice(i, i + b) for i, b in zip(u, k)))]
        w = w - w.mean()
        den = np.sqrt((w * w).sum() * (t * t).sum())
        out[u] = (w * t).sum() / den if den > 1e-12 else 0.0
    return out


@pytest.mark.parametrize(
    "shape, kernel",
    [((61,), (9,)), ((40, 30), (7, 5)), ((40, 30), (6, 4)), ((14, 12, 11), (3, 4, 5))],
)
@pytest.mark.parametrize("algorithm", ["native", "fft"])
def test_matches_scikit_image(shape, kernel, algorithm):
    rng = np.random.default_rng(len(shape))
    image, template = rng.random(shape), rng.random(kernel)
    x, t = torch.tensor(image)[None, None], torch.tensor(template)[None]
    if len(shape) >= 2:  # scikit-image takes 2-D and 3-D images
        got = match_template(x, t, algorithm=algorithm)[0].numpy()
        np.testing.assert_allclose(got, skimage_feature.match_template(image, template), atol=1e-10)
        centred = [(k // 2, (k - 1) // 2) for k in kernel]  # scikit-image's pad_input centre
        got = match_template(x, t, padding=centred, algorithm=algorithm)[0].numpy()
        want = skimage_feature.match_template(image, template, pad_input=True)
        np.testing.assert_allclose(got, want, atol=1e-10)
    got = match_template(x, t, padding="same", algorithm=algorithm)[0].numpy()
    want = brute_force(image[None], template[None], [((k - 1) // 2, k // 2) for k in kernel])
    np.testing.assert_allclose(got, want, atol=1e-10)


def test_channels_count_jointly_and_batch_is_kept():
    g = torch.Generator().manual_seed(0)
    image = torch.rand(3, 2, 20, 17, generator=g, dtype=torch.float64)
    template = torch.rand(2, 4, 3, generator=g, dtype=torch.float64)
    got = match_template(image, template)
    assert got.shape == (3, 17, 15)
    for n in range(3):
        want = brute_force(image[n].numpy(), template.numpy(), [(0, 0), (0, 0)])
        np.testing.assert_allclose(got[n].numpy(), want, atol=1e-10)


def test_finds_an_affine_copy_and_scores_flat_windows_zero():
    g = torch.Generator().manual_seed(1)
    image = torch.rand(1, 1, 64, 64, generator=g)
    image[..., :16, :] = 0.5  # flat band
    template = image[0, :, 30:41, 12:21] * -2 + 7  # a decreasing copy: score -1
    r = match_template(image, template)
    assert divmod(int(r.flatten().argmin()), r.shape[-1]) == (30, 12)
    assert r.min().item() == pytest.approx(-1, abs=1e-4)
    assert r.abs().max() <= 1 + 1e-5
    assert (r[0, :6] == 0).all()  # windows wholly inside the flat band


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="template"):
        match_template(torch.rand(1, 2, 10, 10), torch.rand(3, 3, 3))
    with pytest.raises(ValueError, match="template"):
        match_template(torch.rand(1, 1, 4, 4), torch.rand(1, 6, 6))
    with pytest.raises(TypeError, match="image"):
        match_template(np.zeros((1, 1, 4, 4)), torch.rand(1, 2, 2))
