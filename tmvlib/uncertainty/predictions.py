"""Assemble per-image predictions and uncertainty scores for several methods, calibrations and sets."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..metrics.confidence import decision_uncertainty, errors_at
from .calibrators import CALIBRATIONS, Calibrator, fit_calibrators
from .scores import binary_entropy, uncertainty_scores
from .temperature import probability_logit

KEEP_COLUMNS = ("image_id", "patient_id", "label", "view", "sex", "age", "quality", "source",
                "box_findings")


def predictive_probs(sample_logits: np.ndarray) -> np.ndarray:
    """(N,) predictive probability ``mean_s sigmoid(z_s)`` of sampled logits ``(S, N)``."""
    return uncertainty_scores(sample_logits)["prob"].to_numpy()


def fit_method_calibrators(val_logits: dict[str, np.ndarray], val_labels: np.ndarray,
                           names: tuple[str, ...] = CALIBRATIONS) -> dict[str, dict[str, Calibrator]]:
    """Every calibration map of ``names`` for every method, fitted on validation only.

    Args:
        val_logits: method -> sampled validation logits ``(S, N_val)``; the map is fitted on the
            predictive probability (the mean over samples).
        val_labels: (N_val,) in {0, 1}.

    Returns:
        method -> calibration name -> :class:`tmvlib.uncertainty.calibrators.Calibrator`.
    """
    return {method: fit_calibrators(predictive_probs(logits), val_labels, names)
            for method, logits in val_logits.items()}


def method_label(method: str, calibration: str) -> str:
    """The ``method`` column's label: ``"ensemble"`` uncalibrated, ``"ensemble + Platt"`` else."""
    return method if calibration == "none" else f"{method} + {calibration}"


def calibrated_scores(sample_logits: np.ndarray, calibrator: Calibrator,
                      threshold: float) -> pd.DataFrame:
    """Per-image scores of sampled logits ``(S, N)`` after ``calibrator``, with the decision.

    ``prob``, ``logit``, ``confidence`` and ``entropy`` are those of the calibrated probability;
    ``expected_entropy``, ``mutual_information`` and ``variance`` describe the samples before
    calibration (:func:`tmvlib.uncertainty.scores.uncertainty_scores`). Added: ``threshold``,
    the run's decision threshold mapped through the calibrator
    (:meth:`~tmvlib.uncertainty.calibrators.Calibrator.threshold`); ``decision_uncertainty``,
    ``exp(-|logit(prob) - logit(threshold)|)`` (the project's confidence score, higher = less
    certain). Whether an image is wrong (``prob >= threshold`` against its label) is added by
    :func:`method_predictions`, which has the labels.

    Returns:
        DataFrame with N rows.
    """
    scores = uncertainty_scores(sample_logits)
    prob = calibrator(scores["prob"].to_numpy())
    mapped = calibrator.threshold(threshold)
    return scores.assign(prob=prob, logit=probability_logit(prob),
                         confidence=np.maximum(prob, 1 - prob), entropy=binary_entropy(prob),
                         threshold=mapped, decision_uncertainty=decision_uncertainty(prob, mapped))


def method_predictions(sets: dict[str, pd.DataFrame], logits: dict[str, dict[str, np.ndarray]],
                       calibrators: dict[str, dict[str, Calibrator]],
                       threshold: float) -> pd.DataFrame:
    """Long table: one row per image, set, method and calibration.

    Args:
        sets: set name -> image table (``image_id``, ``patient_id``, ``label``, ...).
        logits: method -> set name -> sampled logits ``(S, N)`` in the row order of ``sets``.
        calibrators: method -> calibration name -> fitted map (:func:`fit_method_calibrators`).
        threshold: the run's decision threshold on the raw probability scale (chapter 02's,
            fitted on validation); each calibrated row uses it mapped through its calibrator.

    Returns:
        DataFrame with the image columns of :data:`KEEP_COLUMNS` present in ``sets``, the scores
        of :func:`calibrated_scores`, and ``method`` (:func:`method_label`), ``base_method``,
        ``calibration``, ``set``, ``temperature`` (T for temperature rows, 1 uncalibrated, NaN
        for Platt and isotonic), ``samples`` (S) and ``error`` (bool: wrong at ``threshold``).
    """
    parts = []
    for method, by_set in logits.items():
        for name, sample_logits in by_set.items():
            base = sets[name].reset_index(drop=True)[[c for c in KEEP_COLUMNS if c in sets[name]]]
            for calibration, calibrator in calibrators[method].items():
                scores = calibrated_scores(sample_logits, calibrator, threshold)
                temperature = {"none": 1.0, "temperature": calibrator.params.get("T")}.get(calibration)
                parts.append(pd.concat([base, scores], axis=1).assign(
                    method=method_label(method, calibration), base_method=method,
                    calibration=calibration, set=name, temperature=temperature,
                    samples=len(np.atleast_2d(sample_logits)),
                    error=errors_at(base["label"].to_numpy(), scores["prob"].to_numpy(),
                                    scores["threshold"].iloc[0])))
    table = pd.concat(parts, ignore_index=True)
    table["temperature"] = table["temperature"].astype(float)
    return table


__all__ = ["fit_method_calibrators", "method_label", "method_predictions",
           "predictive_probs", "probability_logit"]
