"""The test set is used once: shuffling the NIH test **and external** labels (and scrambling
their instabilities and features) moves no fitted quantity of a run.

Every quantity a run fits (the decision threshold, the quadrant cuts, the combined trust score's
weights, the trust cells' error rates a card shows, chapter 03's calibration maps (temperature,
Platt, isotonic), the deferral rules, the failure modes a card may warn about, the constant-map
fill, the out-of-distribution reference) is fitted by a function that receives the rows of every
set and reads validation only (``tmvlib.tables.fitted``): the functions the chapters call.
Shuffling the *validation* labels, as a control, must move them: otherwise this test could not
fail. Under cross-fitted evaluation the same holds per fold model: shuffling its test fold moves
nothing it fits (its threshold, its calibration maps), shuffling its calibration fold does.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tmvlib.card.reference import fit_input_reference_from_stats
from tmvlib.contracts.scores import DECISION_UNCERTAINTY, TTA_INSTABILITY
from tmvlib.tables.abstention import deferral_recipes
from tmvlib.tables.endpoints import COMBINED_FEATURES
from tmvlib.tables.fitted import (fit_trust_score, validation_calibrators, validation_cell_error_rates,
                                  validation_cuts, validation_deferral_rules, validation_failure_modes,
                                  validation_threshold)
from tmvlib.tables.quadrants import assign_quadrants
from tmvlib.tables.trust import at_threshold
from tmvlib.tables.trust_cells import fill_constant_maps

SETS = {"val": 160, "test": 160, "external": 80}


def run_frames(seed: int = 0) -> pd.DataFrame:
    """Per-image rows of every set as chapters 02 and 06 write them."""
    rng = np.random.default_rng(seed)
    parts = []
    for name, n in SETS.items():
        label = rng.integers(0, 2, n)
        logit = 1.5 * (label - 0.5) + rng.normal(size=n)
        instability = np.where(rng.random(n) < 0.1, np.nan, rng.random(n))  # NaN: a constant map
        parts.append(pd.DataFrame({"set": name, "image_id": [f"{name}{i}" for i in range(n)],
                                   "patient_id": [f"{name}{i // 2}" for i in range(n)], "label": label,
                                   "logit": logit, "prob": 1 / (1 + np.exp(-logit)),
                                   TTA_INSTABILITY: instability, "view": rng.choice(["AP", "PA"], n),
                                   "peak": rng.choice(["centre", "border", "corners", "left"], n),
                                   "feature": rng.normal(size=n)}))
    return pd.concat(parts, ignore_index=True)


def fitted_quantities(frame: pd.DataFrame) -> dict:
    """Every fitted quantity, computed as the chapters and the card compute it."""
    threshold = validation_threshold(frame, "youden")
    filled = fill_constant_maps(frame, [TTA_INSTABILITY])  # chapter 06: a constant map ranks as the least stable
    scores = at_threshold(filled, threshold)  # as image_trust_scores
    cuts = validation_cuts(scores, DECISION_UNCERTAINTY, TTA_INSTABILITY, 0.75, 0.75)
    combined = fit_trust_score(scores, [DECISION_UNCERTAINTY, TTA_INSTABILITY])
    quadrants = assign_quadrants(scores, DECISION_UNCERTAINTY, TTA_INSTABILITY, *cuts)
    by_set = {name: part for name, part in frame.groupby("set")}
    calibrators = validation_calibrators({"baseline": {k: p["logit"].to_numpy()[None] for k, p in by_set.items()}},
                                         {k: p["label"].to_numpy() for k, p in by_set.items()})
    grid = np.linspace(0.01, 0.99, 99)  # each map compared through its values (isotonic: its steps)
    maps = {name: c(grid).round(12).tolist() for name, c in calibrators["baseline"].items()}
    rules = validation_deferral_rules(scores, deferral_recipes(COMBINED_FEATURES), max_error=0.3, delta=0.1)
    modes = validation_failure_modes(quadrants, frame.set_index("image_id")["peak"], threshold, n_boot=50,
                                     min_images=5)
    bank = np.random.default_rng(0).normal(size=(8, 1))  # the training images' features (fixed)
    reference = fit_input_reference_from_stats(np.ones(8), np.ones(8), np.full((8, 2), 64), bank,
                                               frame.loc[frame["set"] == "val", ["feature"]].to_numpy(),
                                               image_size=64, k=2)
    return {"threshold": threshold, "cuts": cuts, "combined": combined.coefficients.round(12).to_dict(),
            "cells": validation_cell_error_rates(quadrants, n_boot=50, seed=0), "calibrators": maps,
            "deferral": {key: f.rule.to_dict() for key, f in rules.items()},
            "modes": modes.drop(columns=["examples"], errors="ignore").to_dict("records"),
            "fill": filled.loc[frame[TTA_INSTABILITY].isna(), TTA_INSTABILITY].tolist(),
            "ood": reference.distance_threshold}


def shuffled(frame: pd.DataFrame, set_names: tuple[str, ...], seed: int = 1) -> pd.DataFrame:
    """``frame`` with the labels of ``set_names`` permuted within each set; for sets other than
    validation, their instabilities and features scrambled too."""
    out = frame.copy()
    rng = np.random.default_rng(seed)
    for name in set_names:
        rows = out["set"] == name
        out.loc[rows, "label"] = rng.permutation(out.loc[rows, "label"].to_numpy())
        if name != "val":
            out.loc[rows, TTA_INSTABILITY] = rng.permutation(out.loc[rows, TTA_INSTABILITY].to_numpy()) * 3
            out.loc[rows, "feature"] = rng.normal(size=int(rows.sum())) * 10
    return out


def test_shuffling_test_and_external_labels_moves_no_fitted_quantity():
    frame = run_frames()
    assert fitted_quantities(shuffled(frame, ("test", "external"))) == fitted_quantities(frame)


@pytest.mark.filterwarnings("ignore:fit_temperature")
def test_shuffling_validation_labels_does_move_them():
    frame = run_frames()
    before, after = fitted_quantities(frame), fitted_quantities(shuffled(frame, ("val",)))
    assert after["threshold"] != before["threshold"]
    assert after["combined"] != before["combined"] and after["cells"] != before["cells"]
    assert after["deferral"] != before["deferral"] and after["modes"] != before["modes"]
    for name in ("temperature", "Platt", "isotonic"):
        assert after["calibrators"][name] != before["calibrators"][name], name


def test_fitting_without_validation_rows_is_refused():
    frame = run_frames()
    with pytest.raises(ValueError, match="no validation row"):
        validation_threshold(frame[frame["set"] != "val"], "youden")


# Cross-fitted evaluation: per fold model, what it fits reads its calibration fold only.

def fold_frames(k: int = 3, seed: int = 0) -> pd.DataFrame:
    """One row per (image, fold model) of the calibration and test roles, as chapter 02 scores them."""
    rng = np.random.default_rng(seed)
    parts = []
    for fold in range(k):
        for role in ("calibration", "test"):
            label = rng.integers(0, 2, 80)
            logit = 1.5 * (label - 0.5) + rng.normal(size=80) + 0.3 * fold
            parts.append(pd.DataFrame({"fold": fold, "role": role, "image_id": [f"{fold}{role}{i}" for i in range(80)],
                                       "patient_id": [f"{fold}{role}{i // 2}" for i in range(80)], "label": label,
                                       "logit": logit, "prob": 1 / (1 + np.exp(-logit))}))
    return pd.concat(parts, ignore_index=True)


def fold_fitted_quantities(frame: pd.DataFrame) -> dict:
    """Every quantity a fold model fits, as chapters 02 and 03 fit them."""
    from tmvlib.tables.fitted import calibration_fold_calibrators, calibration_fold_thresholds

    thresholds = calibration_fold_thresholds(frame, "youden")
    by = {f: {r: g for r, g in rows.groupby("role")} for f, rows in frame.groupby("fold")}
    logits = {f: {"baseline": {r: g["logit"].to_numpy()[None] for r, g in roles.items()}} for f, roles in by.items()}
    labels = {f: {r: g["label"].to_numpy() for r, g in roles.items()} for f, roles in by.items()}
    grid = np.linspace(0.01, 0.99, 99)
    maps = {f: {n: c(grid).round(12).tolist() for n, c in m["baseline"].items()}
            for f, m in calibration_fold_calibrators(logits, labels).items()}
    return {"thresholds": thresholds.to_dict(), "calibrators": maps}


def shuffled_role(frame: pd.DataFrame, fold: int, role: str, seed: int = 1) -> pd.DataFrame:
    """``frame`` with the labels (and scores) of one fold model's ``role`` rows permuted."""
    out = frame.copy()
    rows = (out["fold"] == fold) & (out["role"] == role)
    rng = np.random.default_rng(seed)
    out.loc[rows, "label"] = rng.permutation(out.loc[rows, "label"].to_numpy())
    if role == "test":
        out.loc[rows, "logit"] = rng.normal(size=int(rows.sum())) * 5
        out.loc[rows, "prob"] = 1 / (1 + np.exp(-out.loc[rows, "logit"]))
    return out


@pytest.mark.filterwarnings("ignore:fit_temperature", "ignore:Platt slope")
def test_shuffling_a_test_fold_moves_nothing_its_model_fits_and_its_calibration_fold_does():
    frame = fold_frames()
    before = fold_fitted_quantities(frame)
    for fold in range(3):
        assert fold_fitted_quantities(shuffled_role(frame, fold, "test")) == before
        after = fold_fitted_quantities(shuffled_role(frame, fold, "calibration"))
        assert after["thresholds"][fold] != before["thresholds"][fold]
        assert after["calibrators"][fold] != before["calibrators"][fold]
        others = [f for f in range(3) if f != fold]
        assert all(after["calibrators"][f] == before["calibrators"][f] for f in others)
