"""Chapter-03 wording: verdicts from paired intervals on each side of zero, temperatures read
from their fitted values, and display tables."""
import pandas as pd
import pytest

from tmvlib.report.findings import (calibration_change, calibration_comparison, paired_verdict,
                                    prior_shift_verdict, shift_summary, temperature_reading)
from tmvlib.report.uncertainty_tables import (calibration_display, changes_display, family_display,
                                              prior_shift_display)
from tmvlib.report.wording import p_text

BEFORE = {"value": 0.081, "low": 0.050, "high": 0.110}
AFTER = {"value": 0.043, "low": 0.010, "high": 0.070}


def change(value, low, high, p_holm=None, mdd=0.03):
    row = {"value": value, "low": low, "high": high, "mdd": mdd}
    return row if p_holm is None else {**row, "p_holm": p_holm}


@pytest.mark.parametrize("interval, expected", [
    ((-0.038, -0.060, -0.012), "baseline + Platt has a lower smooth ECE than baseline (better)"),
    ((0.030, 0.010, 0.050), "baseline + Platt has a higher smooth ECE than baseline (worse)"),
    ((-0.010, -0.030, 0.012), "no measurable difference in smooth ECE between baseline + Platt and baseline"),
])
def test_calibration_change_reads_the_paired_interval(interval, expected):
    text = calibration_change(change(*interval), BEFORE, AFTER, "baseline + Platt", "baseline")
    assert text.startswith("smooth ECE 0.081 [0.050, 0.110] → 0.043 [0.010, 0.070]; ")
    assert expected in text
    if "no measurable" in expected:
        assert "detects differences of about 0.030 or more" in text


def test_a_holm_adjusted_p_above_alpha_overrides_an_interval_that_excludes_zero():
    text = calibration_change(change(-0.038, -0.060, -0.012, p_holm=0.2), BEFORE, AFTER, "a", "b")
    assert "no difference in smooth ECE" in text and "survives the Holm correction" in text
    assert "Holm-adjusted p = 0.20" in text
    kept = calibration_change(change(-0.038, -0.060, -0.012, p_holm=float("nan")), BEFORE, AFTER, "a", "b")
    assert "a has a lower smooth ECE" in kept  # NaN: outside the family, no adjustment


def test_nll_decides_and_the_smooth_ece_is_shown_beside_it():
    text = calibration_change(change(-0.038, -0.060, -0.012), BEFORE, AFTER, "a", "b", quantity="NLL",
                              descriptive=(AFTER, BEFORE))
    assert text.startswith("NLL 0.081 [0.050, 0.110] → 0.043 [0.010, 0.070] (smooth ECE 0.043 [0.010, 0.070] → "
                           "0.081 [0.050, 0.110], descriptive); a has a lower NLL than b (better)")
    both = calibration_comparison(change(-0.02, -0.04, -0.005), AFTER, BEFORE, quantity="NLL",
                                  descriptive=(BEFORE, AFTER))
    assert "(smooth ECE 0.081 [0.050, 0.110] vs 0.043 [0.010, 0.070], descriptive); the ensemble has a lower NLL" in both


def test_comparison_and_generic_verdict():
    text = calibration_comparison(change(-0.02, -0.04, -0.005), AFTER, BEFORE)
    assert text.startswith("smooth ECE: the ensemble 0.043 [0.010, 0.070] vs MC dropout 0.081 [0.050, 0.110]; ")
    assert "the ensemble has a lower smooth ECE than MC dropout (better)" in text
    assert "higher AURC" in paired_verdict(change(0.02, 0.01, 0.03), "x", "y", "AURC")


@pytest.mark.parametrize("t, p, expected", [
    (1.31, 0.004, "above 1: over-confident on validation, likelihood-ratio p = 0.004"),
    (0.72, 0.0001, "below 1: under-confident on validation, likelihood-ratio p < 0.001"),
    (1.08, 0.41, "not distinguishable from 1: neither over- nor under-confident, p = 0.410"),
    (0.95, 0.60, "not distinguishable from 1"),
])
def test_temperature_reading_follows_the_fitted_value(t, p, expected):
    text = temperature_reading({"baseline": t}, {"baseline": p})
    assert text.startswith(f"baseline T = {t:.2f} (") and expected in text


def test_shift_summary_lists_every_row_by_verdict():
    table = pd.DataFrame({"method": ["baseline", "ensemble", "ensemble"],
                          "score": ["decision uncertainty", "decision uncertainty", "mutual information"],
                          "low": [0.45, 0.40, 0.70], "high": [0.60, 0.55, 0.90]})
    assert shift_summary(table) == ("does not separate the sets: decision uncertainty (baseline, ensemble); "
                                    "rises on the external set: mutual information (ensemble)")


def test_prior_shift_verdict():
    raw = {"value": 0.35, "low": 0.30, "high": 0.40, "mean p": 0.41, "nll": 0.9, "nll_low": 0.8, "nll_high": 1.0}
    corrected = {"value": 0.02, "low": 0.0, "high": 0.04, "mean p": 0.06, "nll": 0.2, "nll_low": 0.1, "nll_high": 0.3}
    text = prior_shift_verdict(change(-0.7, -0.8, -0.6), raw, corrected, 0.05)
    assert text.startswith("at a prevalence of 5%, the Platt-scaled baseline's probabilities")
    assert "average 0.41 (NLL 0.900 [0.800, 1.000], smooth ECE 0.350 [0.300, 0.400])" in text
    assert "average 0.06" in text and "corrected has a lower NLL" in text


def test_display_tables():
    levels = pd.DataFrame([{"set": s, "base_method": "baseline", "calibration": c, "metric": m,
                            "value": 0.1, "low": 0.05, "high": 0.2, "estimate": 0.1, "p_calibrated": 0.012}
                           for s in ("test", "external") for c in ("none", "Platt") for m in ("smooth ECE", "NLL")])
    table = calibration_display(levels, ["smooth ECE", "NLL"])
    assert list(table.columns) == ["smooth ECE", "smooth ECE: p (calibrated)", "NLL"]
    assert table.index[0] == ("test", "baseline", "none") and table.iloc[0, 1] == "0.012"
    changes = levels[levels["calibration"] == "Platt"].assign(value=-0.01, low=-0.02, high=0.0)
    assert changes_display(changes, ["smooth ECE"]).iloc[0, 0] == "-0.010 [-0.020, +0.000]"
    family = pd.DataFrame([{"set": "test", "compared": "a", "against": "b", "metric": "AURC", "value": -0.02,
                            "low": -0.03, "high": -0.01, "p_value": 0.0004, "p_holm": 0.0008, "mdd": 0.01}])
    shown = family_display(family).iloc[0]
    assert shown["p"] == "< 0.001" and shown["comparison"] == "a - b" and "a has a lower AURC" in shown["verdict"]
    assert p_text(0.0123) == "0.012"
    prior = pd.DataFrame([{"method": "baseline + Platt", "probabilities": v, "value": 0.1, "low": 0.0,
                           "high": 0.2, "mean p": 0.3, "nll": 0.5, "nll_low": 0.4, "nll_high": 0.6}
                          for v in ("as calibrated", "prior-shift corrected")])
    shift = pd.DataFrame([{"method": "baseline + Platt", "metric": m, "value": -0.1, "low": -0.2, "high": -0.05}
                          for m in ("NLL", "smooth ECE")])
    shown = prior_shift_display(prior, shift, 0.05)
    assert list(shown.columns)[-1] == "Δ smooth ECE" and shown.iloc[0]["Δ NLL"] == "-0.100 [-0.200, -0.050]"
