"""Curated examples: outcomes, margins, deterministic picks."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tmvlib.tables.curate import curated_samples, decision_margin, outcomes


def test_outcomes_at_a_threshold():
    got = outcomes(np.array([1, 1, 0, 0]), np.array([0.7, 0.2, 0.6, 0.1]), 0.5)
    assert got.tolist() == ["TP", "FN", "FP", "TN"]
    assert outcomes(np.array([1]), np.array([0.5]), 0.5).tolist() == ["TP"]  # p >= t is positive
    with pytest.raises(ValueError, match="0 or 1"):
        outcomes(np.array([2]), np.array([0.5]), 0.5)


def test_margin_is_logit_distance_from_the_threshold():
    m = decision_margin(np.array([0.5, 0.8808, 0.1192]), 0.5)
    np.testing.assert_allclose(m, [0.0, 2.0, 2.0], atol=1e-3)
    assert decision_margin(np.array([0.3]), 0.3)[0] == pytest.approx(0.0)


def test_one_high_and_one_low_per_outcome_deterministic():
    frame = pd.DataFrame({"image_id": [f"i{k}" for k in range(8)],
                          "label": [1, 1, 1, 0, 0, 0, 1, 0],
                          "prob": [0.99, 0.6, 0.8, 0.9, 0.55, 0.1, 0.2, 0.45]})
    picks = curated_samples(frame, threshold=0.5)
    assert picks[["outcome", "confidence", "image_id"]].values.tolist() == [
        ["TP", "high", "i0"], ["TP", "low", "i1"], ["FP", "high", "i3"], ["FP", "low", "i4"],
        ["FN", "high", "i6"], ["TN", "high", "i5"], ["TN", "low", "i7"]]  # one FN: no low pick
    shuffled = curated_samples(frame.sample(frac=1, random_state=0), threshold=0.5)
    assert shuffled["image_id"].tolist() == picks["image_id"].tolist()
    with pytest.raises(ValueError, match="prob"):
        curated_samples(frame.drop(columns="prob"), 0.5)


def test_sanity_sample_one_image_per_patient_by_a_fixed_rule():
    from tmvlib.tables.curate import sanity_sample

    frame = pd.DataFrame({"image_id": [f"i{k}" for k in range(12)], "patient_id": [f"p{k // 2}" for k in range(12)]})
    picked = sanity_sample(frame, 4)
    assert len(picked) == 4 and picked["patient_id"].is_unique
    assert set(picked["image_id"]) <= {f"i{k}" for k in range(0, 12, 2)}  # each patient's first image
    shuffled = sanity_sample(frame.sample(frac=1, random_state=3), 4)
    assert shuffled["image_id"].tolist() == picked["image_id"].tolist()  # independent of row order
    with pytest.raises(ValueError, match="6 patients"):
        sanity_sample(frame, 7)
