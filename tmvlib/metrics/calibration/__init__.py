"""Calibration metrics for a binary classifier: NLL, Brier, ECE, MCE, reliability table.

Every scalar metric has the signature ``metric(labels (N,), probs (N,), sample_weight=None)``
(binned ones add keyword options), so :func:`tmvlib.metrics.bootstrap.patient_bootstrap` gives it a
patient-level interval. Inputs are probabilities ``P(y=1)`` in [0, 1]; bad inputs raise
``ValueError``. The binned metrics share one binning (:mod:`.binning`) and two kinds:
``"positive"`` (bin ``P(y=1)``, compare with the frequency of ``y = 1``; what torchmetrics'
``BinaryCalibrationError`` computes) and ``"top_label"`` (bin ``max(p, 1-p)``, compare with
the accuracy of the label predicted at 0.5; Guo et al. 2017).
"""
from .binning import BINNINGS, KINDS, bin_edges
from .brier import brier
from .ece import ece
from .mce import mce
from .nll import nll
from .reliability import reliability_table
from .summary import calibration_summary

__all__ = ["BINNINGS", "KINDS", "bin_edges", "brier", "calibration_summary", "ece", "mce", "nll",
           "reliability_table"]
