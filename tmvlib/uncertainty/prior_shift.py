"""Calibration at another prevalence: the prior-shift correction and the weights to evaluate it.

The study's sets have an artificial prevalence (pneumonia against No Finding images, about 45%);
in practice far fewer radiographs show pneumonia. Probabilities calibrated at one prevalence are
not calibrated at another: under a pure prior shift (``P(x | y)`` unchanged, only ``P(y)``
changes) Bayes' rule gives the corrected posterior (Saerens, Latinne & Decaestecker 2002, eq. 2.4)

    p' = r1 p / (r1 p + r0 (1 - p)),   r1 = pi' / pi,   r0 = (1 - pi') / (1 - pi),

where ``pi`` is the prevalence the probabilities ``p`` are calibrated to and ``pi'`` the target
one. A prior shift changes the odds by the factor ``r1 / r0``, so on the logit scale the
correction is the constant shift ``logit(p') = logit(p) + logit(pi') - logit(pi)``.

Its calibration at ``pi'`` can only be measured on images with that prevalence. Short of new data,
the test images are reweighted to it: importance weights ``pi' / pi_test`` for positives and
``(1 - pi') / (1 - pi_test)`` for negatives, ``pi_test`` the test set's own prevalence
(:func:`prevalence_weights`; valid under the same pure-prior-shift assumption, and noisy: at
``pi' = 0.05`` each positive counts for a fraction of an image).
"""
from __future__ import annotations

import numpy as np
from scipy.special import expit

from .temperature import probability_logit


def _prevalence(value: float, name: str) -> float:
    value = float(value)
    if not 0 < value < 1:
        raise ValueError(f"{name} must be a prevalence strictly between 0 and 1, got {value!r}")
    return value


def prior_shift(probs: np.ndarray, prior: float, target: float) -> np.ndarray:
    """Probabilities calibrated at prevalence ``prior`` moved to prevalence ``target``.

    ``p' = r1 p / (r1 p + r0 (1 - p))`` with ``r1 = target / prior`` and ``r0 = (1 - target) /
    (1 - prior)`` (Saerens et al. 2002), computed as ``sigmoid(logit(p) + logit(target) -
    logit(prior))``, with ``p`` clipped to [1e-7, 1 - 1e-7] (so a probability of exactly 0 or 1
    stays within 1e-7 of it). Monotone: rankings and AUROC are unchanged.

    Args:
        probs: (N,) probabilities in [0, 1], calibrated at prevalence ``prior``.
        prior: the prevalence ``pi`` they are calibrated to (for a map fitted on validation, the
            validation prevalence). target: the prevalence ``pi'`` to move them to.

    Returns:
        (N,) corrected probabilities.

    Reference: M. Saerens, P. Latinne, C. Decaestecker (2002), "Adjusting the Outputs of a
    Classifier to New a Priori Probabilities: A Simple Procedure", Neural Computation 14(1).
    """
    prior, target = _prevalence(prior, "prior"), _prevalence(target, "target")
    shift = np.log(target / (1 - target)) - np.log(prior / (1 - prior))
    return expit(probability_logit(probs) + shift)


def prevalence_weights(labels: np.ndarray, target: float) -> np.ndarray:
    """(N,) importance weights that give ``labels`` the prevalence ``target``.

    Positives weigh ``target / pi`` and negatives ``(1 - target) / (1 - pi)``, ``pi`` the
    prevalence of ``labels``; the weights sum to N and the weighted prevalence is ``target``.

    Args:
        labels: (N,) in {0, 1}, holding both classes. target: prevalence in (0, 1).
    """
    labels = np.asarray(labels, dtype=np.float64)
    target = _prevalence(target, "target")
    prevalence = _prevalence(labels.mean(), "the prevalence of labels")
    return np.where(labels == 1, target / prevalence, (1 - target) / (1 - prevalence))
