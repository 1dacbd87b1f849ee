"""Paired patient-level bootstrap of a difference between two statistics on the same images.

Two scores (or two calibrations, or two groups) measured on the same images are correlated, so
whether their two marginal intervals overlap says little: the question "is A better than B" is
answered by the interval of the difference ``A - B`` under one shared resampling of patients
(Efron & Tibshirani 1993, ch. 13; the cluster bootstrap of Field & Welsh 2007). Each draw
resamples patients with replacement, evaluates *both* statistics on the same draw, and keeps
their difference.

Besides the percentile interval, :class:`PairedDifference` carries

- a two-sided bootstrap p-value, ``2 min(P*(d <= 0), P*(d >= 0))``, consistent with the interval
  (it is below ``1 - level`` exactly when the percentile interval excludes 0, up to ties), for a
  multiplicity correction of a family of comparisons (:func:`holm`); where no draw crosses 0 it
  is the normal approximation capped at ``2 / B`` (:func:`bootstrap_p_value`);
- the bootstrap standard error and the **minimum detectable difference** at a chosen power,
  ``(z_{1 - alpha/2} + z_{power}) * se`` (the normal-approximation power formula, e.g. Chow, Shao
  & Wang 2008, ch. 3): the smallest true difference this sample would detect with that
  probability, so "no difference" can be read as "no difference larger than this".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from scipy.stats import norm

from .bootstrap import patient_draws

Statistic = Callable[[np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class PairedDifference:
    """``a - b`` with its paired bootstrap interval.

    Attributes:
        value: the difference on the full data. low, high: percentile interval at ``level``.
        a, b: the two statistics on the full data.
        se: bootstrap standard deviation of the difference. p_value: two-sided bootstrap p.
        n_boot: draws requested; skipped: draws where a statistic was undefined.
    """

    value: float
    low: float
    high: float
    a: float
    b: float
    se: float
    p_value: float
    n_boot: int
    skipped: int
    level: float = 0.95

    def minimum_detectable(self, power: float = 0.8, alpha: float | None = None) -> float:
        """Smallest |true difference| detected with probability ``power`` by a two-sided test
        at ``alpha`` (default ``1 - level``): ``(z_{1-alpha/2} + z_power) * se``."""
        alpha = 1 - self.level if alpha is None else alpha
        return float((norm.ppf(1 - alpha / 2) + norm.ppf(power)) * self.se)

    def row(self, **labels) -> dict:
        """A long-form table row: ``labels``, ``value, low, high``, the two statistics as
        ``a_value, b_value``, ``se, p_value, mdd`` (``mdd`` at 80% power)."""
        return {**labels, "value": self.value, "low": self.low, "high": self.high, "a_value": self.a,
                "b_value": self.b, "se": self.se, "p_value": self.p_value,
                "mdd": self.minimum_detectable()}


def bootstrap_p_value(draws: np.ndarray, value: float, se: float) -> float:
    """Two-sided bootstrap p-value of a difference from its draws ``d*`` (B,):
    ``2 min(P*(d* <= 0), P*(d* >= 0))``, consistent with the percentile interval.

    A value of 0 only says that no draw crossed 0 (``p < 2 / B``), too coarse for a multiplicity
    correction over several comparisons; in that case the normal approximation
    ``2 Phi(-|value| / se)`` with the bootstrap standard error (a Wald test) is used, capped at
    the bootstrap's own bound ``2 / B``.
    """
    draws = np.asarray(draws, dtype=float)
    p = min(1.0, 2 * min(np.mean(draws <= 0), np.mean(draws >= 0)))
    bound = 2 / len(draws)
    if p < bound:
        wald = 2 * norm.sf(abs(value) / se) if se > 0 else 0.0
        p = min(wald, bound)
    return float(p)


def paired_bootstrap(statistic_a: Statistic, statistic_b: Statistic, patients: np.ndarray,
                     n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> PairedDifference:
    """Paired patient-bootstrap interval of ``statistic_a - statistic_b``.

    Args:
        statistic_a, statistic_b: functions ``(rows (K,) int, weight (K,) float) -> float`` of
            the images ``rows`` (indices into the N images) with bootstrap multiplicities
            ``weight``; the full data is ``(arange(N), ones(N))``. Either may raise
            ``ValueError`` or return NaN on a degenerate draw (e.g. one class): the draw is
            skipped and counted.
        patients: (N,) patient id per image.
    Returns:
        :class:`PairedDifference`.
    Raises:
        ValueError: every draw was degenerate, or a statistic is undefined on the full data.
    """
    patients = np.asarray(patients)
    n = len(patients)
    full = np.arange(n)
    a, b = float(statistic_a(full, np.ones(n))), float(statistic_b(full, np.ones(n)))
    if not (np.isfinite(a) and np.isfinite(b)):
        raise ValueError(f"a statistic is undefined on the full data (a={a}, b={b})")
    diffs, skipped = [], 0
    for weight in patient_draws(patients, n_boot, seed):
        rows = np.flatnonzero(weight)
        try:
            d = float(statistic_a(rows, weight[rows])) - float(statistic_b(rows, weight[rows]))
        except ValueError:
            d = float("nan")
        if np.isfinite(d):
            diffs.append(d)
        else:
            skipped += 1
    if not diffs:
        raise ValueError("every bootstrap draw was degenerate; the difference is undefined")
    diffs = np.asarray(diffs)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(diffs, [tail, 100 - tail])
    se = float(diffs.std(ddof=1)) if len(diffs) > 1 else 0.0
    return PairedDifference(a - b, float(low), float(high), a, b, se,
                            bootstrap_p_value(diffs, a - b, se), n_boot, skipped, level)


def group_mean(values: np.ndarray, member: np.ndarray) -> Statistic:
    """A statistic for :func:`paired_bootstrap`: the weighted mean of ``values`` (N,) over the
    drawn images with ``member`` (N,) True; NaN (a skipped draw) when the draw holds none."""
    values, member = np.asarray(values, dtype=float), np.asarray(member, dtype=bool)

    def statistic(rows: np.ndarray, weight: np.ndarray) -> float:
        keep = member[rows]
        total = weight[keep].sum()
        return float(weight[keep] @ values[rows][keep] / total) if total > 0 else float("nan")
    return statistic


def holm(p_values: Sequence[float], family: Sequence[bool] | None = None,
         alpha: float = 0.05) -> np.ndarray:
    """Holm-adjusted p-values (Holm 1979) of a family of comparisons, via
    ``statsmodels.stats.multitest.multipletests``.

    ``family`` (same length, optional) marks the entries that belong to the family; the others,
    and NaN entries, get NaN and are not counted. A comparison is significant at family-wise
    level ``alpha`` when its adjusted p-value is below ``alpha``."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    defined = np.isfinite(p) if family is None else np.isfinite(p) & np.asarray(family, dtype=bool)
    if defined.any():
        out[defined] = multipletests(p[defined], alpha=alpha, method="holm")[1]
    return out
