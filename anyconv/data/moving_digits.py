"""``moving-digits``: synthetic video clips where the class is the direction of motion.

Each clip shows one 8x8 digit from scikit-learn's digits moving one pixel per frame across
a ``size x size`` frame in one of 8 (or 4) directions; the label is the direction, not the
digit. The frame is a torus: what leaves on one side comes back on the other, and the
start position is uniform over all ``size * size`` positions. So at *every* frame index the
digit's position is exactly uniform and independent of the class, and the digit itself is
drawn independently of the class: a single frame carries no information about the label
(a 2-D network on single frames is at chance), while two consecutive frames determine it
(a 3-D network, or anything that compares frames, solves it). A bounded frame without
wrap-around could not do this: a digit that moves right and keeps inside the frame must
start near the left edge, so its first frame would give the class away.

Train clips use the digits' train images, test clips their test images, so the test
digits are unseen. Classes are exactly balanced; everything is a deterministic function of
the seed.
"""

from __future__ import annotations

import numpy as np

from anyconv._checks import check_int, fail
from anyconv.data._common import no_argument, to_splits
from anyconv.data.base import Splits, register_dataset
from anyconv.data.digits import digit_arrays

# (row step, column step) per frame, clockwise from "right" in image coordinates (rows down)
DIRECTIONS: dict[str, tuple[int, int]] = {
    "right": (0, 1),
    "down-right": (1, 1),
    "down": (1, 0),
    "down-left": (1, -1),
    "left": (0, -1),
    "up-left": (-1, -1),
    "up": (-1, 0),
    "up-right": (-1, 1),
}


def _clips(
    pool: np.ndarray, n: int, frames: int, size: int, steps: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` clips ``(n, 1, frames, size, size)`` and their labels, drawn from ``pool``."""
    y = rng.permutation(np.arange(n) % len(steps))
    pick = rng.integers(len(pool), size=n)
    start = rng.integers(size, size=(n, 2))
    canvas = np.zeros((len(pool), size, size), np.float32)
    canvas[:, :8, :8] = pool[:, 0]
    # position of the digit's corner at each frame; pixel (i, j) of a frame shows
    # canvas[(i - row) % size, (j - col) % size]
    pos = start[:, None, :] + np.arange(frames)[None, :, None] * steps[y][:, None, :]
    grid = np.arange(size)
    rows = (grid - pos[..., :1]) % size  # (n, frames, size)
    cols = (grid - pos[..., 1:]) % size
    x = canvas[pick[:, None, None, None], rows[..., :, None], cols[..., None, :]]
    return x[:, None], y


def moving_digits(
    n_train: int = 4000,
    n_test: int = 1000,
    *,
    frames: int = 10,
    size: int = 16,
    directions: int = 8,
    seed: int = 0,
) -> Splits:
    """Clips ``(N, 1, frames, size, size)`` float32 in [0, 1] of a digit moving one pixel per
    frame on a torus; labels ``(N,)`` are the direction: 8 (right, down-right, down,
    down-left, left, up-left, up, up-right) or 4 (right, down, left, up).

    Example:
        >>> d = moving_digits(80, 16, frames=6, directions=4, seed=1)
        >>> tuple(d.x_train.shape), d.num_classes, d.class_names
        ((80, 1, 6, 16, 16), 4, ['right', 'down', 'left', 'up'])
    """
    func = "moving_digits"
    for arg, value, low in (
        ("n_train", n_train, 1),
        ("n_test", n_test, 1),
        ("frames", frames, 2),
        ("size", size, 8),
    ):
        check_int(value, arg, func, minimum=low)
    if directions not in (4, 8):
        raise fail(func, "directions", "4 or 8", directions)
    names = list(DIRECTIONS)[:: 8 // directions]
    steps = np.array([DIRECTIONS[d] for d in names])
    x_train, _, x_test, _ = digit_arrays()
    rng = np.random.default_rng(seed)
    train = _clips(x_train, n_train, frames, size, steps, rng)
    test = _clips(x_test, n_test, frames, size, steps, rng)
    return to_splits(*train, *test, kind="video", name="moving-digits", class_names=names)


@register_dataset(
    "moving-digits",
    "videos (1, 10, 16, 16) of a digit moving in one of 8 "
    "directions (the label), 4000 train / 1000 test",
)
def load_moving_digits(argument: str | None = None, *, seed: int = 0) -> Splits:
    """:func:`moving_digits` with its defaults: 4000 train / 1000 test clips
    ``(N, 1, 10, 16, 16)``, 8 directions; a different ``seed`` gives different clips.

    Example:
        >>> d = load_moving_digits(seed=0)
        >>> tuple(d.x_test.shape), d.kind
        ((1000, 1, 10, 16, 16), 'video')
    """
    no_argument("moving-digits", argument)
    return moving_digits(seed=seed)
