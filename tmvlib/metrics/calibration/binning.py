"""Bin assignment for the binned calibration metrics: the one place binning is defined.

ECE, MCE and the reliability table all go through :func:`binned`, so they always agree.

Convention (Guo et al. 2017, "On Calibration of Modern Neural Networks", ICML): with edges
``e_0 < e_1 < ... < e_B``, bin ``b`` holds the confidences ``c`` with ``e_{b-1} < c <= e_b``
(right-closed), and the first bin also holds its left edge. Hence a confidence of exactly 1.0
falls in the last bin and exactly 0.0 in the first; nothing is ever out of range. (torchmetrics'
``torch.bucketize(..., right=True)`` uses left-closed bins and gives 1.0 a bin of its own, so the
two agree for every confidence except ones lying exactly on an edge.)

Two binnings:

* ``"equal_width"``: ``e_b = b / B`` (Naeini et al. 2015; Guo et al. 2017).
* ``"equal_mass"``: the interior edges are weighted quantiles of the confidences, so that each
  bin holds about ``1/B`` of the (weighted) samples (Nixon et al. 2019, "Measuring Calibration
  in Deep Learning", CVPR workshops, their "adaptive" binning). The quantile is the inverse of the
  weighted empirical CDF: ``e_b = min{c_i : W(c <= c_i) >= (b / B) W_total}``; the outer edges are
  0 and 1. The edges are computed with the sample weights, so integer weights give the same
  edges as repeating rows (a bootstrap draw sees the edges of its own resample). Ties: edges are
  values, so identical confidences always share a bin, whatever their row order. When ties span
  several quantiles the repeated edges are merged, giving fewer than ``B`` bins; the last bin
  can then be empty.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validate import check_binary

KINDS = ("positive", "top_label")
BINNINGS = ("equal_width", "equal_mass")


@dataclass(frozen=True)
class Bins:
    """Per-bin statistics, each an array of shape (B,) except ``edges`` (B + 1,).

    ``weight`` is the (weighted) count of samples in the bin; ``confidence`` and ``observed`` are
    the weighted mean confidence and mean target there, NaN in empty bins (weight 0).
    """

    edges: np.ndarray
    weight: np.ndarray
    confidence: np.ndarray
    observed: np.ndarray

    @property
    def filled(self) -> np.ndarray:
        """(B,) bool: bins holding positive weight (the only ones a metric sums over)."""
        return self.weight > 0


def confidence_and_target(labels: np.ndarray, probs: np.ndarray,
                          kind: str = "positive") -> tuple[np.ndarray, np.ndarray]:
    """The (confidence, target) pair that a binary calibration metric compares per bin.

    * ``"positive"`` (class-wise for class 1, Nixon et al. 2019): confidence ``p = P(y=1)``,
      target ``y``; a bin compares mean ``p`` with the observed frequency of ``y = 1``. This is
      what torchmetrics' ``BinaryCalibrationError`` computes, although its docs call it
      "top-label". (Class 0 mirrors class 1 with equal-width bins, so Nixon et al.'s class-wise
      average over both classes equals this, up to values lying on an edge.)
    * ``"top_label"`` (Guo et al. 2017): predicted label ``1[p >= 0.5]``, confidence
      ``max(p, 1 - p)``, target ``1[predicted == y]``; a bin compares mean confidence with the
      accuracy there. Confidences lie in [0.5, 1], so equal-width bins below 0.5 stay empty.

    Args:
        labels, probs: (N,) arrays, labels in {0, 1}, probs in [0, 1] (already validated).

    Returns:
        ``(confidence, target)``, two (N,) float arrays.
    """
    if kind == "positive":
        return probs, labels
    if kind == "top_label":
        predicted = (probs >= 0.5).astype(float)
        return np.where(predicted == 1, probs, 1 - probs), (predicted == labels).astype(float)
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def bin_edges(confidence: np.ndarray, n_bins: int = 15, binning: str = "equal_width",
              weight: np.ndarray | None = None) -> np.ndarray:
    """Bin edges ``(B + 1,)`` from 0 to 1, increasing; ``B <= n_bins`` (see module docstring).

    Args:
        confidence: (N,) values in [0, 1].
        n_bins: requested number of bins ``B`` (>= 1).
        binning: ``"equal_width"`` or ``"equal_mass"``.
        weight: (N,) non-negative sample weights for the equal-mass quantiles (None: ones).
    """
    if not isinstance(n_bins, (int, np.integer)) or isinstance(n_bins, bool) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    if binning == "equal_width":
        return np.linspace(0.0, 1.0, n_bins + 1)
    if binning != "equal_mass":
        raise ValueError(f"binning must be one of {BINNINGS}, got {binning!r}")
    weight = np.ones(len(confidence)) if weight is None else np.asarray(weight, dtype=float)
    order = np.argsort(confidence, kind="stable")
    cumulative = np.cumsum(weight[order])
    # cum * B >= b * total avoids the rounding of cum / total >= b / B for integer weights.
    first = np.searchsorted(cumulative * n_bins, np.arange(1, n_bins) * cumulative[-1], "left")
    interior = confidence[order][np.minimum(first, len(order) - 1)]
    return np.unique(np.concatenate([[0.0], interior, [1.0]]))


def assign_bins(confidence: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """(N,) bin index in ``0 .. B-1``: right-closed bins, the first one closed on the left."""
    index = np.searchsorted(edges, confidence, side="left") - 1
    return np.clip(index, 0, len(edges) - 2)


def binned(labels: np.ndarray, probs: np.ndarray, sample_weight: np.ndarray | None = None,
           n_bins: int = 15, binning: str = "equal_width", kind: str = "positive") -> Bins:
    """Validate the inputs and compute the per-bin statistics of one binary calibration metric.

    Args:
        labels: (N,) in {0, 1}. probs: (N,) ``P(y=1)`` in [0, 1].
        sample_weight: (N,) non-negative weights (bootstrap multiplicities); None: all ones.
        n_bins, binning: see :func:`bin_edges`. kind: see :func:`confidence_and_target`.

    Returns:
        :class:`Bins` with, for bin ``b``, ``weight_b = sum_{i in b} w_i``,
        ``confidence_b = sum w_i c_i / weight_b`` and ``observed_b = sum w_i t_i / weight_b``.
    """
    labels, probs, weight = check_binary(labels, probs, sample_weight)
    confidence, target = confidence_and_target(labels, probs, kind)
    edges = bin_edges(confidence, n_bins, binning, weight)
    index = assign_bins(confidence, edges)
    n = len(edges) - 1
    total = np.bincount(index, weights=weight, minlength=n)
    filled = total > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(index, weights=weight * confidence, minlength=n) / total
        mean_target = np.bincount(index, weights=weight * target, minlength=n) / total
    mean_conf[~filled] = np.nan
    mean_target[~filled] = np.nan
    return Bins(edges, total, mean_conf, mean_target)
