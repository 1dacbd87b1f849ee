import numpy as np
import pytest
from tmv_testing import SHORTCUT_PROBS, SHORTCUT_THRESHOLDS
from tmv_testing import shortcut_evaluation as evaluation

from tmvlib.tables.shortcut_control import (COMPARISON_COLUMNS, MODEL_NAMES, comparison,
                                            contrast_auroc_table, contrast_member,
                                            shortcut_comparisons)


PROBS, THRESHOLDS = SHORTCUT_PROBS, SHORTCUT_THRESHOLDS


def test_contrasts_keep_the_positives_and_their_negatives():
    frame = evaluation(4)
    assert contrast_member(frame, "vs No Finding").sum() == 8
    assert contrast_member(frame, "vs other findings").sum() == 8
    assert contrast_member(frame, "vs every other image").all()


def test_auroc_table_has_one_row_per_contrast_and_model_with_intervals_around_estimates():
    table = contrast_auroc_table(evaluation(), PROBS, n_boot=100)
    assert len(table) == 6 and set(table["model"]) == set(MODEL_NAMES.values())
    assert ((table["low"] <= table["auroc"]) & (table["auroc"] <= table["high"])).all()
    row = table[(table["contrast"] == "vs other findings") & (table["model"] == MODEL_NAMES["no_finding"])]
    assert row["auroc"].iloc[0] == pytest.approx(0.5, abs=0.15)  # cannot tell the abnormal apart


def test_an_abnormality_detector_shows_a_gap_and_calls_other_findings_positive():
    table = shortcut_comparisons(evaluation(), PROBS, THRESHOLDS, n_boot=200)
    assert list(table.columns) == COMPARISON_COLUMNS and len(table) == 7
    gap = comparison(table, f"AUROC gap, {MODEL_NAMES['no_finding']}")
    assert gap["low"] > 0.2  # much better against No Finding than against other findings
    called = comparison(table, f"called positive, {MODEL_NAMES['no_finding']}")
    assert called["a_value"] > 0.8 and called["b_value"] < 0.2 and called["p_holm"] < 0.05
    specific = comparison(table, f"AUROC gap, {MODEL_NAMES['all']}")
    assert specific["low"] <= 0 <= specific["high"]
    better = comparison(table, "AUROC difference vs other findings")
    assert better["low"] > 0.2  # the specific model separates pneumonia from other findings
    assert (table["p_holm"] >= table["p_value"]).all()


def test_a_missing_negative_kind_gives_undefined_rows_not_an_error():
    frame = evaluation()
    frame = frame[frame["negative"] != "other finding"]
    table = shortcut_comparisons(frame, PROBS, THRESHOLDS, n_boot=50)
    assert np.isnan(comparison(table, "AUROC difference vs other findings")["value"])
    assert np.isfinite(comparison(table, "AUROC difference vs No Finding")["value"])
    with pytest.raises(KeyError, match="no comparison"):
        comparison(table, "AUROC difference vs Mass")
