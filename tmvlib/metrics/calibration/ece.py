"""Expected calibration error (ECE)."""
from __future__ import annotations

import numpy as np

from .binning import binned


def ece(labels: np.ndarray, probs: np.ndarray, sample_weight: np.ndarray | None = None,
        n_bins: int = 15, binning: str = "equal_width", kind: str = "positive") -> float:
    """Expected calibration error with the l1 norm.

    ``ECE = sum_b (W_b / W) |o_b - c_b|`` over the non-empty bins ``b``, where ``W_b`` is the
    (weighted) number of samples in bin ``b``, ``W`` the total, ``c_b`` their mean confidence
    and ``o_b`` their mean target (see :mod:`.binning` for the bins). Empty bins contribute
    nothing, so the ECE is never NaN. In [0, 1]; 0 is perfect (for these bins).

    ``kind="positive"``: confidence ``p = P(y=1)``, target ``y``, so ``o_b`` is the observed
    frequency of the positive class (torchmetrics' ``BinaryCalibrationError``).
    ``kind="top_label"``: confidence ``max(p, 1-p)`` of the label predicted at 0.5, target
    "prediction correct", so ``o_b`` is the accuracy (Guo et al. 2017). The two differ in general;
    Nixon et al. 2019 discuss the distinction (top-label vs class-wise).

    Args:
        labels: (N,) in {0, 1}. probs: (N,) ``P(y=1)`` in [0, 1].
        sample_weight: (N,) non-negative weights (bootstrap multiplicities); None: all ones.
        n_bins: number of bins (15, as Guo et al. 2017). binning: ``"equal_width"`` (Naeini et
            al. 2015; Guo et al. 2017) or ``"equal_mass"`` (quantile bins, Nixon et al. 2019).
        kind: ``"positive"`` or ``"top_label"``.

    Returns:
        The ECE as a float.

    References: M. P. Naeini, G. Cooper, M. Hauskrecht (2015), "Obtaining Well Calibrated
    Probabilities Using Bayesian Binning", AAAI; C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger (2017),
    "On Calibration of Modern Neural Networks", ICML; J. Nixon et al. (2019), "Measuring
    Calibration in Deep Learning", CVPR workshops.
    """
    bins = binned(labels, probs, sample_weight, n_bins, binning, kind)
    filled = bins.filled
    share = bins.weight[filled] / bins.weight.sum()
    return float(np.sum(share * np.abs(bins.observed[filled] - bins.confidence[filled])))
