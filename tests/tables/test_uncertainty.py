"""Chapter-03 tables: calibration levels and paired changes, selective prediction, shift, prior shift."""
import numpy as np
import pandas as pd
import pytest

from tmvlib.contracts.scores import DECISION_UNCERTAINTY, DISTANCE_TO_HALF
from tmvlib.tables.uncertainty import (HEADLINE, aurc_comparisons,
                                       binned_ece_name, calibration_changes, calibration_draws,
                                       calibration_levels, calibrator_table, paired_calibration,
                                       prior_shift_tables, selective_curves, selective_table,
                                       shift_detection, smooth_reliability_rows, with_holm)
from tmvlib.uncertainty.calibrators import temperature_test
from tmvlib.uncertainty.predictions import (fit_method_calibrators, method_predictions,
                                            predictive_probs)

N_BOOT = 60


def fake_sets(n=80, seed=0):
    rng = np.random.default_rng(seed)
    return {name: pd.DataFrame({"image_id": [f"{name}{i}" for i in range(n)],
                                "patient_id": [f"{name}p{i // 2}" for i in range(n)],
                                "label": (rng.random(n) < 0.45).astype(int)})
            for name in ("val", "test", "external")}


def fake_logits(sets, samples, shift_noise, seed=0):
    """Over-confident logits (x 3) shifted by +1, noisier members on the external set."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, frame in sets.items():
        signal = 1.5 * (2 * frame["label"].to_numpy() - 1) + rng.normal(0, 1.5, len(frame))
        noise = shift_noise if name == "external" else 0.2
        out[name] = 3 * (signal + rng.normal(0, noise, (samples, len(frame)))) + 1.0
    return out


@pytest.fixture(scope="module")
def fitted():
    sets = fake_sets()
    logits = {"baseline": fake_logits(sets, 1, 0.0), "ensemble": fake_logits(sets, 5, 3.0, seed=1)}
    val_labels = sets["val"]["label"].to_numpy()
    calibrators = fit_method_calibrators({m: v["val"] for m, v in logits.items()}, val_labels)
    predictions = method_predictions({k: v for k, v in sets.items() if k != "val"},
                                     {m: {s: x for s, x in v.items() if s != "val"} for m, v in logits.items()},
                                     calibrators, threshold=0.4)
    draws = calibration_draws(predictions, bins=5, n_boot=N_BOOT, seed=0)
    return sets, logits, calibrators, predictions, draws


def test_levels_hold_every_metric_with_intervals_that_contain_the_estimate(fitted):
    *_, predictions, draws = fitted
    levels = calibration_levels(predictions, draws, bins=5, n_boot=N_BOOT)
    assert set(levels["metric"]) == {HEADLINE, binned_ece_name(5), "NLL", "Brier", "AUROC"}
    assert len(levels) == 2 * 2 * 4 * 5  # sets x methods x calibrations x metrics
    errors = levels[levels["metric"].isin([HEADLINE, binned_ece_name(5)])]
    assert (errors["low"] <= errors["value"]).all() and (errors["value"] <= errors["high"]).all()
    assert (errors["interval"] == "floor-corrected").all() and (errors["value"] == errors["estimate"]).all()
    assert errors["p_calibrated"].between(0, 1).all() and (errors["floor"] > 0).all()
    proper = levels[levels["metric"].isin(["NLL", "Brier"])]
    assert (proper["value"] == proper["estimate"]).all()
    auroc = levels[levels["metric"] == "AUROC"].set_index(["set", "method"])["value"]
    assert auroc[("test", "baseline")] == pytest.approx(auroc[("test", "baseline + Platt")])


def test_changes_are_paired_against_the_uncalibrated_method(fitted):
    *_, predictions, draws = fitted
    changes = calibration_changes(predictions, draws, bins=5, n_boot=N_BOOT)
    assert set(changes["calibration"]) == {"temperature", "Platt", "isotonic"}
    assert (changes["against"] == changes["base_method"]).all()
    assert len(changes) == 2 * 2 * 3 * 4  # sets x methods x calibrations x metrics
    assert (changes["low"] <= changes["high"]).all()
    # over-confident, shifted logits: every map fitted on validation lowers the test NLL
    nll = changes[(changes["metric"] == "NLL") & (changes["set"] == "test") & (changes["calibration"] != "isotonic")]
    assert (nll["value"] < 0).all()
    basic = changes[changes["metric"] == HEADLINE]
    assert (basic["interval"] == "basic, bias-corrected").all()
    assert (basic["low"] <= basic["value"]).all() and (basic["value"] <= basic["high"]).all()


def test_paired_calibration_refuses_different_images(fitted):
    *_, predictions, draws = fitted
    row = paired_calibration(predictions, draws, "external", "ensemble", "baseline", HEADLINE)
    assert row["compared"] == "ensemble" and row["against"] == "baseline" and row["metric"] == HEADLINE
    broken = predictions.copy()
    broken.loc[(broken["method"] == "ensemble") & (broken["set"] == "test"), "image_id"] = "x"
    with pytest.raises(ValueError, match="same test images"):
        paired_calibration(broken, draws, "test", "ensemble", "baseline", "NLL")


def test_with_holm_adjusts_within_the_family():
    rows = pd.DataFrame({"value": [0.5, 0.01, 0.02], "se": [0.05, 0.02, 0.02], "p_value": [1e-10, 0.6, 0.3]})
    out = with_holm(rows, family=pd.Series([True, True, False]))
    assert np.isnan(out.loc[2, "p_holm"])
    assert out.loc[1, "p_holm"] == pytest.approx(0.6) and out.loc[0, "p_holm"] == pytest.approx(2e-10)


def test_calibrator_table(fitted):
    sets, logits, calibrators, *_ = fitted
    labels = sets["val"]["label"].to_numpy()
    p = {m: temperature_test(predictive_probs(v["val"]), labels, calibrators[m]["temperature"].params["T"])
         for m, v in logits.items()}
    table = calibrator_table(calibrators, 0.4, p)
    assert list(table.index) == ["baseline", "ensemble"] and (table["T"] > 1).all()
    assert (table["threshold, none"] == 0.4).all() and (table["Platt b"] < 0).all()


def test_selective_table_ranks_by_decision_uncertainty_at_each_threshold(fitted):
    *_, predictions, _ = fitted
    raw = predictions[predictions["calibration"] == "none"]
    table = selective_table(raw)
    assert set(table.loc[table["method"] == "baseline", "score"]) == {DECISION_UNCERTAINTY, DISTANCE_TO_HALF}
    assert (table["AURC"] >= 0).all() and (table["AURC"] <= 1).all()
    errors = raw.groupby(["method", "set"])["error"].mean()
    for row in table.to_dict("records"):
        assert row["error @100%"] == pytest.approx(errors[(row["method"], row["set"])])  # at the threshold
    # a temperature does not change the ranking by decision uncertainty, nor the AURC
    both = predictions[predictions["method"].isin(["baseline", "baseline + temperature"])]
    aurc = selective_table(both).query("score == @DECISION_UNCERTAINTY").set_index(["method", "set"])["AURC"]
    assert aurc[("baseline", "test")] == pytest.approx(aurc[("baseline + temperature", "test")])


def test_aurc_comparisons_and_curves(fitted):
    *_, predictions, _ = fitted
    raw = predictions[predictions["calibration"] == "none"]
    table = aurc_comparisons(raw, [("ensemble", "baseline")], n_boot=N_BOOT)
    assert set(table["set"]) == {"test", "external"} and (table["metric"] == "AURC").all()
    assert (table["low"] <= table["high"]).all()
    curves = selective_curves(raw, ["baseline", "ensemble"])
    assert set(curves["score"]) == {DECISION_UNCERTAINTY, "mutual information"}


def test_shift_detection_finds_a_noisier_external_set(fitted):
    *_, predictions, _ = fitted
    table = shift_detection(predictions[predictions["calibration"] == "none"], n_boot=100)
    mi = table[(table["method"] == "ensemble") & (table["score"] == "mutual information")].iloc[0]
    assert mi["low"] > 0.5  # members disagree far more on the external set by construction


def test_prior_shift_tables_move_the_mean_probability_to_the_target(fitted):
    *_, predictions, _ = fitted
    levels, changes = prior_shift_tables(predictions, prior=0.45, target=0.05, n_boot=N_BOOT)
    assert set(levels["probabilities"]) == {"as calibrated", "prior-shift corrected"}
    corrected = levels[levels["probabilities"] == "prior-shift corrected"]
    raw = levels[levels["probabilities"] == "as calibrated"]
    assert (corrected["mean p"].to_numpy() < raw["mean p"].to_numpy()).all()
    assert (changes["value"] < 0).all() and (changes["prevalence"] == 0.05).all()
    assert (levels["low"] <= levels["value"]).all() and (levels["value"] <= levels["high"]).all()


def test_smooth_reliability_rows_keep_supported_points(fitted):
    *_, predictions, _ = fitted
    rows = smooth_reliability_rows(predictions, "test", ["baseline", "baseline + Platt"], points=41)
    assert set(rows["method"]) == {"baseline", "baseline + Platt"} and rows["supported"].all()
