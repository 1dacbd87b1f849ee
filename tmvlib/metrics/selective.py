"""Selective prediction: how the error rate falls when the least certain cases are deferred.

A model that abstains on its most uncertain images and decides the rest trades *coverage* (the
fraction decided) for *risk* (the error rate among them): the risk-coverage curve (Geifman &
El-Yaniv 2017). A useful uncertainty score makes the curve fall as coverage shrinks. Its area is AURC; the area
under the *generalized* risk-coverage curve (AUGRC, the share of all samples accepted and wrong)
counts every error once whatever its rank (Traub et al. 2024).

Ties in ``uncertainty`` are treated as a group, never broken by row order: a coverage that cuts
through a tied group takes the group's mean error for the part it keeps. This is the expected
risk under a uniformly random order within ties, so every number here is independent of the
row order (a constant uncertainty gives a flat curve at the overall error rate).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.special import digamma

from .calibration._validate import (check_finite, check_labels, check_probs, check_weight, same_length)
from .confidence import errors_at
from .discrimination import auroc


def _inputs(labels, probs, uncertainty, threshold, sample_weight=None):
    labels, probs = check_labels(labels), check_probs(probs)
    uncertainty = check_finite(uncertainty, "uncertainty")
    weight = check_weight(sample_weight, len(labels))
    same_length(labels=labels, probs=probs, uncertainty=uncertainty, sample_weight=weight)
    threshold = row_thresholds(threshold, len(labels))
    errors = errors_at(labels, probs, threshold).astype(float)
    return labels, probs, uncertainty, weight, errors


def row_thresholds(threshold, n: int) -> float | np.ndarray:
    """``threshold`` checked: one finite number for every row, or ``(n,)`` finite numbers, one per
    row (pooled rows of several models, each decided at its own model's threshold).

    Raises:
        ValueError: a non-finite threshold, or a per-row array of another length than ``n``.
    """
    values = np.asarray(threshold, dtype=float)
    if values.ndim > 1 or (values.ndim == 1 and len(values) != n):
        raise ValueError(f"threshold must be one number or one per row ({n}), got shape {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError(f"threshold must be finite, got {threshold!r}")
    return float(values) if values.ndim == 0 else values


def _groups(uncertainty, errors, weight):
    """Per tied-uncertainty group, most certain first: weight, weighted errors, and the weight
    and errors of all more certain groups. Zero-weight rows carry nothing and are dropped."""
    keep = weight > 0
    values, group = np.unique(uncertainty[keep], return_inverse=True)
    size = np.bincount(group, weights=weight[keep], minlength=len(values))
    wrong = np.bincount(group, weights=weight[keep] * errors[keep], minlength=len(values))
    size_before = np.concatenate([[0.0], np.cumsum(size)[:-1]])
    wrong_before = np.concatenate([[0.0], np.cumsum(wrong)[:-1]])
    return size, wrong, size_before, wrong_before


def risk_coverage_curve(labels: np.ndarray, probs: np.ndarray, uncertainty: np.ndarray,
                        threshold: float | np.ndarray = 0.5) -> pd.DataFrame:
    """Risk of the ``k`` most certain samples, for ``k = 1 .. N``.

    Samples are ranked by ``uncertainty`` ascending (most certain first). With ``e_i =
    1[1[p_i >= threshold] != y_i]`` the error of the prediction at ``threshold``,
    ``risk(k) = (sum of e over the k most certain) / k`` and ``coverage(k) = k / N``. Where the
    k-th position falls inside a group of tied uncertainties, the group's part counts its mean
    error: ``risk(k) = (E_before + (k - n_before) * r_group) / k`` with ``E_before, n_before``
    errors and size of the strictly more certain samples and ``r_group`` the group's error rate
    (the expectation over random tie-breaking; see the module docstring).

    Args:
        labels: (N,) in {0, 1}. probs: (N,) ``P(y=1)`` in [0, 1].
        uncertainty: (N,) any finite score, larger = less certain (e.g. predictive entropy).
        threshold: probability threshold that turns ``probs`` into predicted labels, or one per
            row (:func:`row_thresholds`).

    Returns:
        DataFrame with N rows and columns ``coverage`` (k / N), ``risk`` and ``n_kept`` (k).

    Reference: Y. Geifman, R. El-Yaniv (2017), "Selective Classification for Deep Neural
    Networks", NeurIPS.
    """
    labels, probs, uncertainty, weight, errors = _inputs(labels, probs, uncertainty, threshold)
    size, wrong, size_before, wrong_before = _groups(uncertainty, errors, weight)
    n = len(labels)
    kept = np.arange(1, n + 1)
    group = np.repeat(np.arange(len(size)), size.astype(int))  # group of the k-th position
    expected_errors = wrong_before[group] + (kept - size_before[group]) * (wrong / size)[group]
    return pd.DataFrame({"coverage": kept / n, "risk": expected_errors / kept, "n_kept": kept})


def aurc(labels: np.ndarray, probs: np.ndarray, uncertainty: np.ndarray, threshold: float | np.ndarray = 0.5,
         sample_weight: np.ndarray | None = None) -> float:
    """Area under the risk-coverage curve: the mean risk over all N coverage points.

    ``AURC = (1/N) sum_{k=1..N} risk(k)`` with ``risk(k)`` as in :func:`risk_coverage_curve`
    (ties averaged, so it is the expected AURC under random tie-breaking). Lower is better; it
    mixes the error rate of the classifier with the ranking quality of ``uncertainty``. This is
    the discrete AURC of Geifman, Uziel & El-Yaniv (2019) and Ding et al. (2020).

    With ``sample_weight`` (integer bootstrap multiplicities), sample ``i`` counts as ``w_i``
    tied copies and ``N = sum w``, so the value equals repeating the rows. Per tied group ``g``
    (most certain first; size ``W_g``, errors ``E_g``, rate ``r_g = E_g / W_g``, preceded by
    ``B_g`` samples with ``EB_g`` errors) the sum over its positions is closed-form:
    ``AURC = (1/N) sum_g [E_g + (EB_g - B_g r_g)(H(B_g + W_g) - H(B_g))]`` with the harmonic
    numbers ``H(x) = digamma(x + 1) + gamma_Euler``, which also define it for non-integer weights.

    Args:
        labels: (N,) in {0, 1}. probs: (N,) ``P(y=1)`` in [0, 1].
        uncertainty: (N,) finite, larger = less certain. threshold: for the predicted label
            (one, or ``(N,)``: one per row, :func:`row_thresholds`).
        sample_weight: (N,) non-negative weights; None: all ones.

    Returns:
        AURC as a float in [0, 1].

    References: Y. Geifman, G. Uziel, R. El-Yaniv (2019), "Bias-Reduced Uncertainty Estimation
    for Deep Neural Classifiers", ICLR; Y. Ding, J. Liu, J. Xiong, Y. Shi (2020), "Revisiting the
    Evaluation of Uncertainty Estimation and Its Application to Explore Model Complexity-
    Uncertainty Trade-Off", CVPR workshops.
    """
    _, _, uncertainty, weight, errors = _inputs(labels, probs, uncertainty, threshold,
                                                sample_weight)
    size, wrong, size_before, wrong_before = _groups(uncertainty, errors, weight)

    def harmonic(x):
        return digamma(x + 1) + np.euler_gamma

    offset = wrong_before - size_before * wrong / size
    total = wrong + offset * (harmonic(size_before + size) - harmonic(size_before))
    return float(total.sum() / size.sum())


def augrc(labels: np.ndarray, probs: np.ndarray, uncertainty: np.ndarray, threshold: float | np.ndarray = 0.5,
          sample_weight: np.ndarray | None = None) -> float:
    """Area under the generalized risk-coverage curve (AUGRC; Traub et al. 2024).

    The generalized risk of the ``k`` most certain samples is the share of *all* N samples that
    are kept and wrong, ``GR(k) = E(k) / N`` with ``E(k)`` the errors among the k most certain
    (the selective risk of :func:`aurc` divides by ``k`` instead). ``AUGRC = (1/N) sum_{k=1..N}
    GR(k)``: the probability that a random sample is both accepted and wrong, averaged over
    coverage, so every error counts once whatever its rank. Unlike AURC it does not weigh the few
    most confident cases most (the requirement AURC fails in the paper). Lower is better; a
    constant score gives ``error rate x (N + 1) / (2N)``, a score that puts every error last the
    least value for these errors (:func:`oracle_augrc`).

    Ties are averaged as in :func:`risk_coverage_curve` (the expected value under random
    tie-breaking), and ``sample_weight`` counts sample ``i`` as ``w_i`` tied copies (``N = sum
    w``). Per tied group ``g`` (most certain first; size ``W_g``, errors ``E_g``, preceded by
    ``EB_g`` errors) the sum over its positions is ``W_g EB_g + E_g (W_g + 1) / 2``, so
    ``AUGRC = (1/N^2) sum_g [W_g EB_g + E_g (W_g + 1) / 2]``.

    Args:
        labels: (N,) in {0, 1}. probs: (N,) ``P(y=1)`` in [0, 1].
        uncertainty: (N,) finite, larger = less certain. threshold: for the predicted label
            (one, or ``(N,)``: one per row, :func:`row_thresholds`).
        sample_weight: (N,) non-negative weights; None: all ones.

    Returns:
        AUGRC as a float in [0, (N + 1) / (2N)] (the upper end when every prediction is wrong).

    Reference: L. Traub, P. F. Jaeger et al. (2024), "Overcoming Common Flaws in the Evaluation
    of Selective Classification Systems", NeurIPS (arXiv 2407.01032), section 3, AUGRC.
    """
    _, _, uncertainty, weight, errors = _inputs(labels, probs, uncertainty, threshold, sample_weight)
    size, wrong, _, wrong_before = _groups(uncertainty, errors, weight)
    return float((size * wrong_before + wrong * (size + 1) / 2).sum() / size.sum() ** 2)


def oracle_augrc(labels: np.ndarray, probs: np.ndarray, threshold: float | np.ndarray = 0.5,
                 sample_weight: np.ndarray | None = None) -> float:
    """The least AUGRC any score can reach for these errors: every correct prediction ranked
    before every error (the score is the error itself). ``augrc - oracle_augrc`` is the excess
    AUGRC (e-AUGRC), the part a score could still gain; it compares scores of methods whose
    errors differ."""
    labels, probs = check_labels(labels), check_probs(probs)
    errors = errors_at(labels, probs, row_thresholds(threshold, len(labels))).astype(float)
    return augrc(labels, probs, errors, threshold, sample_weight)


def selective_metrics(labels: np.ndarray, probs: np.ndarray, uncertainty: np.ndarray,
                      coverage: float, threshold: float | np.ndarray = 0.5) -> dict[str, float]:
    """AUROC and error rate of the most certain ``coverage`` fraction of the samples.

    The kept set is every sample whose uncertainty is at most ``u*``, the uncertainty of the
    ``k``-th most certain sample, ``k = ceil(coverage * N)``. A group tied at ``u*`` is kept
    whole (never split by row order), so the achieved coverage can exceed the request; it is
    returned.

    Args:
        labels: (N,) in {0, 1}. probs: (N,) ``P(y=1)`` in [0, 1].
        uncertainty: (N,) finite, larger = less certain.
        coverage: requested fraction in (0, 1], e.g. 0.8 or 0.9.
        threshold: probability threshold for the predicted label (choose it on validation), or
            ``(N,)``, one per row (:func:`row_thresholds`).

    Returns:
        dict with ``coverage`` (requested), ``achieved_coverage`` (kept / N), ``n_kept``,
        ``auroc`` (of ``probs`` on the kept set; NaN when it holds a single class, where the
        AUROC is undefined) and ``error_rate`` (errors at ``threshold`` / kept).
    """
    labels, probs, uncertainty, _, errors = _inputs(labels, probs, uncertainty, threshold)
    if not 0 < coverage <= 1:
        raise ValueError(f"coverage must be in (0, 1], got {coverage!r}")
    n = len(labels)
    k = max(1, math.ceil(coverage * n - 1e-9))  # tolerance: 0.9 * 10 is 9.000000000000002
    kept = uncertainty <= np.sort(uncertainty)[k - 1]
    single_class = labels[kept].min() == labels[kept].max()
    return {
        "coverage": float(coverage),
        "achieved_coverage": float(kept.mean()),
        "n_kept": int(kept.sum()),
        "auroc": float("nan") if single_class else auroc(labels[kept], probs[kept]),
        "error_rate": float(errors[kept].mean()),
    }
