"""Image transforms on images of every size and aspect: the crop boxes stay inside the
image (Pillow refuses a box that starts at -3.6e-15), and the output has the asked size."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from anyconv.data.transforms import (
    ImageTransform,
    centre_box,
    clamp_box,
    image_size,
    random_box,
)

pytest.importorskip("PIL.Image")

SIDES = range(1, 80)
TARGETS = (24, 28, 32)
GRID = list(itertools.product(SIDES, SIDES, TARGETS))  # 18,723 (width, height, target)


def _inside(box, width, height):
    left, top, right, bottom = box
    return 0 <= left < right <= width and 0 <= top < bottom <= height


def test_the_grid_is_the_issue_s_grid():
    assert len(GRID) == 18_723


def test_centre_boxes_of_every_size_lie_inside_the_image():
    # was: 175 of these pairs gave a box at -3.55e-15 (e.g. 47x47 to 24x24)
    outside = [(w, h, t) for w, h, t in GRID if not _inside(centre_box(w, h, (t, t)), w, h)]
    assert outside == []
    assert centre_box(47, 47, (24, 24)) == (0.0, 0.0, 47.0, 47.0)


def test_centre_boxes_of_non_square_targets_keep_the_aspect():
    for w, h in itertools.product(SIDES[::2], SIDES):
        for size in ((24, 32), (32, 24), (28, 1)):
            left, top, right, bottom = box = centre_box(w, h, size)
            assert _inside(box, w, h), (w, h, size)
            # one side spans the image; the other has the target's aspect
            assert right - left == pytest.approx(w) or bottom - top == pytest.approx(h)
            aspect = (right - left) / (bottom - top)
            assert aspect == pytest.approx(size[1] / size[0], rel=1e-9)


def test_random_boxes_of_every_size_lie_inside_the_image():
    # random_box does not depend on the target: every (width, height), many draws each
    outside = []
    rng = np.random.default_rng(0)
    for w, h in itertools.product(SIDES, SIDES):
        for _ in range(len(TARGETS)):
            box = random_box(w, h, rng)
            if not _inside(box, w, h):
                outside.append((w, h, box))
    assert outside == []


def _unclamped_centre_box(width, height, size):
    """The box before the fix, to pick the sizes that crashed."""
    h, w = size
    scale = max(h / height, w / width)
    left, top = (width - w / scale) / 2, (height - h / scale) / 2
    return left, top, left + w / scale, top + h / scale


CRASHED = [(w, h, t) for w, h, t in GRID if min(_unclamped_centre_box(w, h, (t, t))[:2]) < 0]


def _transform_all(triples, random):
    # Through Pillow, as train, evaluate and predict call it, in uint8 (8-bit images) and
    # float32 (16-bit grey) alike.
    rng = np.random.default_rng(0)
    failed = []
    transforms = {t: ImageTransform(size=(t, t)) for t in TARGETS}
    for w, h, t in triples:
        image = rng.integers(0, 256, (h, w, 1 + 2 * ((w + h) % 2)), dtype=np.uint8)
        if (w * h) % 7 == 0:
            image = image.astype(np.float32) / 255
        try:
            out = transforms[t](image, np.random.default_rng([w, h]) if random else None)
        except ValueError as e:
            failed.append((w, h, t, str(e)))
            continue
        if out.shape != (image.shape[2], t, t) or not np.isfinite(out).all():
            failed.append((w, h, t, out.shape))
    return failed


@pytest.mark.parametrize("random", [False, True], ids=["centre", "random"])
def test_the_sizes_that_crashed_transform_to_the_target(random):
    assert len(CRASHED) == 175  # the issue's count: e.g. 47x47 to 24
    assert (47, 47, 24) in CRASHED
    assert _transform_all(CRASHED + GRID[::97], random) == []


@pytest.mark.slow
@pytest.mark.parametrize("random", [False, True], ids=["centre", "random"])
def test_every_size_of_the_grid_transforms_to_the_target(random):
    assert _transform_all(GRID, random) == []


def test_a_constant_image_stays_constant_at_every_size():
    # the resampling neither darkens the border nor leaves a seam where the box was clamped
    for w, h in itertools.product((1, 2, 3, 47, 79), repeat=2):
        out = ImageTransform(size=(24, 24))(np.full((h, w, 1), 200, np.uint8))
        assert np.allclose(out, 200 / 255), (w, h)


def test_clamp_box_keeps_a_box_that_fits():
    assert clamp_box((1.5, 2.0, 3.0, 4.0), 5, 5) == (1.5, 2.0, 3.0, 4.0)
    assert clamp_box((-1e-15, -1e-15, 5 + 1e-14, 4.0), 5, 4) == (0.0, 0.0, 5.0, 4.0)


@pytest.mark.parametrize("value", [40_000, 2**70, (10_000, 9_000), [1, 10**9]])
def test_image_sizes_beyond_pillows_pixel_limit_are_refused(value):
    # --image-size 40000 took 4.8 GB per image in every worker; 2**70 an OverflowError
    # inside a DataLoader worker
    with pytest.raises(ValueError, match=r"at most 89,478,485 pixels"):
        image_size(value)
    with pytest.raises(ValueError, match=r"at most 89,478,485 pixels"):
        ImageTransform(size=value)


def test_image_sizes_within_the_limit_are_kept():
    assert image_size(9000) == (9000, 9000)
    assert image_size((1, 89_478_485)) == (1, 89_478_485)
