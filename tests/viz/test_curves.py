"""The history picture of short and long runs, and the confusion matrix's labels."""

import pytest

from anyconv.viz.curves import history_figure, plot_confusion, plot_history, smooth


def _rows(n):
    return [
        {
            "epoch": e,
            "loss": 1 / e,
            "accuracy": 1 - 0.5 / e,
            "test_loss": 1.1 / e,
            "test_accuracy": 1 - 0.6 / e,
        }
        for e in range(1, n + 1)
    ]


@pytest.mark.parametrize("epochs", [1, 2, 7])
def test_whole_epoch_ticks_and_a_per_step_curve(epochs):
    steps = [[2.0 - 0.01 * i for i in range(23)] for _ in range(epochs)]
    fig = history_figure(_rows(epochs), steps, title="lenet5 on digits")
    loss, accuracy = fig.axes
    for ax in (loss, accuracy):
        lo, hi = ax.get_xlim()
        shown = [t for t in ax.get_xticks() if lo <= t <= hi]
        assert shown and all(float(t).is_integer() for t in shown)
    lines = {line.get_label(): line for line in loss.get_lines()}
    curve = lines["train, per step (smoothed)"]
    assert len(curve.get_xdata()) == 23 * epochs and curve.get_xdata()[-1] == epochs
    assert fig._suptitle.get_text() == "lenet5 on digits"


def test_smoothing_follows_a_step_and_starts_unbiased():
    values = [1.0] * 50 + [0.0] * 50
    out = smooth(values)
    assert out[0] == 1.0 and out[49] == pytest.approx(1.0)
    assert out[-1] < 0.01  # caught up with the new level


def test_pictures_written_and_labels_are_never_mathtext(tmp_path):
    assert plot_history(_rows(2), tmp_path / "h.png", steps=[[1.0, 0.8], [0.6, 0.5]]).stat().st_size
    names = ["$x$", "[red]", "a b", "é"]
    path = plot_confusion([[1, 0, 0, 0]] * 4, names, tmp_path / "c.png", title="m on $d$")
    assert path.stat().st_size > 1000
