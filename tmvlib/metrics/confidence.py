"""One decision-aligned confidence, and one definition of an error, for every chapter and the card.

An image is **wrong** when its predicted label at the run's decision threshold ``t`` (chapter 02,
fitted on validation) differs from its label: ``(p >= t) != y``. Its **confidence** is how far
the prediction is from that decision, on the logit scale: the *decision margin*
``|logit(p) - logit(t)|`` (0 on the threshold). ``1 - max(p, 1 - p)`` measures the distance to
0.5 instead; with ``t != 0.5`` it calls an image "certain" that sits on the decision boundary,
so it is kept only as a labelled secondary score.

For ranking (AUROC of error detection, AURC, quantile cuts) the project uses the **decision
uncertainty** ``exp(-|logit(p) - logit(t)|)``: the odds of ``p`` relative to the threshold's odds,
folded below 1 (1 on the threshold, towards 0 far from it). It is a decreasing function of the
margin, so it ranks images exactly as the margin does, and it is bounded like a probability.

When ``p`` is calibrated (e.g. by a temperature ``T``), the threshold is mapped through the same
calibration (``t_T = sigmoid(logit(t) / T)``) so that the decision, and the margin's zero, do not
move: :func:`calibrated_threshold`.
"""
from __future__ import annotations

import numpy as np
from scipy.special import expit


def probability_logit(probs, eps: float = 1e-7) -> np.ndarray:
    """``log(p / (1 - p))`` with p clipped to [eps, 1 - eps]: the logit of a probability (for an
    averaged prediction, the predictive logit)."""
    p = np.clip(np.asarray(probs, dtype=np.float64), eps, 1 - eps)
    return np.log(p) - np.log1p(-p)


def predicted_positive(probs, threshold: float) -> np.ndarray:
    """(N,) bool: the decision at ``threshold``, positive when ``probs >= threshold`` (a
    probability on the threshold is positive). The one decision rule of the report."""
    return np.asarray(probs) >= threshold


def errors_at(labels, probs, threshold: float) -> np.ndarray:
    """(N,) bool: the decision :func:`predicted_positive` differs from ``labels`` (in {0, 1})."""
    return predicted_positive(probs, threshold).astype(int) != np.asarray(labels).astype(int)


def decision_margin(probs, threshold: float) -> np.ndarray:
    """(N,) ``|logit(p) - logit(t)|``: distance from the decision boundary in logit units
    (probabilities clipped to [1e-7, 1 - 1e-7])."""
    return np.abs(probability_logit(probs) - probability_logit(threshold))


def decision_uncertainty(probs, threshold: float) -> np.ndarray:
    """(N,) ``exp(-|logit(p) - logit(t)|)`` in (0, 1]: 1 on the threshold, higher = less
    certain; ranks images exactly as :func:`decision_margin` (reversed)."""
    return np.exp(-decision_margin(probs, threshold))


def threshold_aligned(probs, thresholds) -> np.ndarray:
    """(N,) ``sigmoid(logit(p) - logit(t))``: each probability moved so that its own model's
    threshold (``thresholds``, a scalar or (N,)) sits at 0.5. Predictions of several models, each
    with its own threshold (the fold models of cross-fitted evaluation), then share one decision,
    ``>= 0.5`` exactly when ``p >= t`` (:func:`predicted_positive`), and one ranking around it;
    the decision margin is unchanged (``decision_margin(aligned, 0.5) == decision_margin(p, t)``)."""
    return expit(probability_logit(probs) - probability_logit(thresholds))


def calibrated_threshold(threshold: float, temperature: float) -> float:
    """The decision threshold on the scale of temperature-scaled probabilities:
    ``sigmoid(logit(t) / T)``, so that ``sigmoid(z / T) >= t_T`` exactly when ``sigmoid(z) >= t``."""
    return float(expit(probability_logit(threshold) / temperature))


def distance_to_half(probs) -> np.ndarray:
    """(N,) ``1 - max(p, 1 - p)`` in [0, 0.5]: the secondary, threshold-free score (distance of
    the predicted class's probability from certainty, measured from p = 0.5)."""
    p = np.asarray(probs, dtype=np.float64)
    return 1 - np.maximum(p, 1 - p)


def extreme(probs, margin: float = 0.1) -> np.ndarray:
    """(N,) bool: ``p <= margin`` or ``p >= 1 - margin``: a probability a reader takes as a
    confident answer (below 10% or above 90% by default), whatever the decision threshold."""
    p = np.asarray(probs, dtype=np.float64)
    return (p <= margin) | (p >= 1 - margin)
