"""Per-image diversity of an ensemble's members: how much they disagree, and what it buys.

Every function takes ``member_probs (M, N)``, the members' P(positive) for N images, and returns a
per-image ``(N,)`` array, so the chapter can average it with a patient-level bootstrap and compare
two ensembles on the same images with a paired one
(:func:`tmvlib.metrics.bootstrap.patient_bootstrap_mean`, :func:`tmvlib.metrics.paired.paired_bootstrap`).
Measures follow the ensemble-diversity literature: pairwise disagreement of the predicted labels
(Kuncheva & Whitaker 2003, the "disagreement measure"; Fort, Hu & Lakshminarayanan 2019 use it to
compare ensembles), the spread of member probabilities, and the ensemble's gain in log-likelihood
over its average member (the "diversity" term of the NLL decomposition of an averaged predictor;
Lakshminarayanan et al. 2017 report the ensemble's NLL falling as members are added).
"""
from __future__ import annotations

import numpy as np

from .calibration.nll import EPS
from .confidence import predicted_positive


def _members(member_probs: np.ndarray) -> np.ndarray:
    probs = np.asarray(member_probs, dtype=float)
    if probs.ndim != 2 or probs.shape[0] < 2:
        raise ValueError(f"member_probs must be (M, N) with M >= 2 members, got shape {probs.shape}")
    if np.isnan(probs).any() or probs.min() < 0 or probs.max() > 1:
        raise ValueError("member_probs must be probabilities in [0, 1] without NaN")
    return probs


def pairwise_disagreement(member_probs: np.ndarray, threshold: float) -> np.ndarray:
    """Share of member pairs whose predicted labels (``p >= threshold``, the report's decision
    rule) differ, per image: with k of M members predicting positive, ``k (M - k) / (M (M - 1) / 2)``.

    Args:
        member_probs: (M, N) probabilities. threshold: the decision threshold.
    Returns:
        (N,) in [0, M^2 / (2 M (M - 1))]; 0 when every member predicts the same label.
    """
    probs = _members(member_probs)
    m = probs.shape[0]
    k = predicted_positive(probs, threshold).sum(0)
    return k * (m - k) / (m * (m - 1) / 2)


def probability_spread(member_probs: np.ndarray) -> np.ndarray:
    """Standard deviation of the members' probabilities per image (population form, ddof=0, the
    square root of the "ensemble variance" score of chapter 03). (M, N) -> (N,)."""
    return _members(member_probs).std(0)


def ensemble_nll_gain(member_probs: np.ndarray, labels: np.ndarray, eps: float = EPS) -> np.ndarray:
    """Per image, the mean member's NLL minus the ensemble's: ``mean_m -log q_m(y) - (-log mean_m
    q_m(y))`` with ``q_m(y)`` member m's probability of the true label (clipped to [eps, 1 - eps]
    as in :func:`tmvlib.metrics.calibration.nll.nll`). Non-negative by Jensen's inequality, 0 when
    the members agree: the log-likelihood the averaging gains from their diversity, in nats.

    Args:
        member_probs: (M, N) probabilities. labels: (N,) in {0, 1}.
    Returns:
        (N,) float, >= 0.
    """
    probs = np.clip(_members(member_probs), eps, 1 - eps)
    labels = np.asarray(labels)
    if labels.shape != probs.shape[1:] or not np.isin(labels, (0, 1)).all():
        raise ValueError(f"labels must be (N,) = {probs.shape[1:]} in {{0, 1}}")
    q = np.where(labels[None] == 1, probs, 1 - probs)
    return np.maximum(-np.log(q).mean(0) + np.log(q.mean(0)), 0.0)
