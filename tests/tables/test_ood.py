import numpy as np
import pandas as pd
import pytest

from tmvlib.tables.ood import flag_table, separation_auroc


def _frame():
    rng = np.random.default_rng(0)
    n = 200
    shifted = np.r_[np.zeros(n // 2, bool), np.ones(n // 2, bool)]
    score = rng.normal(size=n) + 2.0 * shifted
    flagged = score > 1.0
    correct = ~(flagged & (rng.random(n) < 0.6)) & ~(~flagged & (rng.random(n) < 0.1))
    return pd.DataFrame({"patient_id": np.arange(n) // 2, "set": np.where(shifted, "external", "test"),
                         "score": score, "flagged": flagged, "correct": correct})


def test_flag_table_rates_and_error_contrast():
    table = flag_table(_frame(), n_boot=200).set_index("set")
    assert table.loc["external", "flag_rate"] > 0.6 > 0.3 > table.loc["test", "flag_rate"]
    ext = table.loc["external"]
    assert ext["flag_low"] <= ext["flag_rate"] <= ext["flag_high"]
    assert ext["difference"] == pytest.approx(ext["error_flagged"] - ext["error_unflagged"])
    assert ext["difference_low"] > 0  # flagged predictions are wrong far more often here


def test_flag_table_with_an_empty_side_and_missing_columns():
    frame = _frame().assign(flagged=False)
    table = flag_table(frame, n_boot=50)
    assert (table["flagged"] == 0).all() and table["difference"].isna().all() and table["error_flagged"].isna().all()
    with pytest.raises(KeyError, match="patient_id"):
        flag_table(frame.drop(columns="patient_id"))


def test_separation_auroc():
    frame = _frame()
    ci = separation_auroc(frame, "score", "external", n_boot=100)
    assert 0.85 < ci.value < 0.99 and ci.low < ci.value < ci.high
    with pytest.raises(ValueError, match="both"):
        separation_auroc(frame[frame["set"] == "test"], "score", "external")


def test_fired_checks_counts_each_check_and_any():
    import pandas as pd

    from tmvlib.tables.ood import fired_checks

    frame = pd.DataFrame({"set": ["test", "test", "external"], "fired: colour": [True, False, True],
                          "fired: size": [True, False, False], "flagged": [True, False, True]})
    table = fired_checks(frame, {"colour": "fired: colour", "size": "fired: size"})
    assert table.loc["test"].tolist() == [1, 1, 1] and list(table.columns) == ["colour", "size", "any (the card defers)"]
