"""Trust sentences of chapters 06 and 07: each branch of each verdict on hand-built numbers."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tmvlib.report.trust_verdicts import (coefficients_text, count_share_text, detection_verdict, endpoint_verdict,
                                          instability_captions, interval_at, method_comparison_text,
                                          quadrant_counts, sentence, stability_verdict,
                                          threshold_caveat)
from tmvlib.tables.quadrants import AMONG


def test_interval_at_reads_one_row():
    table = pd.DataFrame({"set": ["test", "test"], "score": ["a", "b"], "value": [0.7123, -0.05],
                          "low": [0.6, -0.1], "high": [0.8, 0.01]}).set_index(["set", "score"])
    assert interval_at(table, ("test", "a")) == "0.712 [0.600, 0.800]"
    assert interval_at(table, ("test", "a"), digits=2) == "0.71 [0.60, 0.80]"
    assert interval_at(table, ("test", "b"), digits=2, signed=True) == "-0.05 [-0.10, +0.01]"


def test_small_texts():
    assert sentence("yes: it is") == "Yes: it is" and sentence("") == ""
    assert coefficients_text(pd.Series({"decision uncertainty": 0.853, "intercept": -2.1})) == (
        "decision uncertainty +0.85, intercept -2.10")
    assert method_comparison_text({"Score-CAM (top-k)": 0.812, "Grad-CAM": 0.9}, 4) == (
        "Score-CAM 0.81 vs Grad-CAM 0.90 (mean Spearman over 4 images; too few images for an interval)")
    picks = pd.DataFrame({"image_id": ["x"], "instability": [0.123], "prob": [0.876], "row": [0]})
    assert instability_captions(picks) == ["instability 0.12 · p = 0.88\nx"]


@pytest.mark.parametrize("low, high, expect", [
    (0.55, 0.7, "detects errors better than chance"),
    (0.3, 0.45, "ranks errors as *more* stable than correct predictions"),
    (0.45, 0.6, "does not detect errors better than chance at this sample size"),
    (0.5, 0.6, "does not detect errors better than chance at this sample size"),
    (np.nan, np.nan, "does not detect errors better than chance at this sample size"),
])
def test_detection_verdict(low, high, expect):
    assert detection_verdict(low, high) == expect


def _endpoint(value, low, high, role="primary", p_holm=np.nan, quantity="AURC"):
    return pd.Series({"value": value, "low": low, "high": high, "a": "combined", "b": "decision uncertainty",
                      "quantity": quantity, "lower_is_better": quantity == "AURC", "mdd": 0.021, "role": role,
                      "p_holm": p_holm})


def test_endpoint_verdict_reads_the_paired_interval():
    assert endpoint_verdict(_endpoint(-0.02, -0.03, -0.01)).startswith(
        "the combined score has a lower AURC than the decision uncertainty (better)")
    assert endpoint_verdict(_endpoint(0.02, 0.01, 0.03)).startswith("the combined score has a higher AURC")
    none = endpoint_verdict(_endpoint(0.001, -0.01, 0.012))
    assert none.startswith("no measurable difference in AURC") and "about 0.021 or more" in none
    # a secondary comparison whose interval excludes 0 but whose Holm-adjusted p does not pass
    held = endpoint_verdict(_endpoint(-0.02, -0.03, -0.001, role="secondary", p_holm=0.09))
    assert held.startswith("no difference in AURC between") and "survives the Holm correction" in held
    assert "the interval excludes 0, but Holm-adjusted p = 0.090" in held
    auroc = endpoint_verdict(_endpoint(0.05, 0.01, 0.09, role="secondary", p_holm=0.01,
                                       quantity="error-detection AUROC"))
    assert "higher error-detection AUROC" in auroc and "(better)" in auroc


def test_counts_of_one_set():
    q = pd.DataFrame({"correct": [True, False, False, True], "danger": [False, True, False, False],
                      "confident": [True, True, False, True], "stable": [True, False, False, True]})
    assert count_share_text(q["danger"]) == "1 (25%)" and count_share_text(q["danger"].iloc[:0]) == "none (no image)"
    counts = quadrant_counts(q)
    assert counts == {"n": 4, "danger": "1 (25%)", "errors": 2, "confident_share_errors": "50%",
                      "uncertain": "1 (25%)", "unstable": "2 (50%)"}
    assert list(counts) == ["n", "danger", "errors", "confident_share_errors", "uncertain", "unstable"]
    assert quadrant_counts(q[q["correct"]])["confident_share_errors"] == "n/a"


def test_threshold_caveat():
    test = pd.DataFrame({"prob": [0.45, 0.3, 0.6, 0.42], "danger": [True, True, True, False]})
    text = threshold_caveat(test, 0.4, "1 - max(p, 1-p)")
    assert "decision threshold is 0.400" in text and text.endswith(": 1 of 3)")
    assert "far from changing its label" in threshold_caveat(test, 0.4, "decision uncertainty")
    assert threshold_caveat(test, 0.4, "MC mutual information") == (
        "the uncertainty score (MC mutual information) does not depend on the decision threshold (0.400), so a "
        "prediction just across the threshold can still count as confident")


def rates(diff, stable=(0.2, 40), unstable=(0.1, 40), events=5, among="all"):
    rows = [("stable", stable[0], np.nan, np.nan, stable[1], events),
            ("unstable", unstable[0], np.nan, np.nan, unstable[1], events),
            ("unstable - stable", *diff, stable[1] + unstable[1], events)]
    frame = pd.DataFrame(rows, columns=["explanation", "value", "low", "high", "images", "events"])
    other = frame.assign(value=99.0)  # another set and reading must not be picked
    return pd.concat([frame.assign(set="test", among=AMONG[among]), other.assign(set="external", among=AMONG[among]),
                      other.assign(set="test", among=AMONG["confident" if among == "all" else "all"])])


def test_stability_verdict_branches():
    assert stability_verdict(rates((0.1, 0.05, 0.15)), "test", "all", 10) == (
        "yes: the danger-zone share is lower with a stable explanation (0.200 with a stable vs 0.100 with an "
        "unstable explanation; difference +0.100 [+0.050, +0.150])")
    assert stability_verdict(rates((-0.1, -0.15, -0.05), among="confident"), "test", "confident", 10).startswith(
        "no, the opposite: the error rate among confident predictions is *higher* with a stable explanation")
    assert stability_verdict(rates((0.0, -0.05, 0.05)), "test", "all", 10).endswith(
        "difference +0.000 [-0.050, +0.050], an interval that includes 0, so this sample cannot tell")
    assert stability_verdict(rates((0.1, 0.05, 0.15), unstable=(0.1, 3)), "test", "all", 10) == (
        "too few images to compare: 40 with a stable and 3 with an unstable explanation (at least 10 each needed)")
    assert stability_verdict(rates((0.1, np.nan, np.nan)), "test", "all", 10).startswith("too few images")
    assert stability_verdict(rates((0.1, 0.05, 0.15), events=0), "test", "all", 10) == (
        "there is nothing to compare: no confident error at all")
    assert stability_verdict(rates((0.1, 0.05, 0.15), events=0, among="confident"), "test", "confident", 10) == (
        "there is nothing to compare: no confident prediction is wrong")
    assert stability_verdict(rates((np.nan,) * 3, stable=(np.nan, 0), unstable=(np.nan, 0)), "test", "all", 10) == (
        "there is nothing to compare: no image in this set")


def test_nuisance_factors_text_lists_measurable_flips_only():
    from tmvlib.report.trust_verdicts import nuisance_factors_text

    rows = pd.DataFrame({"set": "test", "quantity": "label flip", "factor": ["rotation+", "noise", "gamma-"],
                         "value": [0.12, 0.01, 0.3], "low": [0.05, 0.0, 0.2], "high": [0.2, 0.03, 0.4]})
    assert nuisance_factors_text(rows, "test") == "gamma- 30% [20%, 40%], rotation+ 12% [5%, 20%]"
    assert nuisance_factors_text(rows.assign(low=0.0), "test").startswith("no single factor")
