"""Everything a run fits, fitted on the validation images only: the test set is used once.

Each function here takes the rows of **every** set (a ``set`` column: ``val``, ``test``,
``external``) and reads only the validation rows, so a chapter or the trust card cannot reach the
test labels by passing the wrong frame. ``tests/test_test_set_used_once.py`` shuffles the test
labels and checks that none of these quantities moves:

- the decision threshold (chapter 02): :func:`validation_threshold`;
- the quadrant cuts (chapter 07 and the card): :func:`validation_cuts`;
- the combined trust score's weights (chapter 06): :func:`fit_trust_score`;
- the error rate of each trust cell shown on a card: :func:`validation_cell_error_rates`;
- the deferral rules with a guarantee (chapter 07 and the card): :func:`validation_deferral_rules`;
- the failure modes a card may warn about (chapter 07): :func:`validation_failure_modes`, judged
  within the validation images only (the external population is not among them: another
  population is flagged by the out-of-distribution check, never by a mode fitted on its labels);
- the calibration maps (temperature, Platt, isotonic) of every method (chapter 03):
  :func:`validation_calibrators`.

Under cross-fitted evaluation (:mod:`tmvlib.data.folds`) the same holds per fold model: its
quantities are fitted on the rows whose ``role`` is ``"calibration"`` (the next fold) and never
on its ``"test"`` rows: :func:`calibration_fold_thresholds`, :func:`calibration_fold_calibrators`.

The out-of-distribution quantile (chapter 08) is fitted on validation features by
``tmvlib.card.reference.fit_input_reference``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..metrics.discrimination import choose_threshold
from ..metrics.frames import require_columns
from ..uncertainty.calibrators import CALIBRATIONS, Calibrator
from ..uncertainty.predictions import fit_method_calibrators
from .failure_modes import NIH_MODES, candidate_failure_modes, failure_mode_frame
from .abstention import FittedDeferral, ScoreRecipe, fit_deferral_rules, patients_to_certify, targets_table
from ..uncertainty.combined_score import CombinedScore, fit_combined_score
from .quadrants import threshold_at_quantile
from .trust_cells import cell_error_rates

FIT_SET = "val"
CALIBRATION_ROLE = "calibration"  # what a fold model fits on (tmvlib.data.folds.ROLES)


def validation_rows(frame: pd.DataFrame, what: str) -> pd.DataFrame:
    """The rows of ``frame`` whose ``set`` is ``"val"``.

    Raises:
        KeyError: no ``set`` column. ValueError: no validation row (``what`` names the caller).
    """
    require_columns(frame, ["set"], what)
    rows = frame[frame["set"] == FIT_SET]
    if rows.empty:
        raise ValueError(f"{what}: no validation row (set == {FIT_SET!r}) to fit on; sets present: "
                         f"{sorted(frame['set'].unique())}")
    return rows


def validation_threshold(predictions: pd.DataFrame, rule: str) -> float:
    """Chapter 02's decision threshold: ``tmvlib.metrics.discrimination.choose_threshold`` of the
    validation rows' ``label`` and ``prob`` under ``rule`` (``youden`` | ``sensitivity90`` |
    ``half``)."""
    val = validation_rows(predictions, "the decision threshold")
    return choose_threshold(val["label"].to_numpy(), val["prob"].to_numpy(), rule)


def calibration_fold_thresholds(predictions: pd.DataFrame, rule: str) -> pd.Series:
    """The decision threshold of every fold model, each chosen under ``rule`` on its own
    calibration fold (rows with ``role == "calibration"``), as :func:`validation_threshold` is on
    validation.

    Args:
        predictions: one row per (image, fold model) with ``fold, role, label, prob``.
    Returns:
        float Series ``fold -> threshold``, folds ascending.
    Raises:
        ValueError: a fold model with no calibration row.
    """
    require_columns(predictions, ["fold", "role", "label", "prob"], "the fold thresholds")
    rows = predictions[predictions["role"] == CALIBRATION_ROLE]
    missing = sorted(set(predictions["fold"]) - set(rows["fold"]))
    if missing:
        raise ValueError(f"the fold thresholds: fold model(s) {missing} have no calibration row to fit on")
    return pd.Series({fold: choose_threshold(g["label"].to_numpy(), g["prob"].to_numpy(), rule)
                      for fold, g in rows.groupby("fold")}, name="threshold").rename_axis("fold").sort_index()


def calibration_fold_calibrators(logits: Mapping[int, Mapping[str, Mapping[str, np.ndarray]]],
                                 labels: Mapping[int, Mapping[str, np.ndarray]],
                                 names: tuple[str, ...] = CALIBRATIONS) -> dict[int, dict[str, dict[str, Calibrator]]]:
    """Every fold model's calibration maps of every method, each fitted on its own calibration
    fold only, as :func:`validation_calibrators` fits on validation.

    Args:
        logits: fold -> method -> role -> sampled logits ``(S, N_role)``; only ``"calibration"`` is read.
        labels: fold -> role -> ``(N_role,)`` labels; only ``"calibration"`` is read.
    Returns:
        fold -> method -> calibration name -> fitted map.
    Raises:
        ValueError: a fold without calibration labels or logits.
    """
    fitted = {}
    for fold, by_method in logits.items():
        if CALIBRATION_ROLE not in labels.get(fold, {}) or any(CALIBRATION_ROLE not in r for r in by_method.values()):
            raise ValueError(f"the fold calibration maps: fold {fold} has no calibration-fold logits or labels")
        fitted[fold] = fit_method_calibrators({m: by_role[CALIBRATION_ROLE] for m, by_role in by_method.items()},
                                              np.asarray(labels[fold][CALIBRATION_ROLE]), names)
    return fitted


def validation_calibrators(logits: Mapping[str, Mapping[str, np.ndarray]], labels: Mapping[str, np.ndarray],
                           names: tuple[str, ...] = CALIBRATIONS) -> dict[str, dict[str, Calibrator]]:
    """Chapter 03's calibration maps of every method, fitted on the validation images only
    (:func:`tmvlib.uncertainty.predictions.fit_method_calibrators`).

    Args:
        logits: method -> set -> sampled logits ``(S, N_set)``, every set the chapter scored.
        labels: set -> ``(N_set,)`` labels; only ``labels["val"]`` is read.
    Raises:
        ValueError: no validation labels, or a method without validation logits.
    """
    if FIT_SET not in labels:
        raise ValueError(f"the calibration maps: no validation labels to fit on; sets present: {sorted(labels)}")
    missing = sorted(method for method, by_set in logits.items() if FIT_SET not in by_set)
    if missing:
        raise ValueError(f"the calibration maps: no validation logits for {missing}")
    return fit_method_calibrators({method: by_set[FIT_SET] for method, by_set in logits.items()},
                                  np.asarray(labels[FIT_SET]), names)


def validation_cuts(scores: pd.DataFrame, uncertainty_score: str, instability_score: str,
                    uncertainty_quantile: float, instability_quantile: float) -> tuple[float, float]:
    """The quadrant cuts: the ``uncertainty_quantile`` of the validation images' uncertainty and
    the ``instability_quantile`` of their instability (``threshold_at_quantile``).

    Returns:
        ``(uncertainty_threshold, instability_threshold)``.
    """
    val = validation_rows(scores, "the quadrant cuts")
    return (threshold_at_quantile(val[uncertainty_score], uncertainty_quantile),
            threshold_at_quantile(val[instability_score], instability_quantile))


def fit_trust_score(per_image: pd.DataFrame, features: Sequence[str]) -> CombinedScore:
    """The combined trust score (``tmvlib.uncertainty.combined_score.fit_combined_score``) fitted on the
    validation rows of ``per_image``."""
    return fit_combined_score(validation_rows(per_image, "the combined trust score"), features)


def validation_cell_error_rates(quadrants: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> dict[str, dict]:
    """The error rate of each trust cell on the validation images (``cell_error_rates`` of the
    validation rows of chapter 07's ``trust_quadrants.parquet``): what a trust card shows."""
    return cell_error_rates(validation_rows(quadrants, "the trust cells' error rates"), n_boot, seed)


def validation_deferral_rules(per_image: pd.DataFrame, recipes: Mapping[str, ScoreRecipe], max_error: float,
                              delta: float, grid: np.ndarray | None = None,
                              fwer: str = "bonferroni_holm",
                              target_chosen: str = "declared") -> dict[tuple[str, str], FittedDeferral]:
    """The deferral rules (``tmvlib.tables.abstention.fit_deferral_rules``: every score recipe,
    both rule kinds) calibrated on the validation rows of ``per_image``: the calibration set of
    the guarantee. A recipe that fits its score (the combined score) fits it on the same rows."""
    return fit_deferral_rules(validation_rows(per_image, "the deferral rules"), recipes, max_error, delta,
                              grid, fwer, target_chosen)


def validation_targets(per_image: pd.DataFrame, recipes: Mapping[str, ScoreRecipe], targets: Sequence[float],
                       delta: float, grid: np.ndarray | None = None, fwer: str = "bonferroni_holm",
                       evaluate: str = "test") -> pd.DataFrame:
    """``tables.abstention.targets_table``: every target calibrated on the validation rows of
    ``per_image`` and evaluated on its ``evaluate`` rows."""
    return targets_table(validation_rows(per_image, "the deferral targets"), per_image[per_image["set"] == evaluate],
                         recipes, tuple(targets), delta, grid, fwer)


def validation_failure_modes(quadrants: pd.DataFrame, peaks: pd.Series, threshold: float, n_boot: int = 1000,
                             seed: int = 0, min_images: int = 10) -> pd.DataFrame:
    """The failure modes a trust card may warn about: ``tables.failure_modes.candidate_failure_modes``
    of the NIH modes (:data:`tmvlib.tables.failure_modes.NIH_MODES`, not the external population)
    within the validation rows of ``quadrants`` (chapter 07's quadrant rows, a ``set`` column).

    Args:
        peaks: image id -> Grad-CAM peak region. threshold: chapter 02's decision threshold.
    """
    val = validation_rows(quadrants, "the card's failure modes")
    return candidate_failure_modes(failure_mode_frame(val, None, peaks, threshold), n_boot=n_boot, seed=seed,
                                   min_images=min_images, within="NIH validation", modes=NIH_MODES)


def validation_patients_to_certify(per_image: pd.DataFrame, fitted: FittedDeferral, n_sim: int = 200,
                                   seed: int = 0) -> pd.DataFrame:
    """``tables.abstention.patients_to_certify`` of a calibrated rule on the validation rows of
    ``per_image`` (its own target, confidence, kind, grid and multiplicity correction): how many
    validation-like patients would certify its target."""
    r = fitted.rule
    return patients_to_certify(validation_rows(per_image, "the calibration size needed"), fitted.score, r.max_error,
                               r.delta, r.kind, np.asarray(r.grid), r.fwer, n_sim=n_sim, seed=seed)
