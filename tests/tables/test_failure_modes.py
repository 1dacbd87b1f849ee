"""Candidate failure modes: one flag rule for chapter 07 and the card, the pooled frame of NIH
test and external images, and the chapter's mode table (n_boot <= 200)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from tmvlib.tables.curate import decision_margin
from tmvlib.tables.failure_audit import failure_mode_table
from tmvlib.tables.failure_modes import (FAILURE_MODES, WITHIN_TEST, candidate_failure_modes,
                                         failure_mode_flags, failure_mode_frame, mode_scope,
                                         peak_regions)

THRESHOLD = 0.4


def test_flags_of_one_image():
    flags = failure_mode_flags("corners", "AP", stable=True, confident=False, external=False)
    assert flags == {"edge": True, "ap": True, "unstable": False, "low_confidence": True, "external": False}
    assert list(flags) == list(FAILURE_MODES.values())
    assert all(type(v) is bool for v in flags.values())
    flags = failure_mode_flags("lung_proxy", None, stable=np.bool_(False), confident=np.bool_(True),
                               external=["an OOD check"])
    assert flags == {"edge": False, "ap": None, "unstable": True, "low_confidence": False, "external": True}
    assert all(v is None or type(v) is bool for v in flags.values())


def test_missing_peak_or_view_is_none_not_false():
    flags = failure_mode_flags(np.nan, float("nan"), True, True, False)
    assert flags["edge"] is None and flags["ap"] is None
    assert failure_mode_flags("border", "PA", True, True, False)["edge"] is True
    assert failure_mode_flags("border", "PA", True, True, False)["ap"] is False


def test_peak_regions_first_row_per_image():
    regions = pd.DataFrame({"image_id": ["a", "a", "b"], "region": ["x", "y", "x"],
                            "peak_region": ["border", "border", "lung_proxy"]})
    assert peak_regions(regions).to_dict() == {"a": "border", "b": "lung_proxy"}


def frames():
    test = pd.DataFrame({"image_id": ["t1", "t2", "t3", "t4"], "prob": [0.9, 0.1, 0.5, 0.3],
                         "view": ["AP", "PA", None, np.nan], "stable": [True, False, True, False],
                         "confident": [True, True, False, False], "patient_id": [1, 2, 3, 4],
                         "correct": [True, False, True, False]})
    external = pd.DataFrame({"image_id": ["e1", "e2"], "prob": [0.2, 0.8], "view": ["AP", "AP"],
                             "patient_id": [5, 6], "correct": [False, True]})
    peaks = pd.Series({"t1": "corners", "t2": "lung_proxy", "t4": "border"})
    return test, external, peaks


def test_failure_mode_frame_pools_test_and_external():
    test, external, peaks = frames()
    pooled = failure_mode_frame(test, external, peaks, THRESHOLD)
    assert pooled["image_id"].tolist() == ["t1", "t2", "t3", "t4", "e1", "e2"]
    assert pooled["edge"].tolist() == [True, False, None, True, None, None]      # t3 has no peak region
    assert pooled["ap"].tolist() == [True, False, None, None, None, None]        # t3, t4: view unknown
    assert pooled["unstable"].tolist() == [False, True, False, True, None, None]
    assert pooled["low_confidence"].tolist() == [False, False, True, True, None, None]
    assert pooled["external"].tolist() == [False] * 4 + [True] * 2
    np.testing.assert_array_equal(pooled["decision_margin"], decision_margin(pooled["prob"], THRESHOLD))
    # the rule of one image is the rule of the frame
    for row in pooled.iloc[:4].itertuples():
        expect = failure_mode_flags(peaks.get(row.image_id), row.view, row.stable, row.confident, False)
        assert {k: getattr(row, k) for k in expect} == expect
    assert set(WITHIN_TEST) | {"external"} == set(FAILURE_MODES.values())


def test_candidate_failure_modes_is_the_table_with_its_scope():
    rng = np.random.default_rng(0)
    n = 40
    test = pd.DataFrame({"image_id": [f"t{i:02d}" for i in range(n)], "prob": rng.random(n),
                         "view": rng.choice(["AP", "PA"], n), "stable": rng.random(n) > 0.3,
                         "confident": rng.random(n) > 0.3, "patient_id": np.arange(n) // 2,
                         "correct": rng.random(n) > 0.3})
    external = pd.DataFrame({"image_id": [f"e{i:02d}" for i in range(12)], "prob": rng.random(12),
                             "patient_id": 100 + np.arange(12), "correct": rng.random(12) > 0.5})
    peaks = pd.Series(rng.choice(["border", "lung_proxy", "corners"], n), index=test["image_id"])
    pooled = failure_mode_frame(test, external, peaks, THRESHOLD)
    got = candidate_failure_modes(pooled, n_boot=100, seed=1, min_images=5, prefer=["t03"])
    ref = failure_mode_table(pooled, FAILURE_MODES, n_boot=100, seed=1, min_images=5, n_examples=3,
                             prefer=["t03"], rank_by="decision_margin")
    pd.testing.assert_frame_equal(got.drop(columns="scope"), ref)
    assert got["scope"].tolist() == ["NIH test"] * 4 + ["NIH test + external"]
    assert mode_scope("external") == "NIH test + external" and mode_scope("ap") == "NIH test"
    assert got.set_index("column").loc["external", "images"] == n + 12
    assert got.set_index("column").loc["ap", "images"] == n
