"""``moving-digits``: the label is the direction of motion, which no single frame shows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from anyconv.data import load_dataset, make_moving_digits
from anyconv.data.moving_digits import DIRECTIONS

pytest.importorskip("sklearn", reason="moving-digits is made from scikit-learn's digits")
from sklearn.neighbors import NearestCentroid


@pytest.fixture(scope="module")
def clips():
    return load_dataset("moving-digits")


def _arrays(d):
    return d.x_train[:, 0].numpy(), d.y_train.numpy(), d.x_test[:, 0].numpy(), d.y_test.numpy()


def test_shapes_balance_and_names(clips):
    assert tuple(clips.x_train.shape) == (4000, 1, 10, 16, 16)
    assert tuple(clips.x_test.shape) == (1000, 1, 10, 16, 16)
    assert clips.kind == "video" and clips.num_classes == 8
    assert clips.class_names == list(DIRECTIONS)
    assert np.all(np.bincount(clips.y_train.numpy()) == 500)
    assert np.all(np.bincount(clips.y_test.numpy()) == 125)


def test_each_clip_is_one_digit_shifted_by_its_direction_every_frame(clips):
    x, y, _, _ = _arrays(clips)
    steps = np.array(list(DIRECTIONS.values()))
    for i in range(0, 4000, 97):
        dy, dx = steps[y[i]]
        for t in range(9):
            np.testing.assert_array_equal(np.roll(x[i, t], (dy, dx), axis=(0, 1)), x[i, t + 1])
    # the whole digit is always visible: the torus loses no pixel
    mass = x.sum(axis=(2, 3))
    np.testing.assert_allclose(mass, mass[:, :1].repeat(10, axis=1), rtol=1e-5)


def test_deterministic_for_a_seed_and_different_across_seeds(clips):
    again = load_dataset("moving-digits", seed=0)
    assert torch.equal(clips.x_train, again.x_train) and torch.equal(clips.y_test, again.y_test)
    other = make_moving_digits(400, 100, seed=1)
    assert not torch.equal(clips.x_train[:400], other.x_train)


def test_test_clips_use_the_held_out_digits():
    from anyconv.data.digits import digit_arrays

    d = make_moving_digits(200, 200, frames=2)
    _, _, x_test, _ = digit_arrays()
    held_out = {x.tobytes() for x in x_test[:, 0]}

    def digit(clip):  # undo the shift: roll until the 8x8 corner holds the whole digit mass
        for r in range(16):
            for c in range(16):
                s = np.roll(clip, (-r, -c), axis=(0, 1))
                if s[:8, :8].sum() == clip.sum():
                    yield s[:8, :8].tobytes()

    assert all(any(k in held_out for k in digit(c[0, 0])) for c in d.x_test[:20].numpy())


def _nearest_centroid_accuracy(f_train, y_train, f_test, y_test):
    clf = NearestCentroid().fit(f_train.reshape(len(f_train), -1), y_train)
    return clf.score(f_test.reshape(len(f_test), -1), y_test)


@pytest.mark.parametrize("t", [0, 4, 9])
def test_a_single_frame_says_nothing_about_the_class(clips, t):
    x_tr, y_tr, x_te, y_te = _arrays(clips)
    # raw pixels, and the translation-invariant |FFT| that a frame classifier could learn
    for feature in (lambda x: x[:, t], lambda x: np.abs(np.fft.fft2(x[:, t]))):
        acc = _nearest_centroid_accuracy(feature(x_tr), y_tr, feature(x_te), y_te)
        assert acc < 0.2, acc  # chance is 1/8; 1000 test clips give a standard error of 0.01


def test_a_single_frame_logistic_regression_is_at_chance(clips):
    from sklearn.linear_model import LogisticRegression

    x_tr, y_tr, x_te, y_te = _arrays(clips)
    clf = LogisticRegression(max_iter=100).fit(x_tr[:1000, 0].reshape(1000, -1), y_tr[:1000])
    assert clf.score(x_te[:, 0].reshape(len(x_te), -1), y_te) < 0.2


def test_two_consecutive_frames_reveal_the_class(clips):
    x_tr, y_tr, x_te, y_te = _arrays(clips)

    def motion(x, t=3):  # correlation of frame t+1 with frame t shifted one pixel each way
        a, b = x[:, t], x[:, t + 1]
        shifts = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
        c = np.stack([(b * np.roll(a, s, axis=(1, 2))).sum((1, 2)) for s in shifts], 1)
        return c / (a * a).sum((1, 2))[:, None]

    assert _nearest_centroid_accuracy(motion(x_tr), y_tr, motion(x_te), y_te) > 0.95


def test_four_directions_and_bad_arguments():
    d = make_moving_digits(40, 8, frames=3, size=12, directions=4)
    assert d.class_names == ["right", "down", "left", "up"] and d.input_shape == (1, 3, 12, 12)
    with pytest.raises(ValueError, match="argument 'directions' must be 4 or 8; got 6"):
        make_moving_digits(directions=6)
    with pytest.raises(ValueError, match="argument 'size' must be an int >= 8; got 4"):
        make_moving_digits(size=4)
    with pytest.raises(ValueError, match="argument 'frames' must be an int >= 2; got 1"):
        make_moving_digits(frames=1)
