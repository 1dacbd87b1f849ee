"""Post-hoc calibration maps fitted on validation: none, temperature, Platt and isotonic.

Every calibrator maps a method's predictive probability ``p`` (for MC dropout and the ensemble,
the mean over samples) to a calibrated ``p'``, and maps the run's decision threshold ``t`` the
same way, so that an image is predicted positive after calibration when it was before, and the
decision-aligned confidence (:func:`tmvlib.metrics.confidence.decision_uncertainty`) keeps its
zero on the decision boundary.

* ``none``: ``p' = p``.
* ``temperature`` (Guo et al. 2017): ``p' = sigmoid(logit(p) / T)``, one scale and no intercept.
* ``Platt`` (Platt 1999): ``p' = sigmoid(a logit(p) + b)``, a logistic regression of the label
  on the logit, without penalty. Its intercept ``b`` can undo a shift of the logits: training
  with ``pos_weight = neg / pos`` adds ``log(neg / pos)`` to every logit at the optimum of the
  weighted loss (it trains for balanced classes), a shift that a temperature, which only
  rescales ``logit(p)`` about 0, cannot remove.
* ``isotonic`` (Zadrozny & Elkan 2002): the non-decreasing step function of ``p`` that best fits
  the labels (scikit-learn's ``IsotonicRegression(out_of_bounds="clip")``); the most flexible map,
  hence the one that most overfits a small validation set. Its steps tie images, so it can change
  the ranking (AUROC) and set probabilities to exactly 0 or 1.

Threshold mapping: ``threshold(t)`` applies the same map to the threshold's probability ``t`` on
the raw scale. For temperature this is :func:`tmvlib.metrics.confidence.calibrated_threshold`.
For an increasing map (Platt with ``a > 0``, temperature) ``p >= t`` exactly when
``p' >= threshold(t)``. Isotonic regression is only non-decreasing: images in the same step as
``t`` but below it are predicted positive after calibration (``p' = threshold(t)``), so a few
decisions can change; errors are then counted at the mapped threshold as they are. A Platt slope
``a <= 0`` (a model that ranks validation backwards) reverses the decision; it raises a warning.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit
from scipy.stats import chi2
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from ..metrics.confidence import calibrated_threshold
from .temperature import _nll, fit_temperature, probability_logit

CALIBRATIONS = ("none", "temperature", "Platt", "isotonic")


@dataclass(frozen=True)
class Calibrator:
    """A fitted calibration map of probabilities (module docstring).

    Attributes:
        name: one of :data:`CALIBRATIONS`.
        params: the fitted values (``T``; ``a, b``; the isotonic step count), for tables.
    """

    name: str
    params: dict = field(default_factory=dict)
    _model: object = field(default=None, repr=False, compare=False)

    def __call__(self, probs: np.ndarray) -> np.ndarray:
        """(N,) calibrated probabilities of (N,) probabilities ``probs``."""
        p = np.asarray(probs, dtype=np.float64)
        if self.name == "none":
            return p.copy()
        if self.name == "temperature":
            return expit(probability_logit(p) / self.params["T"])
        if self.name == "Platt":
            return expit(self.params["a"] * probability_logit(p) + self.params["b"])
        return np.asarray(self._model.predict(p), dtype=np.float64)

    def threshold(self, threshold: float) -> float:
        """The decision threshold on the calibrated scale: the map applied to ``threshold``
        (a probability on the raw scale); see the module docstring for when decisions change."""
        if self.name == "temperature":
            return calibrated_threshold(threshold, self.params["T"])
        return float(self(np.array([threshold]))[0])


def fit_calibrator(name: str, probs: np.ndarray, labels: np.ndarray) -> Calibrator:
    """Fit one calibration map on validation predictions.

    Args:
        name: one of :data:`CALIBRATIONS`.
        probs: (N,) predictive probabilities on validation; labels: (N,) in {0, 1}.

    Returns:
        :class:`Calibrator`. Temperature: :func:`tmvlib.uncertainty.temperature.fit_temperature`
        on ``logit(p)``. Platt: unpenalised logistic regression (``C=inf``) of the labels on
        ``logit(p)``. Isotonic: ``IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip")``.
    """
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    if len(np.unique(labels)) < 2:
        raise ValueError("fit_calibrator: the validation labels hold a single class")
    if name == "none":
        return Calibrator("none")
    logits = probability_logit(probs)
    if name == "temperature":
        return Calibrator("temperature", {"T": fit_temperature(logits, labels)})
    if name == "Platt":
        model = LogisticRegression(C=np.inf, max_iter=1000).fit(logits[:, None], labels)
        a, b = float(model.coef_[0, 0]), float(model.intercept_[0])
        if a <= 0:
            warnings.warn(f"Platt slope a = {a:.3g} <= 0: the validation probabilities rank the "
                          "labels backwards, so the calibrated decision is reversed", RuntimeWarning,
                          stacklevel=2)
        return Calibrator("Platt", {"a": a, "b": b})
    if name == "isotonic":
        model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(probs, labels)
        return Calibrator("isotonic", {"steps": int(len(np.unique(model.y_thresholds_)))}, model)
    raise ValueError(f"unknown calibration {name!r}; choose from {CALIBRATIONS}")


def fit_calibrators(probs: np.ndarray, labels: np.ndarray,
                    names: tuple[str, ...] = CALIBRATIONS) -> dict[str, Calibrator]:
    """Every calibration map of ``names`` fitted on the same validation predictions
    (``probs`` (N,), ``labels`` (N,)); returns name -> :class:`Calibrator`."""
    return {name: fit_calibrator(name, probs, labels) for name in names}


def temperature_test(probs: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    """Likelihood-ratio p-value of ``T = 1`` against the fitted ``temperature`` on validation.

    ``2 N [NLL(1) - NLL(T)]`` is asymptotically chi-squared with one degree of freedom under
    ``T = 1`` (Wilks 1938), so a small p-value says the raw probabilities were measurably over-
    (``T > 1``) or under-confident (``T < 1``) on validation; a large one that a single scale
    cannot tell them from calibrated.

    Args:
        probs: (N,) predictive probabilities on validation. labels: (N,) in {0, 1}.
        temperature: T fitted on the same data (:func:`fit_calibrator`).

    Returns:
        The p-value in [0, 1].
    """
    logits = probability_logit(probs)
    labels = np.asarray(labels, dtype=np.float64)
    statistic = 2 * len(labels) * max(0.0, _nll(logits, labels, 1.0) - _nll(logits, labels, temperature))
    return float(chi2.sf(statistic, df=1))
