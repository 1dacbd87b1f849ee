"""Calibration table: each calibration metric with its patient-level bootstrap interval."""
from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd

from ..bootstrap import interval_table
from ._validate import check_binary, same_length
from .brier import brier
from .ece import ece
from .mce import mce
from .nll import nll


def calibration_summary(labels: np.ndarray, probs: np.ndarray, patients: np.ndarray,
                        n_boot: int = 1000, seed: int = 0, n_bins: int = 15) -> pd.DataFrame:
    """NLL, Brier, three ECE variants and the MCE, each with a 95% patient-bootstrap interval.

    Rows: ``NLL``, ``Brier``, ``ECE (positive, equal-width)``, ``ECE (positive, equal-mass)``,
    ``ECE (top-label, equal-width)``, ``MCE (positive, equal-width)`` (definitions in
    :mod:`tmvlib.metrics.calibration`). Intervals come from
    :func:`tmvlib.metrics.bootstrap.patient_bootstrap`, which resamples patients and evaluates each
    draw as sample weights; it skips draws holding a single class (the calibration metrics would
    be defined there, but the skip keeps every metric table on the same draws).

    Args:
        labels: (N,) in {0, 1}. probs: (N,) ``P(y=1)`` in [0, 1]. patients: (N,) patient ids.
        n_boot, seed: bootstrap resamples and seed. n_bins: bins of the binned metrics.

    Returns:
        DataFrame indexed by metric with columns ``value, low, high``; ``attrs`` hold
        images, patients, skipped_draws and n_boot.
    """
    labels, probs, _ = check_binary(labels, probs)
    patients = np.asarray(patients)
    same_length(labels=labels, probs=probs, patients=patients)
    metrics = {
        "NLL": nll,
        "Brier": brier,
        "ECE (positive, equal-width)": partial(ece, n_bins=n_bins, binning="equal_width"),
        "ECE (positive, equal-mass)": partial(ece, n_bins=n_bins, binning="equal_mass"),
        "ECE (top-label, equal-width)": partial(ece, n_bins=n_bins, kind="top_label"),
        "MCE (positive, equal-width)": partial(mce, n_bins=n_bins),
    }
    return interval_table(metrics, labels, probs, patients, n_boot=n_boot, seed=seed)
