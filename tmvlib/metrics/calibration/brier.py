"""Brier score of predicted probabilities."""
from __future__ import annotations

import numpy as np

from ._validate import check_binary


def brier(labels: np.ndarray, probs: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
    """Weighted mean squared error of the positive-class probability (Brier 1950).

    ``Brier = sum_i w_i (p_i - y_i)^2 / sum_i w_i``, in [0, 1]; the binary form, as
    ``sklearn.metrics.brier_score_loss`` (Brier's original sums over both classes, giving twice
    this value). A proper scoring rule: it mixes calibration and discrimination.

    Args:
        labels: (N,) in {0, 1}. probs: (N,) ``P(y=1)`` in [0, 1].
        sample_weight: (N,) non-negative weights (bootstrap multiplicities); None: all ones.

    Returns:
        The Brier score as a float (0 is perfect; 0.25 for a constant 0.5).

    Reference: G. W. Brier (1950), "Verification of forecasts expressed in terms of probability",
    Monthly Weather Review 78(1).
    """
    labels, probs, weight = check_binary(labels, probs, sample_weight)
    return float(np.average((probs - labels) ** 2, weights=weight))
