"""Discrimination metrics for a binary classifier, on numpy arrays.

Thin wrappers over scikit-learn so that every chapter computes them the same way; the threshold
for the thresholded metrics is chosen on validation data only (:func:`choose_threshold`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import (average_precision_score, confusion_matrix, precision_recall_curve,
                             roc_auc_score, roc_curve)

from .confidence import predicted_positive

# Each rule of choose_threshold, in words (the book says which one chose the run's threshold).
THRESHOLD_RULE_TEXT = {"youden": "maximise Youden's J (sensitivity + specificity - 1)",
                       "sensitivity90": "highest threshold with sensitivity >= 0.90",
                       "half": "0.5"}
THRESHOLD_RULES = tuple(THRESHOLD_RULE_TEXT)


def auroc(labels: np.ndarray, scores: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
    """Area under the ROC curve. ``labels``: (N,) in {0,1}; ``scores``: (N,) probabilities or
    logits; ``sample_weight``: (N,) multiplicities (the bootstrap's resampling counts).

    Computed as the weighted Mann-Whitney statistic (the probability that a positive outscores a
    negative, ties counting one half), which is exactly sklearn's ``roc_auc_score`` (trapezoidal
    ROC area; tested) in one sort: ~30x faster, which matters inside 1000-draw bootstraps.
    Raises ValueError when only one class is present, as sklearn does."""
    labels = np.asarray(labels)
    scores = np.asarray(scores, dtype=np.float64)
    weight = np.ones(len(labels)) if sample_weight is None else np.asarray(sample_weight, float)
    positive = labels == 1
    if not np.isin(labels, (0, 1)).all():
        return float(roc_auc_score(labels, scores, sample_weight=sample_weight))  # sklearn's errors
    w_pos, w_neg = weight * positive, weight * ~positive
    total_pos, total_neg = w_pos.sum(), w_neg.sum()
    if total_pos == 0 or total_neg == 0:
        raise ValueError("Only one class present in y_true. ROC AUC score is not defined in that case.")
    _, group = np.unique(scores, return_inverse=True)
    pos_in = np.bincount(group, w_pos)
    neg_in = np.bincount(group, w_neg)
    below = np.cumsum(neg_in) - neg_in  # negative weight strictly below each score value
    return float((pos_in * (below + 0.5 * neg_in)).sum() / (total_pos * total_neg))


def average_precision(labels: np.ndarray, scores: np.ndarray,
                      sample_weight: np.ndarray | None = None) -> float:
    """Average precision (area under the precision-recall curve, step interpolation)."""
    return float(average_precision_score(labels, scores, sample_weight=sample_weight))


def choose_threshold(labels: np.ndarray, probs: np.ndarray, rule: str = "youden") -> float:
    """Pick a probability threshold on validation data.

    Rules: ``youden`` maximises sensitivity + specificity - 1 (Youden 1950); ``sensitivity90``
    takes the highest threshold whose sensitivity is at least 0.90 (a screening operating point);
    ``half`` is 0.5.
    """
    if rule == "half":
        return 0.5
    fpr, tpr, thresholds = roc_curve(labels, probs)
    finite = np.isfinite(thresholds)
    fpr, tpr, thresholds = fpr[finite], tpr[finite], thresholds[finite]
    if rule == "youden":
        return float(thresholds[np.argmax(tpr - fpr)])
    if rule == "sensitivity90":
        return float(thresholds[np.argmax(tpr >= 0.90)])
    raise ValueError(f"threshold rule must be one of {THRESHOLD_RULES}, got {rule!r}")


def threshold_rule_text(rule: str) -> str:
    """The rule of :func:`choose_threshold` in words, e.g. ``"maximise Youden's J (sensitivity +
    specificity - 1)"``; ValueError naming the rules for an unknown one."""
    if rule not in THRESHOLD_RULE_TEXT:
        raise ValueError(f"threshold rule must be one of {THRESHOLD_RULES}, got {rule!r}")
    return THRESHOLD_RULE_TEXT[rule]


def confusion(labels: np.ndarray, probs: np.ndarray, threshold: float) -> pd.DataFrame:
    """2x2 confusion table (rows: true class, columns: predicted class), counts of images."""
    matrix = confusion_matrix(labels, predicted_positive(probs, threshold).astype(int), labels=[0, 1])
    return pd.DataFrame(matrix, index=["true 0", "true 1"], columns=["pred 0", "pred 1"])


def thresholded_metrics(labels: np.ndarray, probs: np.ndarray, threshold: float,
                        sample_weight: np.ndarray | None = None) -> dict[str, float]:
    """Accuracy, F1, sensitivity, specificity, PPV and NPV at ``threshold`` (NaN when undefined)."""
    predicted = predicted_positive(probs, threshold).astype(int)
    (tn, fp), (fn, tp) = confusion_matrix(labels, predicted, labels=[0, 1],
                                          sample_weight=sample_weight)

    def ratio(num: float, den: float) -> float:
        return float(num / den) if den else float("nan")

    return {
        "accuracy": ratio(tp + tn, tp + tn + fp + fn),
        "f1": ratio(2 * tp, 2 * tp + fp + fn),
        "sensitivity": ratio(tp, tp + fn),
        "specificity": ratio(tn, tn + fp),
        "ppv": ratio(tp, tp + fp),
        "npv": ratio(tn, tn + fn),
    }


def roc_frame(labels: np.ndarray, probs: np.ndarray) -> pd.DataFrame:
    """ROC curve points: ``fpr, tpr, threshold``."""
    fpr, tpr, thresholds = roc_curve(labels, probs)
    return pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": np.clip(thresholds, 0, 1)})


def pr_frame(labels: np.ndarray, probs: np.ndarray) -> pd.DataFrame:
    """Precision-recall curve points: ``recall, precision``."""
    precision, recall, _ = precision_recall_curve(labels, probs)
    return pd.DataFrame({"recall": recall, "precision": precision})


def group_mean_difference(groups: np.ndarray, values: np.ndarray,
                          sample_weight: np.ndarray | None = None) -> float:
    """Weighted mean of ``values`` (N,) where ``groups == 1`` minus where ``groups == 0``: e.g.
    the error rate with a property minus without it. Shaped like a metric
    ``(labels, scores, sample_weight)`` so ``patient_bootstrap`` can resample it, with the
    group indicator in the labels' place (draws without both groups are skipped there)."""
    weight = np.ones(len(values)) if sample_weight is None else np.asarray(sample_weight, float)
    inside = np.asarray(groups) == 1
    values = np.asarray(values, dtype=np.float64)
    return float(np.average(values[inside], weights=weight[inside])
                 - np.average(values[~inside], weights=weight[~inside]))
