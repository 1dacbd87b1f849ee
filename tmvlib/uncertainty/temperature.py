"""Temperature scaling (Guo et al. 2017): one scalar T fitted on validation data by NLL.

Applied to the final predictive logit ``z`` as ``z / T`` (for MC dropout and ensembles: the
logit of the averaged probability), a monotone map: the ranking (AUROC) and the sign of the
logit (accuracy at 0.5) are unchanged, only the confidence is rescaled.
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit, log_expit

from ..metrics.confidence import probability_logit  # noqa: F401  (re-exported: one definition)


def _nll(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    z = logits / temperature
    return float(-np.mean(labels * log_expit(z) + (1 - labels) * log_expit(-z)))


def fit_temperature(logits: np.ndarray, labels: np.ndarray, bounds: tuple[float, float] = (0.05, 20.0)) -> float:
    """T minimising the validation NLL of ``sigmoid(logits / T)``.

    Args:
        logits: (N,) predictive logits on the validation split; labels: (N,) in {0, 1}.

    Returns:
        the temperature (T > 1 softens over-confident predictions).

    Warns:
        RuntimeWarning when T ends at a bound: the logits carry (almost) no information about
        the labels, or the bound is too tight; the probabilities are then near-constant.
    """
    logits, labels = np.asarray(logits, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    if not np.isfinite(logits).all():
        raise ValueError(f"fit_temperature: {int((~np.isfinite(logits)).sum())} non-finite logits")
    if len(np.unique(labels)) < 2:
        raise ValueError("fit_temperature: the validation labels hold a single class")
    result = minimize_scalar(lambda log_t: _nll(logits, labels, float(np.exp(log_t))),
                             bounds=tuple(np.log(bounds)), method="bounded")
    temperature = float(np.exp(result.x))
    if not bounds[0] * 1.01 < temperature < bounds[1] / 1.01:
        warnings.warn(f"fit_temperature: T = {temperature:.3g} is at the search bound {bounds}; the "
                      "validation logits barely predict the labels, so calibrated probabilities will be "
                      "close to constant", RuntimeWarning, stacklevel=2)
    return temperature


def temperature_probs(logits: np.ndarray, temperature: float) -> np.ndarray:
    """Calibrated probabilities ``sigmoid(logits / T)``."""
    return expit(np.asarray(logits, dtype=np.float64) / temperature)
