"""Cross-fitted tables and sentences: chapter 02's summary, chapter 07's deferral rule per fold."""
import pandas as pd
import pytest

from tmvlib.report.cross_fit import cross_fitted_table, fold_range_text, interval_width, role_size_table


def summary():
    rows = []
    for model, auroc in (("pooled", 0.8), ("fold 0", 0.75), ("fold 1", 0.85)):
        for metric, value in (("AUROC", auroc), ("sensitivity", 0.7), ("specificity", 0.6)):
            rows.append({"model": model, "metric": metric, "value": value, "low": value - 0.1,
                         "high": value + 0.05, "images": 100 if model == "pooled" else 50,
                         "patients": 80 if model == "pooled" else 40})
    return pd.DataFrame(rows).set_index(["model", "metric"])


def test_the_table_has_the_pooled_row_first_and_each_folds_threshold_and_epoch():
    table = cross_fitted_table(summary(), pd.Series({0: 0.41, 1: 0.52}), {0: 3, 1: 5})
    assert table.index.tolist() == ["pooled", "fold 0", "fold 1"]
    assert table.loc["pooled", "AUROC"] == "0.800 [0.700, 0.850]"
    assert table.loc["fold 1", "threshold"] == "0.520" and table.loc["fold 1", "epoch kept"] == "5"
    assert table.loc["pooled", "images / patients"] == "100 / 80"


def test_range_width_and_role_sizes():
    assert fold_range_text(summary()) == "0.750 to 0.850 over the 2 folds"
    assert abs(interval_width(summary()) - 0.15) < 1e-12
    frame = pd.DataFrame({"patient_id": ["a", "a", "b"]})
    sizes = role_size_table({0: {"training": frame, "test": frame.head(1)}})
    assert sizes.loc[0, "training"] == "3 / 2" and sizes.loc[0, "test"] == "1 / 1"


def test_the_deferral_fold_table_gives_pooled_then_folds_with_the_certified_count():
    from tmvlib.report.cross_fit import deferral_fold_table, deferral_fold_text

    rows = []
    for model, certified, answered in (("fold 0", 1, 10), ("fold 1", 0, 0), ("pooled", 1, 10)):
        n = 100 if model == "pooled" else 50
        rows += [{"model": model, "score": "s", "rule": "marginal", "quantity": "coverage", "value": answered / n,
                  "low": 0.0, "high": 0.3, "n": n, "events": answered, "certified": certified, "calibration": 40},
                 {"model": model, "score": "s", "rule": "marginal", "quantity": "error among answered",
                  "value": 0.1 if answered else float("nan"), "low": 0.0 if answered else float("nan"),
                  "high": 0.3 if answered else float("nan"), "n": answered, "events": 1 if answered else 0,
                  "certified": certified, "calibration": 40}]
    outcomes = pd.DataFrame(rows)
    table = deferral_fold_table(outcomes, "s", "marginal")
    assert list(table.index) == ["pooled", "fold 0", "fold 1"]
    assert table.loc["pooled", "certified"] == "1 of 2 folds" and table.loc["fold 1", "certified"] == "no"
    assert table.loc["fold 1", "error among answered"] == "-"
    assert deferral_fold_text(outcomes, "s", "marginal").startswith("1 of the 2 fold models certify a threshold")
    with pytest.raises(KeyError, match="class-conditional"):
        deferral_fold_table(outcomes, "s", "class-conditional")


def test_fold_modes_text_names_each_folds_supported_modes():
    from tmvlib.report.cross_fit import fold_modes_text

    modes = pd.DataFrame({"fold": [0, 0, 1], "mode": ["AP view", "low confidence", "AP view"],
                          "status": ["supported", "not supported", "not supported"]})
    assert fold_modes_text(modes) == "fold 0: AP view; fold 1: none"
