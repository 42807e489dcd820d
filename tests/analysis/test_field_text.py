"""Issue 26.10: fractional receptive fields (after resampling, as lenet5 on the 8x8 digits)
are rounded in tables and labels, never printed as 4.33333."""

from anyconv.analysis.receptive import axes_text
from anyconv.cli import main


def test_axes_text_rounds_fractions_and_keeps_integers():
    assert axes_text((5, 5.0)) == "5x5"
    assert axes_text((13 / 3, 13 / 3)) == "4.33x4.33"
    assert axes_text((1 / 3,)) == "0.33" and axes_text((2.5, 0.125)) == "2.5x0.12"


def test_summary_of_lenet5_on_the_digits_shows_the_upsampling_and_rounded_fields(capsys):
    assert main(["summary", "lenet5", "--input-shape", "1,8,8"]) == 0
    out = capsys.readouterr().out
    assert "1x24x24" in out and "4.33x4.33" in out and "0.33x0.33" in out
    assert "4.33333" not in out and "0.333333" not in out
