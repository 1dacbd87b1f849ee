"""The test set is used once: shuffling the NIH test labels moves no fitted quantity of a run.

Every quantity a run fits (the decision threshold, the quadrant cuts, the combined trust score's
weights, the trust cells' error rates a card shows, chapter 03's calibration maps (temperature,
Platt, isotonic), the deferral rules' thresholds) is fitted by a function that receives the rows
of every set and reads validation only (``tmvlib.tables.fitted``): the functions the chapters call. Shuffling the *validation* labels, as a control, must move them:
otherwise this test could not fail.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tmvlib.metrics.confidence import decision_uncertainty, errors_at
from tmvlib.tables.abstention import deferral_recipes
from tmvlib.tables.endpoints import COMBINED_FEATURES
from tmvlib.tables.fitted import (fit_trust_score, validation_calibrators, validation_cell_error_rates,
                                  validation_cuts, validation_deferral_rules, validation_threshold)
from tmvlib.contracts.scores import DECISION_UNCERTAINTY, TTA_INSTABILITY
from tmvlib.tables.quadrants import assign_quadrants

SETS = {"val": 160, "test": 160, "external": 80}


def run_frames(seed: int = 0) -> pd.DataFrame:
    """Per-image rows of every set as chapters 02 and 06 write them."""
    rng = np.random.default_rng(seed)
    parts = []
    for name, n in SETS.items():
        label = rng.integers(0, 2, n)
        logit = 1.5 * (label - 0.5) + rng.normal(size=n)
        parts.append(pd.DataFrame({"set": name, "image_id": [f"{name}{i}" for i in range(n)],
                                   "patient_id": [f"{name}{i // 2}" for i in range(n)], "label": label,
                                   "logit": logit, "prob": 1 / (1 + np.exp(-logit)),
                                   TTA_INSTABILITY: rng.random(n)}))
    return pd.concat(parts, ignore_index=True)


def fitted_quantities(frame: pd.DataFrame) -> dict:
    """Every fitted quantity, computed as the chapters and the card compute it."""
    threshold = validation_threshold(frame, "youden")
    scores = frame.copy()
    scores["correct"] = ~errors_at(scores["label"], scores["prob"], threshold)
    scores[DECISION_UNCERTAINTY] = decision_uncertainty(scores["prob"], threshold)  # as image_trust_scores
    cuts = validation_cuts(scores, DECISION_UNCERTAINTY, TTA_INSTABILITY, 0.75, 0.75)
    combined = fit_trust_score(scores, [DECISION_UNCERTAINTY, TTA_INSTABILITY])
    quadrants = assign_quadrants(scores, DECISION_UNCERTAINTY, TTA_INSTABILITY, *cuts)
    by_set = {name: part for name, part in frame.groupby("set")}
    calibrators = validation_calibrators({"baseline": {k: p["logit"].to_numpy()[None] for k, p in by_set.items()}},
                                         {k: p["label"].to_numpy() for k, p in by_set.items()})
    grid = np.linspace(0.01, 0.99, 99)  # each map compared through its values (isotonic: its steps)
    maps = {name: c(grid).round(12).tolist() for name, c in calibrators["baseline"].items()}
    rules = validation_deferral_rules(scores, deferral_recipes(COMBINED_FEATURES), max_error=0.3, delta=0.1)
    return {"threshold": threshold, "cuts": cuts, "combined": combined.coefficients.round(12).to_dict(),
            "cells": validation_cell_error_rates(quadrants, n_boot=50, seed=0), "calibrators": maps,
            "deferral": {key: f.rule.to_dict() for key, f in rules.items()}}


def shuffled(frame: pd.DataFrame, set_name: str, seed: int = 1) -> pd.DataFrame:
    out = frame.copy()
    rows = out["set"] == set_name
    out.loc[rows, "label"] = np.random.default_rng(seed).permutation(out.loc[rows, "label"].to_numpy())
    return out


def test_shuffling_test_labels_moves_no_fitted_quantity():
    frame = run_frames()
    assert fitted_quantities(shuffled(frame, "test")) == fitted_quantities(frame)


@pytest.mark.filterwarnings("ignore:fit_temperature")
def test_shuffling_validation_labels_does_move_them():
    frame = run_frames()
    before, after = fitted_quantities(frame), fitted_quantities(shuffled(frame, "val"))
    assert after["threshold"] != before["threshold"]
    assert after["combined"] != before["combined"] and after["cells"] != before["cells"]
    for name in ("temperature", "Platt", "isotonic"):
        assert after["calibrators"][name] != before["calibrators"][name], name


def test_fitting_without_validation_rows_is_refused():
    frame = run_frames()
    with pytest.raises(ValueError, match="no validation row"):
        validation_threshold(frame[frame["set"] != "val"], "youden")
