"""Subgroup tables (tmvlib.tables.subgroups): age bands, thin groups, error rates, calibration intervals."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from tmvlib.metrics.bootstrap import patient_bootstrap_mean
from tmvlib.tables.subgroups import age_bands, subgroup_table


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


def test_subgroup_calibration_interval_contains_its_estimate():
    rng = np.random.default_rng(5)
    n = 200
    prob = rng.random(n)
    frame = pd.DataFrame({"label": (rng.random(n) < prob).astype(int), "prob": prob, "patient_id": np.arange(n),
                          "sex": rng.choice(["F", "M"], n)})
    table = subgroup_table(frame, {"sex": "sex"}, n_boot=100, min_positives=5, min_negatives=5)
    assert ((table["ece_low"] <= table["ece"]) & (table["ece"] <= table["ece_high"])).all()
