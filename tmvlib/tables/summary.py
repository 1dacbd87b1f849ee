"""Headline metric tables: every metric with its patient-level bootstrap 95% interval."""
from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd

from ..metrics.bootstrap import interval_table, patient_bootstrap_mean
from ..metrics.confidence import extreme
from ..metrics.discrimination import auroc, average_precision, thresholded_metrics


def _thresholded(name: str, threshold: float, labels: np.ndarray, probs: np.ndarray,
                 sample_weight: np.ndarray | None = None) -> float:
    return thresholded_metrics(labels, probs, threshold, sample_weight)[name]


def metric_summary(predictions: pd.DataFrame, threshold: float, n_boot: int = 1000,
                   seed: int = 0) -> pd.DataFrame:
    """AUROC, AP, accuracy, F1, sensitivity, specificity with 95% patient-bootstrap intervals.

    Args:
        predictions: one row per image with ``label`` (0/1), ``prob`` and ``patient_id``.
        threshold: probability threshold for the thresholded metrics (chosen on validation).

    Returns:
        DataFrame indexed by metric with ``value, low, high``; ``attrs`` hold images, patients,
        prevalence and the number of degenerate bootstrap draws skipped.
    """
    labels = predictions["label"].to_numpy()
    probs = predictions["prob"].to_numpy()
    patients = predictions["patient_id"].to_numpy()
    metrics = {"AUROC": auroc, "average precision": average_precision}
    for name in ("accuracy", "f1", "sensitivity", "specificity"):
        metrics[name] = partial(_thresholded, name, threshold)
    table = interval_table(metrics, labels, probs, patients, n_boot=n_boot, seed=seed)
    table.attrs["prevalence"] = float(labels.mean())
    return table


def official_test_list_summary(predictions: pd.DataFrame, threshold: float, n_boot: int = 1000,
                               seed: int = 0) -> pd.DataFrame | None:
    """:func:`metric_summary` over the task's images on the NIH release's official test list
    (``test_list.txt``), the list published results such as CheXNet's are compared on.

    Under ``split_source: official`` that list is the test split plus the localisation set's
    images from it (a patient with a radiologist box moves to the localisation set, not off the
    list), so the test split alone would leave the boxed patients out.

    Args:
        predictions: scored rows of every set with ``set, official_list, label, prob,
            patient_id`` (``official_list`` from :func:`tmvlib.data.splits.assign_splits`).
    Returns:
        the summary (``attrs`` as :func:`metric_summary`), or None when the rows carry no
        ``official_list`` (a run split by the salted patient hash: no published list applies).
    """
    if "official_list" not in predictions:
        return None
    rows = predictions[predictions["set"].isin(("test", "localisation")) & predictions["official_list"].eq("test")]
    return metric_summary(rows, threshold, n_boot=n_boot, seed=seed)


def within_largest_source(predictions: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> dict:
    """AUROC within the source repository that holds the most of ``predictions``' images: a
    shortcut control (a model that told sources apart would lose its AUROC within one source).

    Args:
        predictions: one set's rows with ``source, label, prob, patient_id``.
    Returns:
        ``{"source", "images", "share", "positives", "value", "low", "high"}``; value and bounds
        are NaN when the source's images hold a single class.
    """
    counts = predictions["source"].value_counts()
    source = str(counts.index[0])
    rows = predictions[predictions["source"] == source]
    out = {"source": source, "images": len(rows), "share": len(rows) / len(predictions),
           "positives": int(rows["label"].sum()), "value": np.nan, "low": np.nan, "high": np.nan}
    if rows["label"].nunique() == 2:
        table = interval_table({"AUROC": auroc}, rows["label"].to_numpy(), rows["prob"].to_numpy(),
                               rows["patient_id"].to_numpy(), n_boot=n_boot, seed=seed)
        out.update(table.loc["AUROC", ["value", "low", "high"]].astype(float).to_dict())
    return out


def extreme_share(predictions: pd.DataFrame, n_boot: int = 1000, seed: int = 0):
    """The share of images whose probability a reader takes as a confident answer (below 10% or
    above 90%, ``metrics.confidence.extreme``), with its patient-bootstrap interval
    (``metrics.bootstrap.Interval``); ``predictions``: rows with ``prob`` and ``patient_id``."""
    return patient_bootstrap_mean(extreme(predictions["prob"]).astype(float), predictions["patient_id"],
                                  n_boot=n_boot, seed=seed)
