import numpy as np
import pandas as pd
import pytest

from tmvlib.tables.uncertainty import method_table, selective_table, shift_detection
from tmvlib.uncertainty.predictions import fit_temperatures, method_predictions


def fake_sets(n=60, seed=0):
    rng = np.random.default_rng(seed)
    sets = {}
    for name in ("test", "external"):
        sets[name] = pd.DataFrame({"image_id": [f"{name}{i}" for i in range(n)],
                                   "patient_id": [f"{name}p{i // 2}" for i in range(n)],
                                   "label": rng.integers(0, 2, n)})
    return sets


def fake_logits(sets, samples, shift_noise, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for name, frame in sets.items():
        signal = 2.0 * (2 * frame["label"].to_numpy() - 1)
        noise = shift_noise if name == "external" else 0.2
        out[name] = signal + rng.normal(0, 1.5, len(frame)) + rng.normal(0, noise, (samples, len(frame)))
    return out


@pytest.fixture(scope="module")
def predictions():
    sets = fake_sets()
    logits = {"baseline": fake_logits(sets, 1, 0.0), "ensemble": fake_logits(sets, 5, 3.0)}
    temperatures = {"baseline": 2.0, "ensemble": 1.5}
    return method_predictions(sets, logits, temperatures)


def test_method_predictions_shape_and_temperature_rows(predictions):
    assert set(predictions["method"]) == {"baseline", "baseline + temperature", "ensemble",
                                          "ensemble + temperature"}
    assert len(predictions) == 4 * 2 * 60
    base = predictions[predictions["method"] == "baseline"]
    assert (base["mutual_information"] == 0).all() and (base["samples"] == 1).all()


def test_method_table_has_every_metric_with_ordered_intervals(predictions):
    table = method_table(predictions, n_boot=50)
    assert set(table["metric"]) >= {"AUROC", "NLL", "Brier", "ECE (positive, equal-width)",
                                    "ECE (top-label, equal-width)"}
    # binned ECE/MCE are biased upwards in resamples, so their percentile interval may sit above
    # the estimate; the smooth metrics must bracket it
    smooth = table[table["metric"].isin(["AUROC", "NLL", "Brier"])]
    assert (smooth["low"] <= smooth["value"] + 1e-12).all() and (smooth["value"] <= smooth["high"] + 1e-12).all()
    assert (table["low"] <= table["high"]).all()
    auroc = table[table["metric"] == "AUROC"].set_index(["method", "set"])["value"]
    assert auroc[("baseline", "test")] == auroc[("baseline + temperature", "test")]


def test_selective_table_skips_constant_scores(predictions):
    table = selective_table(predictions)
    baseline_scores = set(table.loc[table["method"] == "baseline", "score"])
    assert baseline_scores == {"1 - confidence"}
    assert (table["AURC"] >= 0).all() and (table["AURC"] <= 1).all()


def test_shift_detection_finds_a_noisier_external_set(predictions):
    table = shift_detection(predictions[~predictions["method"].str.contains("temperature")], n_boot=100)
    mi = table[(table["method"] == "ensemble") & (table["score"] == "mutual information")].iloc[0]
    assert mi["low"] > 0.5  # members disagree far more on the external set by construction


def test_fit_temperatures_per_method():
    sets = fake_sets()
    labels = sets["test"]["label"].to_numpy()
    sharp = {"m": fake_logits(sets, 1, 0.0)["test"] * 5}
    assert fit_temperatures(sharp, labels)["m"] > 2
