"""Subgroups: discrimination, calibration and error rates per sex, age band and view; groups too
small to estimate an AUROC are flagged, not reported (Seyyed-Kalantari et al. 2021,
"Underdiagnosis bias of artificial intelligence algorithms applied to chest radiographs in
under-served patient populations", Nature Medicine, report per-subgroup rates the same way).
Needs ``label`` (0/1), ``prob`` (P(y=1)), ``correct`` and ``patient_id``.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..metrics.bootstrap import Interval, patient_bootstrap_mean
from ..metrics.calibration import brier, calibration_error_interval, smooth_ece
from ..metrics.frames import error_indicator, require_columns
from ..metrics.subgroups import subgroup_auroc



def age_bands(age, edges: Sequence[float] = (0, 40, 60, 200)) -> pd.Series:
    """Ordered categorical age bands ``[edges[i], edges[i+1])``: labels "0-39", "40-59", "60+"
    for the default (a last edge >= 120 is shown as open, "60+"). Ages outside the edges or
    missing become NaN (a group of their own in :func:`subgroup_table`). Keeps a Series' index."""
    edges = [float(e) for e in edges]
    if len(edges) < 2 or any(b <= a for a, b in itertools.pairwise(edges)):
        raise ValueError(f"edges must be increasing with at least two values, got {edges}")

    def show(x: float) -> str:
        return f"{x:g}"

    labels = [f"{show(lo)}-{show(hi - 1)}" for lo, hi in itertools.pairwise(edges)]
    if edges[-1] >= 120:
        labels[-1] = f"{show(edges[-2])}+"
    index = age.index if isinstance(age, pd.Series) else None
    values = pd.to_numeric(pd.Series(np.asarray(age), index=index), errors="coerce")
    return pd.cut(values, bins=edges, right=False, labels=labels)


def subgroup_groupings(age_edges: Sequence[float] = (0, 40, 60, 200)
                       ) -> dict[str, str | Callable[[pd.DataFrame], pd.Series]]:
    """Chapter 07's groupings for :func:`subgroup_table`: ``sex`` and ``view`` (columns) and
    ``age band`` (:func:`age_bands` of the ``age`` column with ``age_edges``)."""
    edges = list(age_edges)
    return {"sex": "sex", "age band": lambda frame: age_bands(frame["age"], edges), "view": "view"}


def _group_values(frame: pd.DataFrame, spec: str | Callable[[pd.DataFrame], Sequence]) -> np.ndarray:
    """(N,) object array of one grouping's values (a column name or a function of the frame)."""
    return np.asarray(frame[spec] if isinstance(spec, str) else spec(frame), dtype=object)


def _group_error_rates(frame: pd.DataFrame, values: np.ndarray, n_boot: int,
                       seed: int) -> dict[str, Interval]:
    """group label -> patient-bootstrap error rate of its images. Every test patient is
    resampled in each draw (images outside the group count as undefined), so the interval is
    that of the group's share of a resampled test set."""
    labels = pd.Series(values, index=frame.index)
    labels = labels.where(labels.notna(), "missing").astype(str)
    errors = (~frame["correct"]).astype(float)
    patients = frame["patient_id"].to_numpy()
    return {group: patient_bootstrap_mean(np.where((labels == group).to_numpy(), errors, np.nan),
                                          patients, n_boot=n_boot, seed=seed)
            for group in labels.unique()}


def subgroup_table(frame: pd.DataFrame,
                   group_cols: Mapping[str, str | Callable[[pd.DataFrame], Sequence]],
                   n_boot: int = 1000, seed: int = 0, min_positives: int = 10,
                   min_negatives: int = 10, error_rate: bool = False, score: str = "prob") -> pd.DataFrame:
    """AUROC, ECE and Brier per subgroup, with patient-bootstrap intervals.

    Args:
        frame: per-image rows with ``label`` (0/1), ``prob`` (P(y=1)) and ``patient_id``.
        group_cols: grouping name -> column name or function ``frame -> (N,) group values``
            (e.g. ``{"sex": "sex", "age": lambda f: age_bands(f["age"])}``). Missing values
            form a group of their own ("missing").
        min_positives, min_negatives: a group with fewer positive or negative images is
            ``too_thin``: its metrics are NaN and ``reason`` says why, so a 3-positive AUROC
            never reaches a table.
        error_rate: also the error rate at the decision threshold (needs a boolean
            ``correct`` column), for every group, thin or not: ``error_rate, error_low,
            error_high``, a patient-bootstrap mean (``patient_bootstrap_mean``) over every
            image of ``frame`` with the images outside the group left undefined.
        score: the column the AUROC ranks by (default ``prob``; the pooled test folds of several
            models rank by ``aligned_prob``, while ECE and Brier read each model's own ``prob``).

    The AUROC comes from ``tmvlib.metrics.subgroups.subgroup_auroc`` (same bootstrap); the
    calibration error ``ece`` is the smooth ECE (``tmvlib.metrics.calibration.smooth_ece``) as
    chapter 03 reports it: the plug-in estimate with the interval whose coverage is measured near
    0 too (``tmvlib.metrics.calibration.interval.calibration_interval``), which contains it. The
    estimate is still biased upward in small groups: compare groups of similar size.

    Returns:
        long DataFrame, one row per grouping and value: ``grouping, group`` (as text),
        ``images, patients, positives, negatives, auroc, auroc_low, auroc_high, ece, ece_low,
        ece_high, brier, too_thin, reason`` (+ ``error_rate, error_low, error_high``).
    """
    require_columns(frame, ["label", "prob", "patient_id"], "subgroup_table")
    if error_rate:
        error_indicator(frame)
    rows = []
    for grouping, spec in group_cols.items():
        values = _group_values(frame, spec)
        grouped = frame.assign(_group=values)
        errors = _group_error_rates(frame, values, n_boot, seed) if error_rate else {}
        aurocs = subgroup_auroc(grouped, "_group", n_boot=n_boot, seed=seed,
                                min_per_class=min(min_positives, min_negatives), score=score)
        for (value, group), (_, auc) in zip(grouped.groupby("_group", dropna=False),
                                           aurocs.iterrows(), strict=True):
            same = (pd.isna(value) and pd.isna(auc["_group"])) or value == auc["_group"]
            if not same:  # both group the same column the same way; guard the pairing anyway
                raise RuntimeError(f"subgroup order mismatch: {value!r} vs {auc['_group']!r}")
            labels, probs = group["label"].to_numpy(), group["prob"].to_numpy()
            patients = group["patient_id"].to_numpy()
            positives = int(labels.sum())
            negatives = len(labels) - positives
            reasons = [f"{n} {kind} < {least}" for n, kind, least in
                       ((positives, "positives", min_positives),
                        (negatives, "negatives", min_negatives)) if n < least]
            row = {"grouping": grouping, "group": "missing" if pd.isna(value) else str(value),
                   "images": len(group), "patients": int(pd.Series(patients).nunique()),
                   "positives": positives, "negatives": negatives, "auroc": np.nan,
                   "auroc_low": np.nan, "auroc_high": np.nan, "ece": np.nan, "ece_low": np.nan,
                   "ece_high": np.nan, "brier": np.nan, "too_thin": bool(reasons),
                   "reason": "; ".join(reasons)}
            if not reasons:
                calibration = calibration_error_interval(smooth_ece, labels, probs, patients, n_boot, seed)
                row.update(auroc=auc["AUROC"], auroc_low=auc["low"], auroc_high=auc["high"],
                           ece=calibration.value, ece_low=calibration.low,
                           ece_high=calibration.high, brier=brier(labels, probs))
            if error_rate:
                interval = errors[row["group"]]
                row.update(error_rate=interval.value, error_low=interval.low,
                           error_high=interval.high)
            rows.append(row)
    return pd.DataFrame(rows)
