"""Trust quadrants, danger-zone rates, error detection, the combined score, selective prediction
and subgroup tables on small synthetic frames (n_boot <= 200 to stay fast)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tmvlib.metrics.bootstrap import patient_bootstrap_mean
from tmvlib.metrics.selective import aurc
from tmvlib.tables.error_detection import error_detection_table, risk_coverage_rows, selective_comparison
from tmvlib.tables.quadrants import (assign_quadrants, danger_rate_by_stability, quadrant_table,
                                     threshold_at_quantile)
from tmvlib.tables.subgroups import age_bands, subgroup_table
from tmvlib.uncertainty.combined_score import fit_combined_score

N_BOOT = 200


def every_cell() -> pd.DataFrame:
    """One image per (correct, confident, stable) cell, plus a second confident-stable error."""
    rows = []
    for correct in (True, False):
        for uncertainty in (0.1, 0.9):
            for instability in (0.2, 0.8):
                rows.append((correct, uncertainty, instability))
    rows.append((False, 0.1, 0.2))
    frame = pd.DataFrame(rows, columns=["correct", "entropy", "instability"])
    return frame.assign(patient_id=np.arange(len(frame)))


def test_quadrants_cover_every_cell():
    frame = assign_quadrants(every_cell(), "entropy", "instability", 0.5, 0.5)
    assert frame["confident"].tolist()[:4] == [True, True, False, False]
    assert frame["stable"].tolist()[:4] == [True, False, True, False]
    assert frame["quadrant"].tolist()[:4] == (["correct · confident"] * 2
                                              + ["correct · uncertain"] * 2)
    assert frame["cell"].iloc[4] == "incorrect · confident · stable"
    assert frame["danger"].tolist() == [False] * 4 + [True, True, False, False, True]
    at_threshold = assign_quadrants(every_cell(), "entropy", "instability", 0.1, 0.2)
    assert at_threshold["confident"].iloc[0] and at_threshold["stable"].iloc[0]  # ties count in
    table = quadrant_table(frame)
    assert len(table) == 8 and table["images"].sum() == 9
    danger = table[table["danger"]]
    assert danger["cell"].tolist() == ["incorrect · confident · stable",
                                       "incorrect · confident · unstable"]
    assert danger["images"].tolist() == [2, 1]
    assert table["share"].sum() == pytest.approx(1.0)
    stable = table[table["stable"]]
    assert stable["share_of_stability"].sum() == pytest.approx(1.0)
    assert stable["share_of_stability"].iloc[2] == pytest.approx(2 / 5)


def test_empty_cells_are_listed_with_zero():
    frame = assign_quadrants(every_cell().iloc[:2], "entropy", "instability", 0.5, 0.5)
    table = quadrant_table(frame)
    assert len(table) == 8 and table["images"].tolist() == [1, 1, 0, 0, 0, 0, 0, 0]


def test_quadrants_refuse_undefined_scores():
    frame = every_cell()
    frame.loc[0, "instability"] = np.nan
    with pytest.raises(ValueError, match="instability.*1 non-finite"):
        assign_quadrants(frame, "entropy", "instability", 0.5, 0.5)
    with pytest.raises(KeyError, match="missing_col"):
        assign_quadrants(every_cell(), "missing_col", "instability", 0.5, 0.5)


def test_threshold_at_quantile_picks_the_validation_median():
    assert threshold_at_quantile([1.0, 2.0, 3.0, np.nan]) == 2.0
    assert threshold_at_quantile(np.arange(11.0), 0.8) == pytest.approx(8.0)
    with pytest.raises(ValueError):
        threshold_at_quantile([np.nan])


def danger_frame(seed=0) -> pd.DataFrame:
    """120 patients x 2 images: danger rate 0.1 among stable, 0.4 among unstable images."""
    rng = np.random.default_rng(seed)
    n = 240
    stable = np.tile([True, False], n // 2)
    danger = np.where(stable, rng.random(n) < 0.1, rng.random(n) < 0.4)
    confident = danger | (rng.random(n) < 0.5)
    return pd.DataFrame({"correct": ~danger, "confident": confident, "stable": stable,
                         "patient_id": np.repeat(np.arange(n // 2), 2)})


def test_danger_rate_by_stability_with_intervals():
    frame = danger_frame()
    table = danger_rate_by_stability(frame, n_boot=N_BOOT, seed=1).set_index("explanation")
    stable, unstable, diff = (table.loc[k] for k in ("stable", "unstable", "unstable - stable"))
    danger = (~frame["correct"] & frame["confident"]).to_numpy(float)
    assert stable["value"] == pytest.approx(danger[frame["stable"]].mean())
    assert unstable["value"] == pytest.approx(danger[~frame["stable"]].mean())
    assert diff["value"] == pytest.approx(unstable["value"] - stable["value"])
    for row in (stable, unstable, diff):
        assert row["low"] <= row["value"] <= row["high"]
    assert diff["low"] > 0  # 0.1 vs 0.4 on 120 patients: visible
    expected = patient_bootstrap_mean(np.where(frame["stable"], danger, np.nan),
                                      frame["patient_id"], n_boot=N_BOOT, seed=1)
    assert (stable["low"], stable["high"]) == pytest.approx((expected.low, expected.high))
    assert stable["images"] == 120 and stable["events"] == int(danger[frame["stable"]].sum())


def test_danger_rate_among_confident_and_an_empty_group():
    frame = danger_frame()
    table = danger_rate_by_stability(frame, n_boot=50, among="confident")
    confident = frame[frame["confident"]]
    error = ~confident["correct"]
    assert table["value"].iloc[0] == pytest.approx(error[confident["stable"]].mean())
    all_stable = frame.assign(stable=True)
    table = danger_rate_by_stability(all_stable, n_boot=50)
    assert table["images"].tolist()[1] == 0
    assert math.isnan(table["value"].iloc[1]) and math.isnan(table["value"].iloc[2])


def scored_frame(n=400, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    error = rng.random(n) < 0.25
    return pd.DataFrame({
        "correct": ~error, "patient_id": np.arange(n) // 2,
        "perfect": error + rng.random(n) * 0.5,            # every error above every correct
        "noise": rng.random(n),
        "informative": error + rng.normal(0, 1.0, n),
        "instability": error * 0.8 + rng.normal(0, 0.5, n),
    })


def test_error_detection_auroc_perfect_and_chance():
    frame = scored_frame()
    table = error_detection_table(frame, {"perfect": "perfect", "noise": "noise",
                                          "array": frame["informative"].to_numpy()},
                                  n_boot=N_BOOT).set_index("score")
    assert table.loc["perfect", "value"] == 1.0
    assert table.loc["perfect", "low"] == pytest.approx(1.0)
    assert abs(table.loc["noise", "value"] - 0.5) < 0.08
    assert table.loc["noise", "low"] < 0.5 < table.loc["noise", "high"]
    assert 0.6 < table.loc["array", "value"] < 0.9
    assert table["patients"].iloc[0] == 200 and table["errors"].iloc[0] == (~frame["correct"]).sum()


def test_error_detection_needs_both_outcomes():
    frame = scored_frame().assign(correct=True)
    with pytest.raises(ValueError, match="0 error"):
        error_detection_table(frame, {"noise": "noise"}, n_boot=10)


def test_combined_score_fits_on_validation_and_scores_test():
    val, test = scored_frame(seed=1), scored_frame(seed=2)
    fit = fit_combined_score(val, ["informative", "instability"])
    scores = fit.score(test)
    assert scores.shape == (len(test),) and ((scores >= 0) & (scores <= 1)).all()
    table = error_detection_table(test.assign(combined=scores),
                                  {"informative": "informative", "combined": "combined"},
                                  n_boot=50).set_index("score")
    # two independent noisy signals combine into a better detector than either alone
    assert table.loc["combined", "value"] > table.loc["informative", "value"]
    assert (fit.coefficients[["informative", "instability"]] > 0).all()
    assert fit.n_images == len(val) and fit.n_errors == (~val["correct"]).sum()


def test_combined_score_on_separable_validation():
    val = scored_frame(seed=3)
    fit = fit_combined_score(val, ["perfect"])
    assert np.isfinite(fit.coefficients).all()
    errors = ~val["correct"].to_numpy()
    assert fit.score(val)[errors].min() > fit.score(val)[~errors].max()


def test_combined_score_refuses_a_single_class():
    val = scored_frame().assign(correct=True)
    with pytest.raises(ValueError, match="0 error.*400 images"):
        fit_combined_score(val, ["informative"])
    with pytest.raises(KeyError, match="nope"):
        fit_combined_score(scored_frame(), ["nope"])


def test_selective_comparison_and_curves():
    frame = scored_frame()
    table = selective_comparison(frame, {"perfect": "perfect", "noise": "noise"},
                                 n_boot=N_BOOT).set_index("score")
    error_rate = (~frame["correct"]).mean()
    assert table.loc["perfect", "value"] == pytest.approx(table.loc["perfect", "aurc_oracle"])
    assert table.loc["perfect", "value"] < table.loc["noise", "value"]
    assert table.loc["noise", "aurc_random"] == pytest.approx(error_rate)
    assert table.loc["noise", "low"] < error_rate < table.loc["noise", "high"]
    # the same number as tmvlib.metrics.selective.aurc with labels and probabilities
    labels = np.random.default_rng(0).integers(0, 2, len(frame))
    probs = np.where(frame["correct"], labels, 1 - labels).astype(float)
    assert table.loc["noise", "value"] == pytest.approx(aurc(labels, probs, frame["noise"]))
    curves = risk_coverage_rows(frame, {"perfect": "perfect", "noise": "noise"})
    assert len(curves) == 2 * len(frame) and list(curves.columns) == ["score", "coverage",
                                                                      "risk", "n_kept"]
    perfect = curves[curves["score"] == "perfect"]
    assert perfect["risk"].iloc[-1] == pytest.approx(error_rate)
    assert (perfect["risk"][perfect["coverage"] <= 1 - error_rate] == 0).all()


def test_age_bands():
    bands = age_bands(pd.Series([5, 39, 40, 59, 60, 95, np.nan, -1], index=list("abcdefgh")))
    assert bands.tolist()[:6] == ["0-39", "0-39", "40-59", "40-59", "60+", "60+"]
    assert bands.isna().tolist()[6:] == [True, True] and list(bands.index) == list("abcdefgh")
    assert list(bands.cat.categories) == ["0-39", "40-59", "60+"] and bands.cat.ordered
    assert age_bands([30, 70], edges=(0, 50, 80)).tolist() == ["0-49", "50-79"]


def test_subgroup_table_flags_thin_groups():
    rng = np.random.default_rng(0)
    n = 300
    sex = np.where(np.arange(n) < 260, "M", "F")
    label = (rng.random(n) < 0.3).astype(int)
    label[260:] = [1] * 4 + [0] * 36  # 4 positives among the 40 women
    prob = np.clip(0.3 + 0.4 * (label - 0.3) + rng.normal(0, 0.15, n), 0, 1)
    age = np.where(np.arange(n) % 3 == 0, 30, 70).astype(float)
    age[5] = np.nan
    frame = pd.DataFrame({"label": label, "prob": prob, "patient_id": np.arange(n) // 2,
                          "sex": sex, "age": age})
    table = subgroup_table(frame, {"sex": "sex", "age": lambda f: age_bands(f["age"])},
                           n_boot=50, min_positives=10, min_negatives=10)
    sex_rows = table[table["grouping"] == "sex"].set_index("group")
    women, men = sex_rows.loc["F"], sex_rows.loc["M"]
    assert women["too_thin"] and women["reason"] == "4 positives < 10"
    assert math.isnan(women["auroc"]) and math.isnan(women["ece"]) and math.isnan(women["brier"])
    assert not men["too_thin"] and men["reason"] == ""
    assert men["auroc_low"] <= men["auroc"] <= men["auroc_high"] and men["auroc"] > 0.8
    assert men["ece_low"] <= men["ece"] <= men["ece_high"]
    assert men["images"] == 260 and men["patients"] == 130
    assert men["negatives"] == 260 - men["positives"]
    age_rows = table[table["grouping"] == "age"].set_index("group")
    assert set(age_rows.index) == {"0-39", "60+", "missing"}
    assert age_rows.loc["missing", "images"] == 1 and age_rows.loc["missing", "too_thin"]
    positive = int(frame["label"].iloc[5])  # the one image without an age
    assert age_rows.loc["missing", "reason"] == (f"{positive} positives < 10; "
                                                 f"{1 - positive} negatives < 10")


def test_image_trust_scores_columns():
    from tmvlib.tables.trust import image_trust_scores

    frame = pd.DataFrame({"image_id": ["a", "b"], "prob": [0.9, 0.4], "label": [1, 1]})
    summary = pd.DataFrame({"image_id": ["a", "b", "a"], "source": ["TTA", "TTA", "ensemble"],
                            "instability": [0.1, np.nan, 0.3], "flip_rate": [0.0, 0.5, 0.0]})
    mc = np.array([[0.9, 0.9, 0.9], [0.1, 0.5, 0.9]])
    out = image_trust_scores(frame, 0.5, mc, np.array([[0.7], [0.4]]), summary)
    assert out["correct"].tolist() == [True, False]
    np.testing.assert_allclose(out["1 - max(p, 1-p)"], [0.1, 0.4])
    # the decision-aligned score: exp(-|logit p - logit t|); at t = 0.5, p = 0.9 -> 1/9, p = 0.4 -> 2/3
    np.testing.assert_allclose(out["decision uncertainty"], [1 / 9, 2 / 3])
    assert out.loc[0, "MC mutual information"] == pytest.approx(0, abs=1e-9)  # identical samples
    assert out.loc[1, "MC mutual information"] > 0.05                         # samples disagree
    np.testing.assert_allclose(out["ensemble variance"], [np.var([0.9, 0.7]), 0.0])
    assert out.loc[0, "instability (TTA)"] == 0.1 and np.isnan(out.loc[1, "instability (TTA)"])
    assert np.isnan(out.loc[1, "instability (ensemble)"]) and np.isnan(out.loc[0, "instability (MC dropout)"])
    assert "correct" not in image_trust_scores(frame.drop(columns="label"), 0.5, mc, np.zeros((2, 1)), summary)


def test_quadrant_labels_are_the_shared_trust_cells():
    from tmvlib.tables.trust_cells import trust_cell

    frame = every_cell()
    q = assign_quadrants(frame, "entropy", "instability", 0.5, 0.5)
    assert q["cell"].tolist() == [trust_cell(k, s, c) for c, k, s in zip(q["correct"], q["confident"], q["stable"])]
    assert q["quadrant"].tolist() == [" · ".join(c.split(" · ")[:2]) for c in q["cell"]]
    text = pd.Series(["text"]).dtype  # pandas' inferred text dtype, as the labels had before
    assert q["cell"].dtype == text and q["quadrant"].dtype == text
    table = quadrant_table(q)
    assert table["cell"].tolist() == [trust_cell(r.confident, r.stable, r.correct) for r in table.itertuples()]


def test_secondary_confidence_is_measured_from_one_half():
    from tmvlib.metrics.confidence import distance_to_half

    np.testing.assert_allclose(distance_to_half([0.9, 0.5, 0.2, 0.0]), [0.1, 0.5, 0.2, 0.0])


def test_subgroup_error_rate_resamples_every_patient_of_the_frame():
    from tmvlib.tables.subgroups import subgroup_groupings

    rng = np.random.default_rng(1)
    n = 120
    frame = pd.DataFrame({"label": rng.integers(0, 2, n), "prob": rng.random(n), "patient_id": np.arange(n) // 3,
                          "sex": rng.choice(["F", "M", None], n), "view": rng.choice(["AP", "PA"], n),
                          "age": rng.choice([20.0, 50.0, 80.0, np.nan], n)})
    frame["correct"] = (frame["prob"] >= 0.5).astype(int) == frame["label"]
    groupings = subgroup_groupings([0, 40, 60, 200])
    assert list(groupings) == ["sex", "age band", "view"]
    plain = subgroup_table(frame, groupings, n_boot=40, seed=2, min_positives=5, min_negatives=5)
    table = subgroup_table(frame, groupings, n_boot=40, seed=2, min_positives=5, min_negatives=5,
                           error_rate=True)
    assert list(table.columns) == [*plain.columns, "error_rate", "error_low", "error_high"]
    pd.testing.assert_frame_equal(table[plain.columns], plain)
    # the rate of a group: a bootstrap over all images, those outside the group undefined
    for row in table.itertuples():
        spec = groupings[row.grouping]
        values = pd.Series(np.asarray(frame[spec] if isinstance(spec, str) else spec(frame), dtype=object))
        members = (values.where(values.notna(), "missing").astype(str) == row.group).to_numpy()
        ref = patient_bootstrap_mean(np.where(members, (~frame["correct"]).astype(float), np.nan),
                                     frame["patient_id"].to_numpy(), n_boot=40, seed=2)
        assert (row.error_rate, row.error_low, row.error_high) == (ref.value, ref.low, ref.high)
    assert set(table.loc[table["grouping"] == "sex", "group"]) == {"F", "M", "missing"}


def test_trust_scores_by_set_and_tables_per_set():
    from tmvlib.tables.trust import (image_trust_scores, per_set_table, trust_score_correlations,
                                     trust_scores_by_set)

    rng = np.random.default_rng(3)
    frames, probs, summaries = {}, {}, []
    for name, n in (("val", 6), ("test", 5)):
        frames[name] = pd.DataFrame({"image_id": [f"{name}{i}" for i in range(n)], "patient_id": np.arange(n),
                                     "label": rng.integers(0, 2, n), "prob": rng.random(n), "extra": 1})
        probs[name] = {"MC dropout": rng.random((n, 4)), "ensemble": rng.random((n, 2))}
        for source in ("MC dropout", "ensemble", "TTA"):
            summaries.append(pd.DataFrame({"image_id": frames[name]["image_id"], "set": name, "source": source,
                                           "instability": rng.random(n), "flip_rate": rng.random(n)}))
    summary = pd.concat(summaries, ignore_index=True)
    per_image = trust_scores_by_set(frames, 0.5, probs, summary)
    assert per_image["set"].tolist() == ["val"] * 6 + ["test"] * 5 and "extra" not in per_image
    ref = image_trust_scores(frames["test"][["image_id", "patient_id", "label", "prob"]].assign(set="test"), 0.5,
                             probs["test"]["MC dropout"], probs["test"]["ensemble"], summary[summary["set"] == "test"])
    pd.testing.assert_frame_equal(per_image.iloc[6:].reset_index(drop=True), ref)
    corr = trust_score_correlations(per_image)
    assert corr.index.tolist() == ["instability (MC dropout)", "instability (ensemble)", "instability (TTA)"]
    assert corr.columns.tolist() == ["decision uncertainty", "1 - max(p, 1-p)", "MC mutual information",
                                     "ensemble variance"]
    assert corr.loc["instability (TTA)", "decision uncertainty"] == round(
        per_image["instability (TTA)"].corr(per_image["decision uncertainty"], method="spearman"), 2)
    both = per_set_table(lambda f, k: f.head(k)[["image_id"]], per_image, 2, sets=("test", "val"))
    assert both.values.tolist() == [["test0", "test"], ["test1", "test"], ["val0", "val"], ["val1", "val"]]
    kept = per_set_table(lambda f: f.head(2)[["image_id"]].reset_index(drop=True), per_image,
                         sets=("val", "test"), ignore_index=False)
    assert kept.index.tolist() == [0, 1, 0, 1]


def test_subgroup_calibration_interval_contains_its_estimate():
    rng = np.random.default_rng(5)
    n = 200
    prob = rng.random(n)
    frame = pd.DataFrame({"label": (rng.random(n) < prob).astype(int), "prob": prob, "patient_id": np.arange(n),
                          "sex": rng.choice(["F", "M"], n)})
    table = subgroup_table(frame, {"sex": "sex"}, n_boot=100, min_positives=5, min_negatives=5)
    assert ((table["ece_low"] <= table["ece"]) & (table["ece"] <= table["ece_high"])).all()
