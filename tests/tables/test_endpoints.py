import numpy as np
import pandas as pd
import pytest

from tmvlib.tables.endpoints import (PRIMARY, SECONDARY, endpoint_row, endpoint_table,
                                     paired_score_difference)


def per_image(n=300, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for name in ("val", "test", "external"):
        wrong = rng.random(n) < 0.25
        confidence = np.where(wrong, rng.random(n) * 0.8 + 0.2, rng.random(n) * 0.8)
        rows.append(pd.DataFrame({
            "set": name, "image_id": [f"{name}{i}" for i in range(n)], "patient_id": np.arange(n) // 2,
            "correct": ~wrong, "decision uncertainty": confidence, "1 - max(p, 1-p)": rng.random(n) / 2,
            "instability (TTA)": rng.random(n), "flip rate (TTA)": rng.integers(0, 7, n) / 6,
            "constant map (TTA)": rng.random(n) < 0.05,
            # a combined score that knows the errors a little better than the confidence
            "combined": confidence + 0.3 * wrong}))
    return pd.concat(rows, ignore_index=True)


def test_a_better_score_has_a_lower_aurc_and_higher_auroc():
    frame = per_image()
    test = frame[frame["set"] == "test"]
    aurc = paired_score_difference(test, "combined", "decision uncertainty", "AURC", n_boot=200)
    assert aurc.high < 0 and aurc.low <= aurc.value <= aurc.high
    auc = paired_score_difference(test, "combined", "decision uncertainty", "error-detection AUROC", n_boot=200)
    assert auc.low > 0
    augrc = paired_score_difference(test, "combined", "decision uncertainty", "AUGRC", n_boot=200)
    assert augrc.high < 0
    with pytest.raises(ValueError, match="unknown quantity"):
        paired_score_difference(test, "combined", "decision uncertainty", "accuracy")


def test_endpoint_table_declares_one_primary_and_a_holm_family():
    table = endpoint_table(per_image(), n_boot=100)
    assert table["comparison"].tolist() == ["primary", *[c.name for c in SECONDARY], "primary (AUGRC)",
                                            "primary (no blank maps)", "S3 (no blank maps)"]
    primary = endpoint_row(table, "primary")
    assert primary["set"] == PRIMARY.set == "test" and primary["quantity"] == "AURC"
    assert np.isnan(primary["p_holm"]) and primary["mdd"] > 0
    secondary = table[table["role"] == "secondary"]
    assert (secondary["p_holm"] >= secondary["p_value"]).all()
    assert (table["low"] <= table["value"]).all() and (table["value"] <= table["high"]).all()
    assert (secondary["family_size"] == len(SECONDARY)).all()
    # the declared sensitivity analysis: the primary comparison in AUGRC, outside the family
    augrc = endpoint_row(table, "primary (AUGRC)")
    assert augrc["role"] == "sensitivity" and np.isnan(augrc["p_holm"]) and augrc["lower_is_better"]
    assert augrc["high"] < 0  # the better score has the lower AUGRC too
    # without the blank maps: the same comparison on fewer images
    frame = per_image()
    test = frame[(frame["set"] == "test") & ~frame["constant map (TTA)"]]
    kept = paired_score_difference(test, "combined", "decision uncertainty", "AURC", n_boot=100)
    assert endpoint_row(table, "primary (no blank maps)")["value"] == pytest.approx(kept.value)


def test_the_point_difference_is_the_paired_intervals_estimate():
    from tmvlib.tables.endpoints import score_difference

    frame = per_image()
    test = frame[frame["set"] == "test"]
    for quantity in ("AURC", "AUGRC", "error-detection AUROC"):
        d = paired_score_difference(test, "combined", "decision uncertainty", quantity, n_boot=20)
        assert score_difference(test, "combined", "decision uncertainty", quantity) == pytest.approx(d.value)


def test_fold_endpoint_estimates_give_each_folds_own_difference_and_nan_where_a_fold_lacks_the_set():
    from tmvlib.tables.cross_fit import fold_endpoint_estimates
    from tmvlib.tables.endpoints import score_difference

    folds = pd.concat([per_image(seed=0).assign(fold=0),
                       per_image(seed=1).query("set != 'external'").assign(fold=1)], ignore_index=True)
    table = fold_endpoint_estimates(folds, (PRIMARY, *SECONDARY))
    assert list(table.columns) == ["fold 0", "fold 1"] and table.index[0] == "primary"
    one = folds[(folds["fold"] == 1) & (folds["set"] == "test")]
    assert table.loc["primary", "fold 1"] == pytest.approx(score_difference(one, "combined", "decision uncertainty",
                                                                            "AURC"))
    assert np.isnan(table.loc["S1", "fold 1"]) and not np.isnan(table.loc["S1", "fold 0"])
