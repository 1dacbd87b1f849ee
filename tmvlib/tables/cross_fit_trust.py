"""Chapter 07 cross-fitted: every fold model's trust quadrants, failure modes and deferral rule
fitted on its own calibration fold and applied to its test fold, pooled over the folds.

The rows are chapter 06's cross-fitted trust scores (:func:`tmvlib.tables.cross_fit.
cross_fitted_trust_scores`: ``fold``, ``set`` ``"val"`` for the fold's calibration images,
``"test"`` for its test fold, ``"external"`` for the deployed model's external images). Each fold
fits what the single split fits on validation (the quadrant cuts, the card's failure modes and the
deferral rule, one image per patient) on its calibration fold only; its test fold is only
evaluated. Errors, decision uncertainty and the combined score are relative to each model's own
threshold, so the test folds pool; where a quantity ranks probabilities across models (an AUROC,
the failure audit's decision margin) it reads them threshold-aligned
(:func:`tmvlib.metrics.confidence.threshold_aligned`).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..metrics.confidence import threshold_aligned
from ..metrics.frames import require_columns
from .abstention import FittedDeferral, ScoreRecipe, deferral_outcomes
from .cross_fit import POOLED
from .failure_modes import candidate_failure_modes, failure_mode_frame, peak_regions
from .fitted import validation_cuts, validation_deferral_rules, validation_failure_modes
from .quadrants import quadrants_by_set

#: chapter 06's cross-fitted sets, in the order they are pooled
FOLD_SETS = ("val", "test", "external")

__all__ = ["FOLD_SETS", "cross_fitted_deferral", "fold_deferral_rules", "fold_failure_modes_val",
           "fold_quadrants", "pooled_failure_modes"]


def fold_quadrants(scores: pd.DataFrame, thresholds: pd.Series, uncertainty_score: str, instability_score: str,
                   uncertainty_quantile: float, instability_quantile: float,
                   max_flip_rate: float | None = None) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Each fold's trust quadrants under the cuts of its own calibration fold, pooled per set.

    Args:
        scores: chapter 06's cross-fitted trust scores (``fold, set``, both score columns, ``prob``).
        thresholds: fold -> decision threshold (chapter 02's, fitted on the calibration fold).
    Returns:
        (set -> pooled :func:`tmvlib.tables.quadrants.assign_quadrants` rows of every fold with
        ``fold``, ``threshold`` and ``aligned_prob``: ``"val"`` every calibration fold, ``"test"``
        every test fold, ``"external"`` the deployed model's; a table indexed by fold with
        ``uncertainty cut, instability cut, calibration images, test images, test errors, danger
        zone``: the spread over folds beside the pooled counts).
    Raises:
        ValueError: a fold without calibration rows, or an image in two folds' test sets.
    """
    require_columns(scores, ["fold", "set", "prob", uncertainty_score, instability_score],
                    "the cross-fitted quadrants (chapter 06 measures the fold models under its fold_sources)")
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in FOLD_SETS}
    cuts = {}
    for fold, rows in scores.groupby("fold", sort=True):
        u_thr, i_thr = validation_cuts(rows, uncertainty_score, instability_score, uncertainty_quantile,
                                       instability_quantile)
        cuts[fold] = {"uncertainty cut": u_thr, "instability cut": i_thr,
                      "calibration images": int((rows["set"] == "val").sum())}
        sets = [name for name in FOLD_SETS if (rows["set"] == name).any()]
        for name, q in quadrants_by_set(rows, uncertainty_score, instability_score, u_thr, i_thr, sets=sets,
                                        max_flip_rate=max_flip_rate).items():
            parts[name].append(q)
            if name == "test":
                cuts[fold].update({"test images": len(q), "test errors": int((~q["correct"]).sum()),
                                   "danger zone": int(q["danger"].sum())})
    pooled = {}
    for name, frames in parts.items():
        if not frames:
            continue
        rows = pd.concat(frames, ignore_index=True)
        threshold = rows["fold"].map(thresholds).to_numpy(dtype=float)
        pooled[name] = rows.assign(threshold=threshold,
                                   aligned_prob=threshold_aligned(rows["prob"].to_numpy(), threshold))
    twice = pooled["test"]["image_id"].duplicated()
    if twice.any():
        raise ValueError(f"the cross-fitted quadrants: {int(twice.sum())} image(s) in two test folds, "
                         f"e.g. {pooled['test']['image_id'][twice].tolist()[:5]}")
    return pooled, pd.DataFrame.from_dict(cuts, orient="index").rename_axis("fold")


def _aligned(rows: pd.DataFrame | None) -> pd.DataFrame | None:
    """``rows`` with ``prob`` replaced by ``aligned_prob`` (decided at 0.5, margins unchanged)."""
    return None if rows is None else rows.assign(prob=rows["aligned_prob"])


def pooled_failure_modes(quadrants: Mapping[str, pd.DataFrame], n_boot: int = 1000, seed: int = 0,
                         min_images: int = 10, prefer: Iterable[str] = ()) -> pd.DataFrame:
    """Chapter 07's failure-mode table on the pooled test folds (and the deployed model's external
    images): every image flagged with its own model's Grad-CAM peak, cuts and threshold
    (:func:`tmvlib.tables.failure_modes.candidate_failure_modes`; examples ranked by the decision
    margin of the aligned probability, which is the margin from its own model's threshold).

    Args:
        quadrants: :func:`fold_quadrants`' sets (``"test"``, optionally ``"external"``), with
            ``peak_region``.
    """
    test = _aligned(quadrants["test"])
    frame = failure_mode_frame(test, _aligned(quadrants.get("external")), peak_regions(test), 0.5)
    return candidate_failure_modes(frame, n_boot=n_boot, seed=seed, min_images=min_images, prefer=prefer)


def fold_failure_modes_val(calibration: pd.DataFrame, n_boot: int = 1000, seed: int = 0,
                           min_images: int = 10) -> pd.DataFrame:
    """The failure modes a fold's trust card may warn about
    (:func:`tmvlib.tables.fitted.validation_failure_modes`), tested within each fold's calibration
    rows (:func:`fold_quadrants`' ``"val"``), stacked with ``fold``."""
    require_columns(calibration, ["fold", "peak_region"], "the cross-fitted failure modes")
    tables = [validation_failure_modes(_aligned(rows), peak_regions(rows), 0.5, n_boot=n_boot, seed=seed,
                                       min_images=min_images).assign(fold=fold)
              for fold, rows in calibration.groupby("fold", sort=True)]
    return pd.concat(tables, ignore_index=True)


def fold_deferral_rules(scores: pd.DataFrame, recipes: Mapping[str, ScoreRecipe], max_error: float, delta: float,
                        grid: np.ndarray | None = None, fwer: str = "bonferroni_holm",
                        target_chosen: str = "declared") -> dict[int, dict[tuple[str, str], FittedDeferral]]:
    """fold -> the deferral rules (:func:`tmvlib.tables.fitted.validation_deferral_rules`: every
    score recipe, both kinds, one image per patient) calibrated on that fold's calibration rows
    only (``set == "val"``), the combined score's weights refitted there too."""
    require_columns(scores, ["fold", "set"], "the cross-fitted deferral rules")
    return {int(fold): validation_deferral_rules(rows, recipes, max_error, delta, grid, fwer, target_chosen)
            for fold, rows in scores.groupby("fold", sort=True)}


def cross_fitted_deferral(scores: pd.DataFrame, rules: Mapping[int, Mapping[tuple[str, str], FittedDeferral]],
                          n_boot: int = 1000, seed: int = 0, evaluate: str = "test",
                          keys: Sequence[tuple[str, str]] | None = None) -> pd.DataFrame:
    """What every fold's rules do on its own ``evaluate`` rows (its test fold), per fold and pooled
    (each image answered or deferred by its own fold's rule; patient-bootstrap intervals,
    :func:`tmvlib.tables.abstention.deferral_outcomes`).

    Args:
        scores: chapter 06's cross-fitted trust scores. rules: :func:`fold_deferral_rules`.
        keys: the ``(score, kind)`` rules reported (default: every rule of the first fold).
    Returns:
        rows ``model`` (``"pooled"``, ``"fold 0"``, ...), ``score, rule, quantity, value, low,
        high, n, events, certified`` (folds whose rule certifies a threshold, of all folds; for a
        fold row, 1 or 0), ``calibration`` (the cases it was calibrated on, one per patient; pooled:
        their sum), ``max_error, delta``.
    """
    require_columns(scores, ["fold", "set"], "the cross-fitted deferral outcomes")
    keys = list(keys or next(iter(rules.values())))
    rows = scores[scores["set"] == evaluate]
    tables = []
    for key in keys:
        fitted = {fold: by_key[key].rule for fold, by_key in rules.items()}
        parts = {fold: rows[rows["fold"] == fold].reset_index(drop=True) for fold in rules}
        answered = {fold: rules[fold][key].answers(part) for fold, part in parts.items()}
        target = next(iter(fitted.values()))
        rule_columns = dict(score=key[0], rule=key[1], max_error=target.max_error, delta=target.delta)
        for fold, part in parts.items():
            tables.append(deferral_outcomes(part, answered[fold], n_boot=n_boot, seed=seed).assign(
                model=f"fold {fold}", certified=int(fitted[fold].certified),
                calibration=fitted[fold].calibration_cases, **rule_columns))
        tables.append(deferral_outcomes(pd.concat(parts.values(), ignore_index=True),
                                        np.concatenate(list(answered.values())), n_boot=n_boot, seed=seed).assign(
            model=POOLED, certified=sum(int(r.certified) for r in fitted.values()),
            calibration=sum(r.calibration_cases for r in fitted.values()), **rule_columns))
    columns = ["model", "score", "rule", "quantity", "value", "low", "high", "n", "events", "certified",
               "calibration", "max_error", "delta"]
    return pd.concat(tables, ignore_index=True)[columns]
