"""Chapter 07's deferral tables (tmvlib.tables.abstention) on small synthetic frames."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tmvlib.tables.abstention import (column_score, combined_score, confidence_rows, coverage_difference,
                                      deferral_outcomes, deferral_recipes, fit_deferral_rules, is_violation,
                                      ood_rescue, patient_halves, predicted_labels, resplit_coverage_difference,
                                      resplit_draws, targets_table, violation_summary)
from tmvlib.metrics.discrimination import choose_threshold
from tmvlib.tables.fitted import validation_deferral_rules

N_BOOT = 100


def frame(n=600, seed=0, sets=("val", "test")) -> pd.DataFrame:
    """Two images per patient; error probability 0.5 * score, so low scores are mostly right."""
    rng = np.random.default_rng(seed)
    score = rng.uniform(size=n)
    wrong = rng.uniform(size=n) < 0.5 * score
    label = rng.integers(0, 2, n)
    return pd.DataFrame({"image_id": [f"i{k}" for k in range(n)], "patient_id": np.arange(n) // 2,
                         "label": label, "correct": ~wrong, "u": score,
                         "instability (TTA)": rng.uniform(size=n),
                         "set": np.resize(np.repeat(sets, 2), n)})


def test_predicted_labels_follow_label_and_correct():
    f = pd.DataFrame({"label": [0, 1, 0, 1], "correct": [True, True, False, False]})
    assert predicted_labels(f).tolist() == [0, 1, 1, 0]
    with pytest.raises(ValueError, match="0/1"):
        predicted_labels(f.assign(label=[0, 2, 0, 1]))


def test_outcomes_count_answered_images_and_their_errors():
    f = pd.DataFrame({"patient_id": [1, 2, 3, 4], "label": [1, 0, 1, 0], "correct": [True, False, True, True]})
    out = deferral_outcomes(f, np.array([True, True, False, False]), n_boot=N_BOOT).set_index("quantity")
    assert out.loc["coverage", "value"] == 0.5 and out.loc["coverage", "events"] == 2
    assert out.loc["error among answered", "value"] == 0.5 and out.loc["error among answered", "n"] == 2
    # image 2 (label 0, wrong) is a positive call; image 1 a right positive call
    assert out.loc["error among answered positive calls", "value"] == 0.5
    assert np.isnan(out.loc["error among answered negative calls", "value"])
    assert out.loc["coverage of positives", "value"] == 0.5
    assert (out["low"].fillna(0) <= out["value"].fillna(0)).all() and (out["value"].fillna(1) <= out["high"].fillna(1)).all()


def test_nothing_answered_gives_undefined_errors_not_zero():
    f = frame(20)
    out = deferral_outcomes(f, np.zeros(len(f), bool), n_boot=N_BOOT).set_index("quantity")
    assert out.loc["coverage", "value"] == 0
    assert np.isnan(out.loc["error among answered", "value"]) and out.loc["error among answered", "n"] == 0


def test_validation_rules_read_only_validation_rows():
    f = frame()
    shuffled = f.copy()
    test = shuffled["set"] == "test"
    shuffled.loc[test, "correct"] = ~shuffled.loc[test, "correct"]
    a = validation_deferral_rules(f, {"u": column_score("u")}, 0.3, 0.1)
    b = validation_deferral_rules(shuffled, {"u": column_score("u")}, 0.3, 0.1)
    assert {k: v.rule for k, v in a.items()} == {k: v.rule for k, v in b.items()}
    assert a[("u", "marginal")].rule.certified


def test_combined_recipe_refits_on_the_calibration_rows():
    f = frame()
    recipe = combined_score(("u", "instability (TTA)"))
    a, b = recipe(f[f["set"] == "val"]), recipe(f[f["set"] == "test"])
    assert not np.allclose(a(f), b(f))
    assert set(deferral_recipes(("u", "instability (TTA)"), columns=("u", "combined"))) == {"u", "combined"}


def test_patient_halves_never_split_a_patient():
    f = frame(101)
    member = patient_halves(f["patient_id"].to_numpy(), np.random.default_rng(0))
    assert f.groupby("patient_id").apply(lambda g: member[g.index].all() or not member[g.index].any(),
                                         include_groups=False).all()
    assert 0.4 < member.mean() < 0.6


def test_violation_is_per_class_for_the_class_conditional_rule():
    errors = {"error among answered": 0.1, "error among answered positive calls": 0.3,
              "error among answered negative calls": 0.05}
    assert not is_violation("marginal", errors, 0.2)
    assert is_violation("class-conditional", errors, 0.2)
    assert not is_violation("marginal", dict.fromkeys(errors, float("nan")), 0.2)  # nothing answered


def test_resplits_are_deterministic_and_hold_the_guarantee_on_exchangeable_data():
    f = frame(1600)  # 400 calibration patients a draw (one image each)
    recipes = {"u": column_score("u")}
    a = resplit_draws(f, recipes, 0.25, 0.1, n_splits=60, seed=3)
    assert a.equals(resplit_draws(f, recipes, 0.25, 0.1, n_splits=60, seed=3))
    assert set(a["rule"]) == {"marginal", "class-conditional"} and len(a) == 120
    summary = violation_summary(a, 0.1).set_index("rule")
    assert summary.loc["marginal", "certified"] > 0.9
    assert summary.loc["marginal", "rate"] <= 0.1
    assert summary.loc["marginal", "low"] <= summary.loc["marginal", "rate"] <= summary.loc["marginal", "high"]


def test_resplits_refit_the_decision_threshold_on_each_calibration_half():
    f = frame(400)
    f["prob"] = np.clip(0.5 + (f["label"] - 0.5) * (1 - f["u"]) + 0.05 * np.sin(np.arange(400)), 0.01, 0.99)
    recipes = {"u": column_score("u"), "decision uncertainty": column_score("decision uncertainty")}
    draws = resplit_draws(f.assign(**{"decision uncertainty": 0.0}), recipes, 0.25, 0.1, n_splits=5, seed=3,
                          threshold_rule="youden")
    member = patient_halves(f["patient_id"].to_numpy(), np.random.default_rng(3))
    assert draws.loc[0, "decision_threshold"] == choose_threshold(f["label"][member], f["prob"][member], "youden")
    assert draws["decision_threshold"].nunique() > 1
    fixed = resplit_draws(f, {"u": column_score("u")}, 0.25, 0.1, n_splits=2, seed=3)
    assert fixed["decision_threshold"].isna().all()
    with pytest.raises(KeyError, match="prob"):
        resplit_draws(f.drop(columns="prob"), recipes, 0.25, 0.1, n_splits=1, threshold_rule="youden")


def test_resplit_coverage_difference_pairs_draws():
    draws = pd.DataFrame({"draw": [0, 0, 1, 1], "rule": "marginal", "score": ["a", "b"] * 2,
                          "coverage": [0.5, 0.3, 0.4, 0.4]})
    row = resplit_coverage_difference(draws, "a", "b").iloc[0]
    assert row["mean"] == pytest.approx(0.1) and row["a_higher"] == 0.5 and row["draws"] == 2


def test_coverage_difference_of_a_rule_with_itself_is_zero():
    f = frame()
    fitted = fit_deferral_rules(f[f["set"] == "val"], {"u": column_score("u")}, 0.3, 0.1)
    rule = fitted[("u", "marginal")]
    diff = coverage_difference(f[f["set"] == "test"], rule, rule, n_boot=N_BOOT).set_index("quantity")
    assert diff.loc["coverage", "value"] == 0 and diff.loc["coverage", "low"] == 0


def test_targets_table_certifies_more_for_looser_targets():
    f = frame(1000)
    t = targets_table(f[f["set"] == "val"], f[f["set"] == "test"], {"u": column_score("u")}, (0.1, 0.3), 0.1)
    marginal = t[t["rule"] == "marginal"].set_index("max_error")
    assert marginal.loc[0.3, "calibration_coverage"] >= marginal.loc[0.1, "calibration_coverage"]


def test_ood_rescue_defers_flagged_images():
    f = pd.DataFrame({"patient_id": [1, 2, 3, 4], "label": [1, 0, 1, 0], "correct": [True, False, True, False]})
    out = ood_rescue(f, np.ones(4, bool), np.array([False, True, False, True]), n_boot=N_BOOT)
    t = out.set_index(["stage", "quantity"])
    assert t.loc[("rule alone", "error among answered"), "value"] == 0.5
    assert t.loc[("after the check", "error among answered"), "value"] == 0
    assert t.loc[("after the check", "coverage"), "wrong_answered"] == 0


def test_confidence_rows_use_the_report_definition_of_an_error():
    preds = pd.DataFrame({"image_id": ["a", "b"], "patient_id": [1, 2], "label": [1, 0], "prob": [0.7, 0.7]})
    rows = confidence_rows(preds, 0.6)
    assert rows["correct"].tolist() == [True, False]
    assert rows["decision uncertainty"].iloc[0] == pytest.approx(rows["decision uncertainty"].iloc[1])


def test_patients_to_certify_grows_the_calibration_set_until_the_target_is_certified():
    from tmvlib.tables.abstention import patients_to_certify

    f = frame(120)  # 60 patients: too few to certify 10% with 90% confidence
    table = patients_to_certify(f, column_score("u")(f), 0.15, 0.1, multiples=(1, 16), n_sim=20, seed=0)
    assert table["patients"].tolist() == [60, 960]
    assert table["certified"].iloc[0] < table["certified"].iloc[1]
    assert table["enough"].iloc[1] and table["coverage"].iloc[1] > 0


def test_nearest_certified_is_the_smallest_target_with_a_threshold():
    from tmvlib.tables.abstention import nearest_certified

    targets = pd.DataFrame({"max_error": [0.1, 0.2, 0.3], "score": "u", "rule": "marginal",
                            "certified": [False, True, True], "coverage": [0.0, 0.3, 0.6]})
    assert nearest_certified(targets, "u", "marginal")["max_error"] == 0.2
    assert nearest_certified(targets.assign(certified=False), "u", "marginal") is None
