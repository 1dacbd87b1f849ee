"""Tables that compare uncertainty methods: calibration, selective prediction, shift detection.

Input everywhere: a long table with one row per image and method, columns ``method``, ``set``
(``test`` | ``external``), ``label``, ``prob``, ``patient_id`` and the uncertainty scores of
:func:`tmvlib.uncertainty.scores.uncertainty_scores`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..metrics.bootstrap import patient_bootstrap
from ..metrics.calibration import calibration_summary, reliability_table
from ..metrics.discrimination import auroc
from ..metrics.selective import aurc, risk_coverage_curve, selective_metrics

# Scores where a higher value means more uncertain; confidence is negated to match. For one
# binary output the predictive entropy is a monotone function of the confidence, so it ranks
# images identically and is left out of the ranking tables (it stays in the per-image table).
UNCERTAINTY_SCORES = {"1 - confidence": "confidence", "mutual information": "mutual_information",
                      "variance": "variance"}


def score_values(frame: pd.DataFrame, score: str) -> np.ndarray:
    """Uncertainty values (higher = less certain) for a name of :data:`UNCERTAINTY_SCORES`."""
    column = UNCERTAINTY_SCORES[score]
    return -frame[column].to_numpy() if column == "confidence" else frame[column].to_numpy()


def method_table(frame: pd.DataFrame, n_boot: int = 1000, seed: int = 0, n_bins: int = 15) -> pd.DataFrame:
    """Per method and set: AUROC and the calibration metrics, each ``value, low, high``.

    Returns a long DataFrame: ``method, set, metric, value, low, high``.
    """
    rows = []
    for (method, name), group in frame.groupby(["method", "set"], sort=False):
        labels, probs = group["label"].to_numpy(), group["prob"].to_numpy()
        patients = group["patient_id"].to_numpy()
        interval = patient_bootstrap(auroc, labels, probs, patients, n_boot=n_boot, seed=seed)
        rows.append({"method": method, "set": name, "metric": "AUROC", "value": interval.value,
                     "low": interval.low, "high": interval.high})
        calibration = calibration_summary(labels, probs, patients, n_boot=n_boot, seed=seed, n_bins=n_bins)
        for metric, row in calibration.iterrows():
            rows.append({"method": method, "set": name, "metric": metric, **row.to_dict()})
    return pd.DataFrame(rows)


def selective_table(frame: pd.DataFrame, coverages=(0.8, 0.9), threshold: float = 0.5) -> pd.DataFrame:
    """Per method, set and uncertainty score: AURC, and AUROC / error rate at each coverage."""
    rows = []
    for (method, name), group in frame.groupby(["method", "set"], sort=False):
        labels, probs = group["label"].to_numpy(), group["prob"].to_numpy()
        for score in UNCERTAINTY_SCORES:
            values = score_values(group, score)
            if np.allclose(values, values[0]):
                continue  # a deterministic model has no mutual information or variance to rank by
            row = {"method": method, "set": name, "score": score,
                   "AURC": aurc(labels, probs, values, threshold)}
            for coverage in coverages:
                kept = selective_metrics(labels, probs, values, coverage, threshold)
                row[f"AUROC @{coverage:.0%}"] = kept["auroc"]
                row[f"error @{coverage:.0%}"] = kept["error_rate"]
            row["error @100%"] = float(((probs >= threshold) != labels).mean())
            rows.append(row)
    return pd.DataFrame(rows)


def shift_detection(frame: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """How well each score separates external images from NIH test images (AUROC, 0.5 = not at all).

    Per method and score: AUROC of the uncertainty for ``set == "external"`` vs ``"test"``, with
    a patient-bootstrap interval, and the median score in each set.
    """
    rows = []
    for method, group in frame.groupby("method", sort=False):
        is_external = (group["set"] == "external").to_numpy().astype(int)
        for score in UNCERTAINTY_SCORES:
            values = score_values(group, score)
            if np.allclose(values, values[0]):
                continue
            interval = patient_bootstrap(auroc, is_external, values, group["patient_id"].to_numpy(),
                                         n_boot=n_boot, seed=seed)
            rows.append({"method": method, "score": score, "AUROC external vs test": interval.value,
                         "low": interval.low, "high": interval.high,
                         "median (test)": float(np.median(values[is_external == 0])),
                         "median (external)": float(np.median(values[is_external == 1]))})
    return pd.DataFrame(rows)


def reliability_rows(frame: pd.DataFrame, set_name: str, methods, n_bins: int = 15) -> pd.DataFrame:
    """Reliability tables (:func:`tmvlib.metrics.calibration.reliability_table`) of each method
    in ``methods`` on the images of ``set_name``, stacked with a ``method`` column."""
    rows = []
    for method in methods:
        group = frame[(frame["set"] == set_name) & (frame["method"] == method)]
        rows.append(reliability_table(group["label"].to_numpy(), group["prob"].to_numpy(),
                                      n_bins=n_bins).assign(method=method))
    return pd.concat(rows)


def selective_curves(frame: pd.DataFrame, methods, scores=("1 - confidence", "mutual information"),
                     max_points: int = 200) -> pd.DataFrame:
    """Risk-coverage curves (:func:`tmvlib.metrics.selective.risk_coverage_curve`) per method,
    set and uncertainty score, thinned to about ``max_points`` points each (the same line drawn).

    A score that is constant within a group (the baseline has no mutual information) has no
    ranking and is left out. Returns the curves stacked with ``method, set, score`` columns.
    """
    curves = []
    for (method, name), group in frame[frame["method"].isin(methods)].groupby(["method", "set"]):
        for score in scores:
            values = score_values(group, score)
            if np.allclose(values, values[0]):
                continue
            curve = risk_coverage_curve(group["label"].to_numpy(), group["prob"].to_numpy(), values)
            step = max(1, len(curve) // max_points)
            curves.append(curve.iloc[::step].assign(method=method, set=name, score=score))
    return pd.concat(curves)
