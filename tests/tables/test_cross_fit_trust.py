from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tmvlib.contracts.scores import DECISION_UNCERTAINTY
from tmvlib.tables.abstention import column_score
from tmvlib.tables.cross_fit_trust import (cross_fitted_deferral, fold_deferral_rules, fold_failure_modes_val,
                                           fold_quadrants, pooled_failure_modes)

INSTABILITY = "instability (TTA)"
K = 3


def fold_scores(n_per=120, seed=0, shift=None) -> pd.DataFrame:
    """Chapter 06's cross-fitted trust scores for K folds: images of fold f are "test" for model f
    and "val" for model f - 1 (mod K); model 0 also scores 40 external images. ``shift``: fold ->
    added to that fold's calibration uncertainty (moves only its cuts)."""
    rng = np.random.default_rng(seed)
    parts = []
    for f in range(K):
        ids = [f"f{f}_{i}" for i in range(n_per)]
        label = rng.integers(0, 2, n_per)
        error = rng.random(n_per) < 0.25
        u = np.clip(0.3 * error + rng.random(n_per) * 0.5, 0, 0.5)
        base = pd.DataFrame({"image_id": ids, "patient_id": [f"p{f}_{i // 2}" for i in range(n_per)], "label": label,
                             "prob": rng.uniform(0.05, 0.95, n_per), "correct": ~error, DECISION_UNCERTAINTY: u,
                             INSTABILITY: rng.random(n_per), "flip rate (TTA)": 0.0,
                             "peak_region": rng.choice(["centre", "border", "left lung"], n_per),
                             "view": rng.choice(["PA", "AP"], n_per)})
        parts.append(base.assign(fold=f, set="test"))
        calibration = base.assign(fold=(f - 1) % K, set="val")
        if shift and (f - 1) % K in shift:
            calibration[DECISION_UNCERTAINTY] += shift[(f - 1) % K]
        parts.append(calibration)
    ext = parts[0].iloc[:40].assign(image_id=[f"x{i}" for i in range(40)], patient_id=[f"xp{i}" for i in range(40)],
                                    set="external", fold=0)
    return pd.concat(parts + [ext], ignore_index=True)


THRESHOLDS = pd.Series({0: 0.4, 1: 0.5, 2: 0.6})


def test_each_folds_cuts_come_from_its_calibration_fold_and_every_image_is_tested_once():
    scores = fold_scores()
    quadrants, cuts = fold_quadrants(scores, THRESHOLDS, DECISION_UNCERTAINTY, INSTABILITY, 0.75, 0.75)
    assert list(cuts.index) == [0, 1, 2]
    for f in range(K):
        val = scores[(scores["fold"] == f) & (scores["set"] == "val")]
        assert cuts.loc[f, "uncertainty cut"] == pytest.approx(np.quantile(val[DECISION_UNCERTAINTY], 0.75), abs=0.02)
    assert quadrants["test"]["image_id"].is_unique and len(quadrants["test"]) == K * 120
    assert set(quadrants["external"]["fold"]) == {0}
    aligned = quadrants["test"]["aligned_prob"] >= 0.5
    assert (aligned == (quadrants["test"]["prob"] >= quadrants["test"]["threshold"])).all()


def test_shifting_one_calibration_fold_moves_only_that_folds_cells():
    before, _ = fold_quadrants(fold_scores(), THRESHOLDS, DECISION_UNCERTAINTY, INSTABILITY, 0.75, 0.75)
    after, cuts = fold_quadrants(fold_scores(shift={1: 10.0}), THRESHOLDS, DECISION_UNCERTAINTY, INSTABILITY,
                                 0.75, 0.75)
    moved = before["test"]["confident"] != after["test"]["confident"]
    assert moved.any() and set(before["test"]["fold"][moved]) == {1}


def test_an_image_tested_by_two_folds_is_refused():
    scores = fold_scores()
    twice = scores[(scores["fold"] == 0) & (scores["set"] == "test")].assign(fold=1)
    with pytest.raises(ValueError, match="two test folds"):
        fold_quadrants(pd.concat([scores, twice]), THRESHOLDS, DECISION_UNCERTAINTY, INSTABILITY, 0.75, 0.75)


def test_failure_modes_pool_the_test_folds_and_fold_modes_read_calibration_rows():
    quadrants, _ = fold_quadrants(fold_scores(), THRESHOLDS, DECISION_UNCERTAINTY, INSTABILITY, 0.75, 0.75)
    pooled = pooled_failure_modes(quadrants, n_boot=50, min_images=5)
    external = pooled.set_index("column").loc["external"]
    assert (external["with_images"], external["without_images"]) == (40, K * 120)  # deployed model's external
    assert pooled.set_index("column").loc["edge", "images"] == K * 120  # every test image has its own model's peak
    per_fold = fold_failure_modes_val(quadrants["val"], n_boot=50, min_images=5)
    assert per_fold.groupby("fold").size().to_dict() == {0: 4, 1: 4, 2: 4}  # NIH modes only, no external


def test_each_folds_deferral_rule_is_calibrated_on_its_calibration_fold_and_pooled_over_test_folds():
    scores = fold_scores(n_per=400)
    recipes = {DECISION_UNCERTAINTY: column_score(DECISION_UNCERTAINTY)}
    rules = fold_deferral_rules(scores, recipes, max_error=0.3, delta=0.1)
    for f, fitted in rules.items():
        rule = fitted[(DECISION_UNCERTAINTY, "marginal")].rule
        assert rule.calibration_cases == 200  # one image of each of the calibration fold's 200 patients
    table = cross_fitted_deferral(scores, rules, n_boot=50)
    coverage = table[(table["quantity"] == "coverage") & (table["rule"] == "marginal")].set_index("model")
    assert list(coverage.index) == ["fold 0", "fold 1", "fold 2", "pooled"]
    assert coverage.loc["pooled", "n"] == K * 400
    assert coverage.loc["pooled", "events"] == coverage.loc[["fold 0", "fold 1", "fold 2"], "events"].sum()
    assert coverage.loc["pooled", "certified"] == coverage.loc[["fold 0", "fold 1", "fold 2"], "certified"].sum()


def test_shuffling_a_test_fold_moves_none_of_its_deferral_thresholds():
    scores = fold_scores(n_per=400)
    recipes = {DECISION_UNCERTAINTY: column_score(DECISION_UNCERTAINTY)}
    shuffled = scores.copy()
    test1 = (shuffled["fold"] == 1) & (shuffled["set"] == "test")
    rng = np.random.default_rng(3)
    for column in ("correct", DECISION_UNCERTAINTY):
        shuffled.loc[test1, column] = rng.permutation(shuffled.loc[test1, column].to_numpy())
    a = fold_deferral_rules(scores, recipes, 0.3, 0.1)
    b = fold_deferral_rules(shuffled, recipes, 0.3, 0.1)
    assert all(a[f][k].rule.thresholds == b[f][k].rule.thresholds for f in a for k in a[f])
