"""Calibration metrics for a binary classifier: smooth ECE, NLL, Brier, ECE, MCE, reliability.

Every scalar metric has the signature ``metric(labels (N,), probs (N,), sample_weight=None)``
(binned ones add keyword options), so :func:`tmvlib.metrics.bootstrap.patient_bootstrap` gives it a
patient-level interval. Inputs are probabilities ``P(y=1)`` in [0, 1]; bad inputs raise
``ValueError``.

* :func:`smooth_ece` (Błasiok & Nakkiran 2024, the ``relplot`` estimator): the headline
  calibration error, no bins to choose; :func:`smooth_reliability` is its reliability curve.
* :mod:`.interval`: :func:`calibration_interval`, the plug-in estimate of a calibration error
  with an interval whose coverage is measured near 0 too, and the consistency-resampling test of
  perfect calibration (the headline intervals); the bias-corrected basic interval of a paired
  difference of two calibration errors (descriptive).
* :func:`noise_floor`: what a calibration error measures on perfectly calibrated probabilities.
* The binned metrics (secondary) share one binning (:mod:`.binning`) and two kinds:
  ``"positive"`` (bin ``P(y=1)``, compare with the frequency of ``y = 1``; what torchmetrics'
  ``BinaryCalibrationError`` computes) and ``"top_label"`` (bin ``max(p, 1-p)``, compare with
  the accuracy of the label predicted at 0.5; Guo et al. 2017).
"""
from .binning import BINNINGS, KINDS, bin_edges
from .brier import brier
from .ece import ece
from .interval import (BiasCorrected, CalibrationInterval, bias_corrected, bias_corrected_difference,
                       calibration_error_interval, calibration_interval, statistic_draws)
from .mce import mce
from .nll import nll
from .noise_floor import consistency_draws, noise_floor
from .reliability import reliability_table
from .smooth_ece import smooth_ece, smooth_reliability
from .summary import calibration_summary

__all__ = ["BINNINGS", "BiasCorrected", "CalibrationInterval", "KINDS", "bias_corrected",
           "bias_corrected_difference", "bin_edges", "brier", "calibration_error_interval", "calibration_interval", "calibration_summary",
           "consistency_draws", "ece", "mce", "nll", "noise_floor",
           "reliability_table", "smooth_ece", "smooth_reliability", "statistic_draws"]
