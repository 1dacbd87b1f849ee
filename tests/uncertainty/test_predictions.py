"""Per-image predictions of several uncertainty methods under each calibration, at the decision."""
import numpy as np
import pandas as pd
import pytest

from tmvlib.uncertainty.predictions import fit_method_calibrators, method_predictions, predictive_probs


def image_table(n, offset=0):
    return pd.DataFrame({"image_id": [f"i{offset + k}" for k in range(n)],
                         "patient_id": [f"p{(offset + k) // 2}" for k in range(n)],
                         "label": np.tile([0, 1], n // 2), "view": "PA", "extra": 1})


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    val_labels = np.tile([0, 1], 40)
    flipped = np.where(rng.random(80) < 0.3, 1 - val_labels, val_labels)  # 30% label noise
    val = {"baseline": (flipped * 12 - 6.0 + rng.normal(0, 1, 80))[None],  # over-confident
           "MC dropout": val_labels * 2 - 1 + rng.normal(0, 1, 80) + rng.normal(0, 1, (5, 80))}
    return val, val_labels, fit_method_calibrators(val, val_labels)


def test_the_temperature_calibrator_is_the_nll_temperature_of_the_predictive_logit(fitted):
    from tmvlib.uncertainty.scores import uncertainty_scores
    from tmvlib.uncertainty.temperature import fit_temperature

    val, labels, calibrators = fitted
    assert calibrators["baseline"]["temperature"].params["T"] > 1  # over-confident
    for method, logits in val.items():
        t = fit_temperature(uncertainty_scores(logits)["logit"].to_numpy(), labels)
        assert calibrators[method]["temperature"].params["T"] == pytest.approx(t)


def test_long_table_has_every_method_and_calibration_at_the_decision(fitted):
    _, _, calibrators = fitted
    rng = np.random.default_rng(1)
    sets = {"test": image_table(6), "external": image_table(4, 100)}
    logits = {"baseline": {"test": rng.normal(size=(1, 6)), "external": rng.normal(size=(1, 4))},
              "MC dropout": {"test": rng.normal(size=(5, 6)), "external": rng.normal(size=(5, 4))}}
    table = method_predictions(sets, logits, calibrators, threshold=0.4)
    assert len(table) == 2 * 4 * (6 + 4)  # methods x calibrations x images
    assert set(table["method"]) == {f"{m}{s}" for m in ("baseline", "MC dropout")
                                    for s in ("", " + temperature", " + Platt", " + isotonic")}
    assert "extra" not in table and {"image_id", "patient_id", "label", "view", "prob", "threshold",
                                     "decision_uncertainty", "error", "calibration", "base_method"} <= set(table)
    raw = table[(table["method"] == "baseline") & (table["set"] == "test")]
    assert raw["prob"].to_numpy() == pytest.approx(1 / (1 + np.exp(-logits["baseline"]["test"][0])))
    assert raw["image_id"].tolist() == sets["test"]["image_id"].tolist()  # row order kept
    assert (raw["threshold"] == 0.4).all() and (raw["temperature"] == 1.0).all()
    assert raw["error"].tolist() == ((raw["prob"] >= 0.4) != raw["label"]).tolist()
    scaled = table[table["method"] == "baseline + temperature"]
    assert (scaled["temperature"] == calibrators["baseline"]["temperature"].params["T"]).all()
    assert table.loc[table["calibration"] == "Platt", "temperature"].isna().all()
    for method in ("baseline", "MC dropout"):  # increasing maps at the mapped threshold: same errors
        errors = {c: table.loc[(table["base_method"] == method) & (table["calibration"] == c), "error"].tolist()
                  for c in ("none", "temperature", "Platt")}
        assert errors["none"] == errors["temperature"] == errors["Platt"]
    unc = table["decision_uncertainty"]
    assert unc.between(0, 1).all()
    assert table["mutual_information"][table["base_method"] == "baseline"].eq(0).all()
    assert table.loc[table["base_method"] == "MC dropout", "samples"].eq(5).all()


def test_predictive_probs_average_the_samples():
    logits = np.array([[0.0, 2.0], [0.0, -2.0]])
    assert predictive_probs(logits) == pytest.approx([0.5, 0.5])
