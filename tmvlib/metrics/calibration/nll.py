"""Negative log-likelihood (binary cross-entropy) of predicted probabilities."""
from __future__ import annotations

import numpy as np

from ._validate import check_binary

EPS = 1e-7


def nll(labels: np.ndarray, probs: np.ndarray, sample_weight: np.ndarray | None = None,
        eps: float = EPS) -> float:
    """Weighted mean binary cross-entropy, in nats.

    ``NLL = -sum_i w_i [y_i log q_i + (1 - y_i) log(1 - q_i)] / sum_i w_i`` with
    ``q_i = clip(p_i, eps, 1 - eps)``. The clipping (eps = 1e-7) keeps a confidently wrong
    prediction of exactly 0 or 1 finite (it costs ``-log(1e-7) ~ 16.1``) instead of infinite.
    Equals ``sklearn.metrics.log_loss`` for probabilities inside ``[eps, 1 - eps]``; sklearn clips
    at the float64 machine epsilon instead, so the two differ only for more extreme probabilities.
    A proper scoring rule (Good 1952; used for calibration by Guo et al. 2017).

    Args:
        labels: (N,) in {0, 1}. probs: (N,) ``P(y=1)`` in [0, 1].
        sample_weight: (N,) non-negative weights (bootstrap multiplicities); None: all ones.

    Returns:
        The NLL as a float (0 is perfect).
    """
    labels, probs, weight = check_binary(labels, probs, sample_weight)
    clipped = np.clip(probs, eps, 1 - eps)
    loss = -(labels * np.log(clipped) + (1 - labels) * np.log1p(-clipped))
    return float(np.average(loss, weights=weight))
