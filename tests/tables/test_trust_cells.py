"""Trust cells: the one label of a cell, the constant-map rule in its two forms, and the error
rate per cell, on hand-built frames (n_boot <= 200)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tmvlib.metrics.bootstrap import patient_bootstrap_mean
from tmvlib.tables.trust_cells import (INSTABILITY_COLUMNS, STABILITY_SOURCES, cell_error_rates, constant_map_counts,
                                       fill_constant_maps, is_confident, is_stable, trust_cell)


def test_trust_cell_labels_with_and_without_correctness():
    assert trust_cell(True, True) == "confident · stable"
    assert trust_cell(False, False) == "uncertain · unstable"
    assert trust_cell(np.bool_(True), np.bool_(False), correct=False) == "incorrect · confident · unstable"
    assert trust_cell(False, True, correct=True) == "correct · uncertain · stable"


def test_cuts_count_ties_as_confident_and_stable():
    assert is_confident(0.2, 0.2) and not is_confident(0.21, 0.2)
    assert is_stable(0.3, 0.3) and not is_stable(0.31, 0.3)
    assert type(is_stable(np.float64(0.1), 0.3)) is bool


@pytest.mark.parametrize("undefined", [float("nan"), np.nan, float("inf")])
def test_constant_map_is_unstable_whatever_the_cut(undefined):
    assert is_stable(undefined, 10.0) is False


def test_fill_constant_maps_ranks_them_last_and_copies():
    frame = pd.DataFrame({"image_id": list("abcd"), "set": "val",
                          "instability (MC dropout)": [0.1, np.nan, 0.3, 0.2],
                          "instability (ensemble)": [0.5, 0.4, np.nan, np.nan],
                          "instability (TTA)": [0.2, 0.2, 0.2, 0.2],
                          "other": [np.nan, 1.0, 2.0, 3.0]})
    out = fill_constant_maps(frame)
    assert out["instability (MC dropout)"].tolist() == [0.1, 0.3, 0.3, 0.2]
    assert out["instability (ensemble)"].tolist() == [0.5, 0.4, 0.5, 0.5]
    assert out["instability (TTA)"].tolist() == [0.2] * 4
    assert out["constant map (MC dropout)"].tolist() == [False, True, False, False]
    assert constant_map_counts(out).loc["val"].tolist() == [4, 1, 2, 0]
    assert np.isnan(out.loc[0, "other"])  # not an instability column: untouched
    assert frame["instability (MC dropout)"].isna().sum() == 1  # the input is not modified
    assert INSTABILITY_COLUMNS == tuple(f"instability ({s})" for s in STABILITY_SOURCES)


def test_fill_constant_maps_of_chosen_columns_only():
    frame = pd.DataFrame({"set": "val", "a": [np.nan, 1.0], "b": [np.nan, 2.0]})
    out = fill_constant_maps(frame, ["a"])
    assert out["a"].tolist() == [1.0, 1.0] and np.isnan(out.loc[0, "b"])


def test_fill_constant_maps_reads_validation_only():
    frame = pd.DataFrame({"set": ["val", "val", "test", "external"], "a": [0.2, np.nan, 0.9, np.nan]})
    out = fill_constant_maps(frame, ["a"])
    # the test value 0.9 never reaches a validation row; every NaN gets the validation maximum
    assert out["a"].tolist() == [0.2, 0.2, 0.9, 0.2]
    with pytest.raises(ValueError, match="no 'val' row"):
        fill_constant_maps(frame[frame["set"] != "val"], ["a"])


def test_cell_error_rates_per_cell_with_the_shared_labels():
    frame = pd.DataFrame({"confident": [True, True, True, False, False],
                          "stable": [True, True, False, True, True],
                          "correct": [True, False, False, True, True],
                          "patient_id": [1, 2, 3, 4, 5]})
    got = cell_error_rates(frame, n_boot=100, seed=0)
    assert set(got) == {"confident · stable", "confident · unstable", "uncertain · stable"}
    cs = got["confident · stable"]
    ref = patient_bootstrap_mean(np.array([0.0, 1.0]), np.array([1, 2]), n_boot=100, seed=0)
    assert (cs["rate"], cs["low"], cs["high"]) == (ref.value, ref.low, ref.high)
    assert cs["images"] == 2 and cs["errors"] == 1
    assert got["confident · unstable"]["rate"] == 1.0 and got["uncertain · stable"]["errors"] == 0


def test_a_prediction_that_flips_under_most_perturbations_is_not_confident():
    assert is_confident(0.1, 0.3) and is_confident(0.1, 0.3, flip_rate=0.5, max_flip_rate=0.5)
    assert not is_confident(0.1, 0.3, flip_rate=5 / 6, max_flip_rate=0.5)
    assert is_confident(0.1, 0.3, flip_rate=5 / 6)               # rule off
    assert is_confident(0.1, 0.3, flip_rate=float("nan"), max_flip_rate=0.5)  # unknown: not held against it
    assert not is_confident(0.4, 0.3, flip_rate=0.0, max_flip_rate=0.5)


def test_assign_quadrants_applies_the_flip_rule():
    from tmvlib.tables.quadrants import assign_quadrants

    frame = pd.DataFrame({"correct": [True, False], "u": [0.1, 0.1], "i": [0.1, 0.1],
                          "flip rate (TTA)": [0.0, 5 / 6]})
    plain = assign_quadrants(frame, "u", "i", 0.3, 0.3)
    ruled = assign_quadrants(frame, "u", "i", 0.3, 0.3, max_flip_rate=0.5)
    assert plain["confident"].tolist() == [True, True] and plain["danger"].tolist() == [False, True]
    assert ruled["confident"].tolist() == [True, False] and not ruled["danger"].any()
