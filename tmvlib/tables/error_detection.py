"""How well a per-image score flags the wrong predictions: the AUROC of the score for the error
indicator (misclassification detection, Hendrycks & Gimpel 2017, "A Baseline for Detecting
Misclassified and Out-of-Distribution Examples", ICLR), and the AURC of deferring the least
trustworthy images first (selective prediction, Geifman & El-Yaniv 2017; ``tmvlib.metrics.
selective``), each with patient-bootstrap intervals.

Inputs are per-image frames with ``correct`` (the prediction at the decision threshold is right),
``patient_id`` and score columns where higher means less trustworthy.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..metrics.bootstrap import patient_bootstrap
from ..metrics.discrimination import auroc
from ..metrics.frames import ScoreSpec, error_indicator, errors_and_patients, score_array
from ..metrics.selective import augrc, aurc, risk_coverage_curve


def error_detection_table(frame: pd.DataFrame, scores: Mapping[str, ScoreSpec],
                          n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """AUROC of each score for detecting wrong predictions, with patient-bootstrap intervals.

    Args:
        frame: per-image rows with ``correct`` and ``patient_id``.
        scores: name -> column name or (N,) array; higher = more likely wrong (negate a
            confidence). 0.5 is chance, 1 ranks every error above every correct prediction.

    Returns:
        DataFrame, one row per score: ``score, value, low, high, images, patients, errors,
        skipped`` (bootstrap draws without an error or without a correct prediction).
    Raises:
        ValueError: no error or no correct prediction, non-finite scores.
    """
    errors, patients = errors_and_patients(frame, "error detection")
    rows = []
    for name, spec in scores.items():
        interval = patient_bootstrap(auroc, errors, score_array(frame, spec, name), patients,
                                     n_boot=n_boot, seed=seed)
        rows.append({"score": name, "value": interval.value, "low": interval.low,
                     "high": interval.high, "images": len(frame),
                     "patients": int(pd.Series(patients).nunique()),
                     "errors": int(errors.sum()), "skipped": interval.skipped})
    return pd.DataFrame(rows)


def error_aurc(errors: np.ndarray, uncertainty: np.ndarray,
                sample_weight: np.ndarray | None = None) -> float:
    """AURC of deferring by ``uncertainty`` (N,) with the error indicator ``errors`` (N,) as the
    loss: ``selective.aurc`` with probabilities 0, so every prediction is "negative" and its
    error is exactly the label passed (the ``correct`` column decides)."""
    return aurc(errors, np.zeros(len(errors)), uncertainty, 0.5, sample_weight)


def error_augrc(errors: np.ndarray, uncertainty: np.ndarray,
                 sample_weight: np.ndarray | None = None) -> float:
    """AUGRC (Traub et al. 2024) of deferring by ``uncertainty`` (N,) with the error indicator
    ``errors`` (N,) as the loss: ``selective.augrc`` with probabilities 0, as :func:`error_aurc`."""
    return augrc(errors, np.zeros(len(errors)), uncertainty, 0.5, sample_weight)


def selective_comparison(frame: pd.DataFrame, scores: Mapping[str, ScoreSpec],
                         n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """AURC of each score used to defer the least trustworthy images, with patient-bootstrap
    intervals (lower is better).

    Errors are ``~correct``; AURC as ``tmvlib.metrics.selective.aurc`` (ties averaged). Two
    reference levels are the same for every score: ``aurc_random`` (a ranking unrelated to the
    errors keeps the overall error rate at every coverage, so its expected AURC is the error
    rate) and ``aurc_oracle`` (every error deferred first).

    Returns:
        DataFrame, one row per score: ``score, value, low, high, images, errors, aurc_random,
        aurc_oracle, skipped`` (draws without an error or without a correct prediction, where
        the bootstrap helper cannot tell them from degenerate draws).
    Raises:
        ValueError: no error or no correct prediction, non-finite scores.
    """
    errors, patients = errors_and_patients(frame, "selective_comparison")
    oracle = error_aurc(errors, errors.astype(float))
    rows = []
    for name, spec in scores.items():
        interval = patient_bootstrap(error_aurc, errors, score_array(frame, spec, name), patients,
                                     n_boot=n_boot, seed=seed)
        rows.append({"score": name, "value": interval.value, "low": interval.low,
                     "high": interval.high, "images": len(frame), "errors": int(errors.sum()),
                     "aurc_random": float(errors.mean()), "aurc_oracle": oracle,
                     "skipped": interval.skipped})
    return pd.DataFrame(rows)


def risk_coverage_rows(frame: pd.DataFrame, scores: Mapping[str, ScoreSpec]) -> pd.DataFrame:
    """Risk-coverage curves of each score for charts: long DataFrame ``score, coverage, risk,
    n_kept`` (N rows per score, ``tmvlib.metrics.selective.risk_coverage_curve`` on ``~correct``)."""
    errors = error_indicator(frame)
    curves = [risk_coverage_curve(errors, np.zeros(len(errors)), score_array(frame, spec, name))
              .assign(score=name) for name, spec in scores.items()]
    return pd.concat(curves, ignore_index=True)[["score", "coverage", "risk", "n_kept"]]
