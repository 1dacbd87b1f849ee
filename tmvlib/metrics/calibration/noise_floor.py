"""The value a calibration error takes on perfectly calibrated probabilities: its small-sample floor."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ._validate import check_probs


def noise_floor(metric: Callable[..., float], probs: np.ndarray, n_sim: int = 200,
                seed: int = 0) -> float:
    """Mean of ``metric(labels, probs)`` when the labels are drawn from the probabilities.

    Labels ``y_i ~ Bernoulli(p_i)`` make ``probs`` perfectly calibrated by construction, so any
    positive value the metric takes is estimation noise: the level below which a measured
    calibration error says nothing, at this N and this spread of probabilities (Bröcker & Smith
    2007, "consistency resampling"). Binned ECE with ``B`` equal-mass bins of ``N / B`` images has
    a floor of roughly ``sqrt(2 / pi) * mean_b sqrt(p_b (1 - p_b) B / N)``.

    Args:
        metric: ``metric(labels (N,), probs (N,)) -> float``, e.g. :func:`.ece.ece` or
            :func:`.smooth_ece.smooth_ece`.
        probs: (N,) ``P(y=1)`` in [0, 1].
        n_sim: simulated label vectors. seed: their seed.

    Returns:
        The mean metric over the ``n_sim`` simulations (a float in [0, 1]).

    Reference: J. Bröcker, L. A. Smith (2007), "Increasing the reliability of reliability
    diagrams", Weather and Forecasting 22(3).
    """
    return float(np.mean(consistency_draws(metric, probs, n_sim, seed)))


def consistency_draws(metric: Callable[..., float], probs: np.ndarray, n_sim: int = 200, seed: int = 0,
                      sample_weight: np.ndarray | None = None) -> np.ndarray:
    """``metric`` on ``n_sim`` label vectors drawn from the probabilities themselves,
    ``y*_i ~ Bernoulli(p_i)``: the distribution a calibration error has when the probabilities
    are perfectly calibrated (consistency resampling, Bröcker & Smith 2007).

    Args:
        metric: ``metric(labels, probs[, sample_weight]) -> float``. probs: (N,) in [0, 1].
        n_sim, seed: simulated label vectors and their seed.
        sample_weight: (N,) weights passed to the metric (e.g. bootstrap multiplicities or the
            weights that move a set to another prevalence); None: unweighted.
    Returns:
        (n_sim,) metric values: their mean is :func:`noise_floor`, and the share at or above an
        observed value is the p-value of "perfectly calibrated"
        (``tmvlib.metrics.calibration.interval.calibration_interval``).
    """
    probs = check_probs(probs)
    rng = np.random.default_rng(seed)
    labels = (rng.random((n_sim, len(probs))) < probs).astype(float)
    if sample_weight is None:
        return np.array([metric(row, probs) for row in labels])
    return np.array([metric(row, probs, sample_weight) for row in labels])
