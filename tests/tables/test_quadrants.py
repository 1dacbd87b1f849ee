"""Chapter 07's quadrants set by set: the checked inputs, counts per set, the quadrants under
validation cuts, their tables, the danger-zone rates and the written rows (n_boot <= 200)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tmvlib.tables.quadrants import (AMONG, METADATA_COLUMNS, danger_rates, image_metadata, quadrant_rows,
                                     quadrant_tables, quadrants_by_set, read_trust_scores, set_counts)
from tmvlib.tables.quadrants import assign_quadrants, danger_rate_by_stability, quadrant_table


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
    pd.testing.assert_frame_equal(got.drop(columns=["set", "among", "p_holm"]).reset_index(drop=True), ref)
    assert list(rates.columns)[-3:] == ["set", "among", "p_holm"]
    # Holm over the four "unstable - stable" rows only
    family = rates["explanation"] == "unstable - stable"
    assert rates.loc[~family, "p_holm"].isna().all()
    assert (rates.loc[family, "p_holm"].dropna() >= rates.loc[family, "p_value"].dropna()).all()


def test_quadrant_rows_drop_the_path():
    quadrants = quadrants_by_set(scores_frame(), "1 - confidence", "instability (TTA)", 0.2, 0.5)
    rows = quadrant_rows(quadrants)
    assert "path" not in rows and len(rows) == 24 and rows.index.tolist() == list(range(24))
    assert list(rows.columns) == [c for c in quadrants["test"].columns if c != "path"]
