"""Cross-fitted evaluation: per-fold thresholds on the calibration fold, the pooled out-of-fold set."""
import numpy as np
import pandas as pd
import pytest

from tmvlib.metrics.confidence import errors_at
from tmvlib.tables.cross_fit import POOLED, SUMMARY_METRICS, cross_fitted_summary, out_of_fold
from tmvlib.tables.fitted import calibration_fold_thresholds


def fold_predictions(k=3, per_role=60, seed=0):
    """k fold models, each scoring its calibration fold (the next) and its test fold, on
    scales that differ by fold (a shift of the logit)."""
    rng = np.random.default_rng(seed)
    images = pd.DataFrame({"image_id": [f"i{j:04d}" for j in range(k * per_role)],
                           "patient_id": [f"p{j // 2:04d}" for j in range(k * per_role)],
                           "label": rng.integers(0, 2, k * per_role)})
    images["in_fold"] = np.arange(len(images)) // per_role
    rows = []
    for fold in range(k):
        for role, of in (("test", fold), ("calibration", (fold + 1) % k)):
            part = images[images["in_fold"] == of]
            logit = 2.0 * part["label"] - 1 + rng.normal(0, 1.2, len(part)) + fold  # fold f's scale: +f
            rows.append(part.assign(fold=fold, role=role, prob=1 / (1 + np.exp(-logit))))
    return pd.concat(rows, ignore_index=True)


def test_each_threshold_is_fitted_on_its_calibration_fold_only():
    predictions = fold_predictions()
    thresholds = calibration_fold_thresholds(predictions, "youden")
    assert list(thresholds.index) == [0, 1, 2]
    shuffled = predictions.copy()
    test = shuffled["role"] == "test"
    shuffled.loc[test, "label"] = np.random.default_rng(5).permutation(shuffled.loc[test, "label"].to_numpy())
    shuffled.loc[test, "prob"] = np.random.default_rng(6).random(test.sum())
    pd.testing.assert_series_equal(calibration_fold_thresholds(shuffled, "youden"), thresholds)
    with pytest.raises(ValueError, match=r"fold model\(s\) \[2\] have no calibration row"):
        calibration_fold_thresholds(predictions[(predictions["fold"] != 2) | (predictions["role"] == "test")],
                                    "youden")


def test_the_pooled_set_holds_every_image_once_decided_by_its_own_models_threshold():
    predictions = fold_predictions()
    thresholds = calibration_fold_thresholds(predictions, "youden")
    oof = out_of_fold(predictions, thresholds)
    assert len(oof) == oof["image_id"].nunique() == predictions["image_id"].nunique()
    own = np.concatenate([errors_at(g["label"], g["prob"], thresholds[f]) for f, g in oof.groupby("fold")])
    pooled = np.concatenate([errors_at(g["label"], g["aligned_prob"], 0.5) for _, g in oof.groupby("fold")])
    assert (own == pooled).all()
    with pytest.raises(ValueError, match="tested by two fold models"):
        out_of_fold(pd.concat([predictions, predictions[predictions["role"] == "test"].head(2)]), thresholds)
    with pytest.raises(ValueError, match=r"\[2\] have no threshold"):
        out_of_fold(predictions, thresholds.drop(2))


def test_the_summary_gives_the_pooled_estimate_and_each_fold_within_their_intervals():
    predictions = fold_predictions()
    oof = out_of_fold(predictions, calibration_fold_thresholds(predictions, "youden"))
    summary = cross_fitted_summary(oof, n_boot=50)
    assert summary.index.get_level_values("model").unique().tolist() == [POOLED, "fold 0", "fold 1", "fold 2"]
    assert summary.index.get_level_values("metric").unique().tolist() == list(SUMMARY_METRICS)
    assert ((summary["low"] <= summary["value"]) & (summary["value"] <= summary["high"])).all()
    assert summary.loc[(POOLED, "AUROC"), "images"] == len(oof)
    assert summary.loc[("fold 1", "AUROC"), "images"] == (oof["fold"] == 1).sum()


def fold_logits(k=3, n=40, seed=0):
    """fold -> method -> role -> (S, N) logits with labels fold -> role -> (N,)."""
    rng = np.random.default_rng(seed)
    sets, logits, labels = {}, {}, {}
    for fold in range(k):
        sets[fold], logits[fold], labels[fold] = {}, {"baseline": {}, "MC dropout": {}}, {}
        for role in ("calibration", "test"):
            y = rng.integers(0, 2, n)
            z = 2.0 * y - 1 + rng.normal(0, 1, n) + fold
            sets[fold][role] = pd.DataFrame({"image_id": [f"{fold}{role}{j}" for j in range(n)],
                                             "patient_id": [f"{fold}{role}{j // 2}" for j in range(n)], "label": y})
            labels[fold][role] = y
            logits[fold]["baseline"][role] = z[None]
            logits[fold]["MC dropout"][role] = z[None] + rng.normal(0, 0.3, (5, n))
    return sets, logits, labels


def test_fold_calibrators_read_the_calibration_fold_only_and_pool_with_each_models_threshold():
    from tmvlib.tables.cross_fit import fold_estimates, pooled_method_predictions
    from tmvlib.tables.fitted import calibration_fold_calibrators

    sets, logits, labels = fold_logits()
    calibrators = calibration_fold_calibrators(logits, labels)
    shuffled = {f: {"calibration": by_role["calibration"], "test": by_role["test"][::-1]} for f, by_role in labels.items()}
    scrambled = {f: {m: {"calibration": r["calibration"], "test": -r["test"]} for m, r in by_m.items()}
                 for f, by_m in logits.items()}
    again = calibration_fold_calibrators(scrambled, shuffled)
    assert all(again[f]["baseline"]["temperature"].params == calibrators[f]["baseline"]["temperature"].params
               for f in calibrators)
    thresholds = pd.Series({0: 0.4, 1: 0.6, 2: 0.7})
    pooled = pooled_method_predictions(sets, logits, calibrators, thresholds)
    raw = pooled[pooled["method"] == "baseline"]
    assert len(raw) == 3 * 40 and set(raw["set"]) == {"test"}
    assert (raw.groupby("fold")["threshold"].first() == thresholds).all()
    assert (raw["error"] == ((raw["prob"] >= raw["threshold"]).astype(int) != raw["label"])).all()
    estimates = fold_estimates(pooled, {"mean prob": lambda y, p: float(np.mean(p))}, methods=["baseline"])
    assert estimates.columns.tolist() == [("mean prob", "fold 0"), ("mean prob", "fold 1"), ("mean prob", "fold 2")]
    with pytest.raises(ValueError, match="fold 1 has no calibration-fold"):
        calibration_fold_calibrators({1: {"baseline": {"test": logits[1]["baseline"]["test"]}}}, labels)


def test_fold_stability_frames_name_the_calibration_fold_val_and_give_the_deployed_model_the_external_images():
    from tmvlib.tables.cross_fit import fold_stability_frames

    predictions = fold_predictions(k=3, per_role=10)
    external = pd.DataFrame({"image_id": ["e1", "e0", "e2"], "patient_id": ["q1", "q0", "q2"], "label": [0, 1, 0]})
    scored = pd.concat([external.assign(fold=f, role="external", prob=0.1 * (f + 1)) for f in range(3)])
    frames = fold_stability_frames(pd.concat([predictions, scored], ignore_index=True), ["e2", "e1"])
    assert sorted(frames) == [0, 1, 2] and set(frames[1]) == {"val", "test"}
    assert set(frames[0]) == {"val", "test", "external"}
    assert frames[0]["external"]["image_id"].tolist() == ["e2", "e1"]
    assert (frames[0]["external"]["prob"] == 0.1).all()  # scored by the deployed model, fold 0
    assert (frames[2]["val"]["role"] == "calibration").all() and frames[2]["val"].index.tolist() == list(range(10))


def test_the_power_table_sets_each_comparisons_detectable_difference_side_by_side():
    from tmvlib.tables.cross_fit import power_table

    single = pd.DataFrame({"comparison": ["primary", "S1"], "quantity": ["AURC", "AURC"], "set": ["test", "external"],
                           "mdd": [0.04, 0.08]})
    pooled = single.assign(mdd=[0.02, 0.08])
    table = power_table(single, pooled)
    assert table.loc["primary", "ratio"] == pytest.approx(0.5) and table.loc["S1", "ratio"] == pytest.approx(1.0)


def _fold_stability(frames, sources, seed):
    """A fold model's stability run on its frames: random rows of ``sources`` (2 perturbations an
    image), reference maps, and the perturbed probabilities of each source."""
    from tmvlib.explain.stability import StabilityBySet

    rng = np.random.default_rng(seed)
    rows, probs = [], {}
    for name, frame in frames.items():
        n = len(frame)
        for source in sources:
            rows.append(pd.DataFrame({"image_id": np.repeat(frame["image_id"].to_numpy(), 2), "source": source,
                                      "spearman": rng.uniform(0.2, 1.0, 2 * n), "iou_topk": 0.5,
                                      "label_flipped": rng.random(2 * n) < 0.2, "set": name}))
        probs[name] = {s: rng.random((n, 2)) for s in sources}
    reference = {name: rng.random((len(frame), 8, 8)) for name, frame in frames.items()}
    return StabilityBySet(pd.concat(rows, ignore_index=True), reference, probs)


def test_cross_fitted_trust_scores_hold_the_columns_of_the_sources_measured():
    """Fold models measured under TTA alone (chapter 06's default fold_sources) give the pooled
    rows the verdicts read and no MC-dropout or ensemble column; folds that measured different
    sources are refused."""
    from tmvlib.tables.cross_fit import cross_fitted_trust_scores, fold_stability_frames
    from tmvlib.tables.endpoints import COMBINED_FEATURES

    predictions = fold_predictions(k=3, per_role=20)
    frames = fold_stability_frames(predictions, [])
    thresholds = calibration_fold_thresholds(predictions, "youden")
    tta = {f: _fold_stability(sets, ["TTA"], f) for f, sets in frames.items()}
    scores, combined = cross_fitted_trust_scores(frames, thresholds, tta, COMBINED_FEATURES)
    assert sorted(combined) == [0, 1, 2] and len(scores) == len(predictions)
    for column in ("decision uncertainty", "instability (TTA)", "flip rate (TTA)", "constant map (TTA)",
                   "combined", "peak_region"):
        assert column in scores, column
    assert not [c for c in scores if "MC" in c or "ensemble" in c]
    mixed = {**tta, 2: _fold_stability(frames[2], ["MC dropout", "ensemble", "TTA"], 2)}
    with pytest.raises(ValueError, match="different sources"):
        cross_fitted_trust_scores(frames, thresholds, mixed, COMBINED_FEATURES)
