"""Chapter 07's quadrants set by set: the checked inputs, counts per set, the quadrants under
validation cuts, their tables, the danger-zone rates and the written rows (n_boot <= 200)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tmvlib.tables.quadrants import (AMONG, METADATA_COLUMNS, danger_rates, image_metadata, quadrant_rows,
                                     quadrant_tables, quadrants_by_set, read_trust_scores, set_counts)
from tmvlib.metrics.bootstrap import patient_bootstrap_mean
from tmvlib.tables.quadrants import (assign_quadrants, danger_rate_by_stability, quadrant_table,
                                     threshold_at_quantile)

N_BOOT = 200


def scores_frame(n=12):
    rng = np.random.default_rng(0)
    sets = ["val"] * n + ["test"] * n + ["external"] * n
    return pd.DataFrame({"image_id": [f"i{k:02d}" for k in range(3 * n)], "patient_id": np.arange(3 * n) // 2,
                         "label": rng.integers(0, 2, 3 * n), "prob": rng.random(3 * n), "set": sets,
                         "correct": rng.random(3 * n) > 0.3, "1 - confidence": rng.random(3 * n) / 2,
                         "instability (TTA)": rng.random(3 * n), "path": "x.png"})


def test_read_trust_scores_checks_file_and_columns(tmp_path):
    path = tmp_path / "trust_scores.parquet"
    with pytest.raises(FileNotFoundError, match="run chapter 06 first"):
        read_trust_scores(path, ["1 - confidence"])
    scores_frame().to_parquet(path, index=False)
    assert len(read_trust_scores(path, ["1 - confidence", "instability (TTA)"])) == 36
    with pytest.raises(KeyError, match="'entropy' is not a column of trust_scores.parquet"):
        read_trust_scores(path, ["entropy"])


def test_image_metadata_first_row_per_image():
    predictions = pd.DataFrame({"image_id": ["a", "a", "b"], **{c: [1, 2, 3] for c in METADATA_COLUMNS}})
    meta = image_metadata(predictions)
    assert meta.index.tolist() == ["a", "b"] and list(meta.columns) == list(METADATA_COLUMNS)
    assert meta.loc["a", "view"] == 1


def test_set_counts():
    counts = set_counts(scores_frame())
    assert counts.index.tolist() == ["val", "test", "external"]
    assert counts.loc["test", "images"] == 12 and counts.loc["test", "patients"] == 6
    frame = scores_frame()
    assert counts.loc["external", "errors"] == int((~frame.loc[frame["set"] == "external", "correct"]).sum())


def test_quadrants_tables_and_rates_per_set():
    scores = scores_frame()
    quadrants = quadrants_by_set(scores, "1 - confidence", "instability (TTA)", 0.2, 0.5)
    assert list(quadrants) == ["test", "external"]
    ref = assign_quadrants(scores[scores["set"] == "test"].reset_index(drop=True), "1 - confidence",
                           "instability (TTA)", 0.2, 0.5)
    pd.testing.assert_frame_equal(quadrants["test"], ref)
    tables = quadrant_tables(quadrants)
    assert len(tables) == 16 and tables["set"].tolist() == ["test"] * 8 + ["external"] * 8
    pd.testing.assert_frame_equal(tables.iloc[8:].drop(columns="set").reset_index(drop=True),
                                  quadrant_table(quadrants["external"]))
    rates = danger_rates(quadrants, n_boot=50, seed=2)
    assert rates["among"].unique().tolist() == list(AMONG.values())
    assert rates[["set", "among"]].drop_duplicates().values.tolist() == [
        ["test", AMONG["all"]], ["test", AMONG["confident"]], ["external", AMONG["all"]],
        ["external", AMONG["confident"]]]
    ref = danger_rate_by_stability(quadrants["external"], n_boot=50, seed=2, among="confident")
    got = rates[(rates["set"] == "external") & (rates["among"] == AMONG["confident"])]
    added = ["set", "among", "p_holm", "family_size", "p_holm_mc_error"]
    pd.testing.assert_frame_equal(got.drop(columns=added + ["mdd"]).reset_index(drop=True), ref.drop(columns="mdd"))
    assert list(rates.columns)[-5:] == added
    # Holm over the four "unstable - stable" rows only; their detectable difference at alpha / 4
    family = rates["explanation"] == "unstable - stable"
    assert rates.loc[~family, "p_holm"].isna().all()
    assert (rates.loc[family, "p_holm"].dropna() >= rates.loc[family, "p_value"].dropna()).all()
    assert (rates.loc[family, "family_size"] == 4).all()
    assert got["mdd"].iloc[-1] >= ref["mdd"].iloc[-1] and ref["mdd"].iloc[:2].isna().all()


def test_quadrant_rows_drop_the_path():
    quadrants = quadrants_by_set(scores_frame(), "1 - confidence", "instability (TTA)", 0.2, 0.5)
    rows = quadrant_rows(quadrants)
    assert "path" not in rows and len(rows) == 24 and rows.index.tolist() == list(range(24))
    assert list(rows.columns) == [c for c in quadrants["test"].columns if c != "path"]


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
