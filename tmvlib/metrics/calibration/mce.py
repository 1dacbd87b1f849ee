"""Maximum calibration error (MCE)."""
from __future__ import annotations

import numpy as np

from .binning import binned


def mce(labels: np.ndarray, probs: np.ndarray, sample_weight: np.ndarray | None = None,
        n_bins: int = 15, binning: str = "equal_width", kind: str = "positive") -> float:
    """Maximum calibration error: the largest per-bin gap, the max-norm version of the ECE.

    ``MCE = max_b |o_b - c_b|`` over the non-empty bins ``b`` (``c_b`` mean confidence, ``o_b``
    mean target; see :func:`.ece.ece` for ``kind`` and :mod:`.binning` for the bins). Empty bins
    are skipped, so the MCE is never NaN; weights only enter through the per-bin means and which
    bins are non-empty. A bin with one sample counts as much as a full one, so the MCE is noisy
    with many bins or few samples. Matches torchmetrics' ``BinaryCalibrationError(norm="max")``
    for ``kind="positive"``, equal-width bins.

    Args:
        labels: (N,) in {0, 1}. probs: (N,) ``P(y=1)`` in [0, 1].
        sample_weight: (N,) non-negative weights (bootstrap multiplicities); None: all ones.
        n_bins, binning, kind: as :func:`.ece.ece`.

    Returns:
        The MCE as a float in [0, 1].

    References: Naeini et al. (2015), AAAI; Guo et al. (2017), "On Calibration of Modern Neural
    Networks", ICML.
    """
    bins = binned(labels, probs, sample_weight, n_bins, binning, kind)
    filled = bins.filled
    return float(np.max(np.abs(bins.observed[filled] - bins.confidence[filled])))
