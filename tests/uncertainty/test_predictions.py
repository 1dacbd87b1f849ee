"""Per-image predictions of several uncertainty methods, raw and temperature-scaled."""
import numpy as np
import pandas as pd
import pytest

from tmvlib.uncertainty.predictions import fit_temperatures, method_predictions


def image_table(n, offset=0):
    return pd.DataFrame({"image_id": [f"i{offset + k}" for k in range(n)],
                         "patient_id": [f"p{(offset + k) // 2}" for k in range(n)],
                         "label": np.tile([0, 1], n // 2), "view": "PA", "extra": 1})


def test_temperatures_and_long_table():
    rng = np.random.default_rng(0)
    val_labels = np.tile([0, 1], 20)
    flipped = np.where(rng.random(40) < 0.3, 1 - val_labels, val_labels)  # 30% label noise
    val = {"baseline": (flipped * 12 - 6.0)[None],  # +-6 logits, wrong 30% of the time: overconfident
           "MC dropout": val_labels * 2 - 1 + rng.normal(0, 1, (5, 40))}
    temperatures = fit_temperatures(val, val_labels)
    assert set(temperatures) == {"baseline", "MC dropout"} and temperatures["baseline"] > 1
    sets = {"test": image_table(6), "external": image_table(4, 100)}
    logits = {"baseline": {"test": rng.normal(size=(1, 6)), "external": rng.normal(size=(1, 4))},
              "MC dropout": {"test": rng.normal(size=(5, 6)), "external": rng.normal(size=(5, 4))}}
    table = method_predictions(sets, logits, temperatures)
    assert len(table) == 2 * 2 * (6 + 4)  # methods x (raw, + temperature) x images
    assert set(table["method"]) == {"baseline", "baseline + temperature", "MC dropout",
                                    "MC dropout + temperature"}
    assert "extra" not in table and {"image_id", "patient_id", "label", "view", "prob"} <= set(table)
    scaled = table[table["method"] == "baseline + temperature"]
    assert (scaled["temperature"] == temperatures["baseline"]).all()
    assert table.loc[table["method"] == "MC dropout", "samples"].eq(5).all()
    raw = table[(table["method"] == "baseline") & (table["set"] == "test")]
    assert raw["prob"].to_numpy() == pytest.approx(1 / (1 + np.exp(-logits["baseline"]["test"][0])))
    assert raw["image_id"].tolist() == sets["test"]["image_id"].tolist()  # row order kept
