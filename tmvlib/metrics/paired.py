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
  probability, so "no difference" can be read as "no difference larger than this". For a member
  of a family of ``m`` comparisons, :func:`holm_family` uses ``alpha / m`` (Bonferroni: a
  conservative stand-in for the Holm step the member may face);
- the **Monte Carlo error** of the bootstrap p-value, ``sqrt(p (2 - p) / B)`` over the ``B``
  valid draws (the standard error of ``2 min(q, 1 - q)`` for a share ``q`` estimated from ``B``
  draws): at ``p = 0.05`` and 1,000 draws it is about 0.01, the size of the moves a
  rerun on another host can make. A p-value from the normal approximation (no draw crossed 0)
  is labelled ``p_method = "normal approximation"`` and has no Monte Carlo error.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd
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
        p_method: ``"bootstrap"``, or ``"normal approximation"`` where no draw crossed 0
            (:func:`bootstrap_p_value`).
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
    p_method: str = "bootstrap"

    def minimum_detectable(self, power: float = 0.8, alpha: float | None = None) -> float:
        """Smallest |true difference| detected with probability ``power`` by a two-sided test
        at ``alpha`` (default ``1 - level``): ``(z_{1-alpha/2} + z_power) * se``."""
        return minimum_detectable(self.se, 1 - self.level if alpha is None else alpha, power)

    @property
    def p_mc_error(self) -> float:
        """Monte Carlo standard error of the bootstrap p-value (NaN for a normal approximation)."""
        return p_mc_error(self.p_value, self.n_boot - self.skipped, self.p_method)

    def row(self, **labels) -> dict:
        """A long-form table row: ``labels``, ``value, low, high``, the two statistics as
        ``a_value, b_value``, ``se, p_value, mdd`` (``mdd`` at 80% power), ``p_method``,
        ``p_mc_error`` and ``draws`` (the valid draws)."""
        return {**labels, "value": self.value, "low": self.low, "high": self.high, "a_value": self.a,
                "b_value": self.b, "se": self.se, "p_value": self.p_value,
                "mdd": self.minimum_detectable(), "p_method": self.p_method, "p_mc_error": self.p_mc_error,
                "draws": self.n_boot - self.skipped}


NORMAL_APPROXIMATION = "normal approximation"


def minimum_detectable(se, alpha: float = 0.05, power: float = 0.8):
    """``(z_{1-alpha/2} + z_power) * se``: the smallest |true difference| a two-sided test at
    ``alpha`` detects with probability ``power`` (``se`` a float or an array)."""
    value = (norm.ppf(1 - alpha / 2) + norm.ppf(power)) * np.asarray(se, dtype=float)
    return float(value) if value.ndim == 0 else value


def p_mc_error(p_value: float, draws: int, method: str = "bootstrap") -> float:
    """Monte Carlo standard error of a bootstrap p-value ``2 min(q, 1 - q)`` estimated from
    ``draws`` draws: ``sqrt(p (2 - p) / draws)``; NaN for a normal approximation."""
    if method == NORMAL_APPROXIMATION or draws < 1 or not np.isfinite(p_value):
        return float("nan")
    p = min(float(p_value), 1.0)
    return float(np.sqrt(p * (2 - p) / draws))


def bootstrap_p_value(draws: np.ndarray, value: float, se: float) -> float:
    """See :func:`bootstrap_p` (the p-value alone)."""
    return bootstrap_p(draws, value, se)[0]


def bootstrap_p(draws: np.ndarray, value: float, se: float) -> tuple[float, str]:
    """Two-sided bootstrap p-value of a difference from its draws ``d*`` (B,):
    ``2 min(P*(d* <= 0), P*(d* >= 0))``, consistent with the percentile interval.

    A value of 0 only says that no draw crossed 0 (``p < 2 / B``), too coarse for a multiplicity
    correction over several comparisons; in that case the normal approximation
    ``2 Phi(-|value| / se)`` with the bootstrap standard error (a Wald test) is used, capped at
    the bootstrap's own bound ``2 / B``.

    Returns:
        ``(p, method)``: ``method`` is ``"bootstrap"`` or ``"normal approximation"``.
    """
    draws = np.asarray(draws, dtype=float)
    p = min(1.0, 2 * min(np.mean(draws <= 0), np.mean(draws >= 0)))
    bound = 2 / len(draws)
    if p < bound:
        wald = 2 * norm.sf(abs(value) / se) if se > 0 else 0.0
        return float(min(wald, bound)), NORMAL_APPROXIMATION
    return float(p), "bootstrap"


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
    p, method = bootstrap_p(diffs, a - b, se)
    return PairedDifference(a - b, float(low), float(high), a, b, se, p, n_boot, skipped, level, method)


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


def holm_family(table: pd.DataFrame, family: Sequence[bool] | None = None, alpha: float = 0.05,
                power: float = 0.8) -> pd.DataFrame:
    """A copy of ``table`` (rows of :meth:`PairedDifference.row`: ``p_value``, ``se``, and
    ``p_mc_error`` where known) read as one family of comparisons: the rows where ``family`` is
    True (all when None; NaN p-values are never members).

    Adds ``p_holm`` (:func:`holm`), ``family_size`` (``m``, the members counted) and, for the
    members, ``p_holm_mc_error`` (the Monte Carlo error of the adjusted p-value: the raw one
    times the factor Holm applied) and ``mdd`` at ``alpha / m`` (Bonferroni, conservative: the
    smallest difference the member would survive the correction with, at ``power``); rows
    outside the family keep their ``mdd`` and get NaN in the new columns.
    """
    out = table.copy()
    p = out["p_value"].to_numpy(dtype=float)
    member = np.isfinite(p) if family is None else np.isfinite(p) & np.asarray(family, dtype=bool)
    m = int(member.sum())
    out["p_holm"] = holm(p, family=member, alpha=alpha)
    out["family_size"] = np.where(member, m, np.nan) if m else np.nan
    if not m:
        out["p_holm_mc_error"] = np.nan
        return out
    raw_error = out["p_mc_error"].to_numpy(dtype=float) if "p_mc_error" in out else np.full(len(out), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(p > 0, out["p_holm"].to_numpy(dtype=float) / p, np.nan)
    out["p_holm_mc_error"] = np.where(member, raw_error * factor, np.nan)
    if "se" in out:
        out["mdd"] = np.where(member, minimum_detectable(out["se"].to_numpy(dtype=float), alpha / m, power),
                              out["mdd"] if "mdd" in out else np.nan)
    return out
