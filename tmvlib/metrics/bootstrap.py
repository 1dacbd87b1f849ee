"""Patient-level bootstrap confidence intervals.

Images of one patient are correlated, so resampling images would understate the uncertainty.
Patients are resampled with replacement and each draw takes all images of the drawn patients
(the cluster bootstrap; Field & Welsh 2007). Intervals are percentile intervals (Efron &
Tibshirani 1993, ch. 13). A draw is evaluated as sample weights (how often each image's patient
was drawn) rather than by copying rows: the same value, without the copies.
"""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Iterator
from typing import Callable

import numpy as np
import pandas as pd

from ..formatting import interval_text


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap interval; ``skipped`` counts degenerate draws."""

    value: float
    low: float
    high: float
    n_boot: int
    skipped: int

    def __str__(self) -> str:
        return interval_text(self.value, self.low, self.high)


def patient_weight_blocks(patients: np.ndarray, n_boot: int, seed: int,
                          block: int = 256) -> Iterator[np.ndarray]:
    """The patient bootstrap's draws, in blocks of at most ``block`` draws: (k, N) float weights,
    how often each image's patient is drawn in each resample (with replacement, as many patients
    as there are). The one draw of every patient-level interval in the report (this module,
    :mod:`tmvlib.metrics.paired`, :mod:`tmvlib.metrics.calibration.interval`): the same
    ``patients``, ``n_boot`` and ``seed`` give the same draws whatever the block size."""
    codes, uniques = pd.factorize(np.asarray(patients))
    n_patients = len(uniques)
    rng = np.random.default_rng(seed)
    for start in range(0, n_boot, block):
        k = min(block, n_boot - start)
        draws = rng.integers(0, n_patients, (k, n_patients))
        counts = np.zeros((k, n_patients))
        np.add.at(counts, (np.repeat(np.arange(k), n_patients), draws.ravel()), 1.0)
        yield counts[:, codes]


def patient_weights(patients: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, N) weights of :func:`patient_weight_blocks`, all at once."""
    blocks = list(patient_weight_blocks(patients, n_boot, seed))
    return np.concatenate(blocks) if blocks else np.zeros((0, len(patients)))


def patient_draws(patients: np.ndarray, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """(N,) weights of one draw after another (:func:`patient_weight_blocks`)."""
    for block in patient_weight_blocks(patients, n_boot, seed):
        yield from block


def patient_bootstrap(metric: Callable[[np.ndarray, np.ndarray], float], labels: np.ndarray,
                      scores: np.ndarray, patients: np.ndarray, n_boot: int = 1000,
                      seed: int = 0, level: float = 0.95) -> Interval:
    """Percentile interval of ``metric(labels, scores)`` under resampling of patients.

    Args:
        metric: function of ``(labels (N,), scores (N,), sample_weight=None)`` returning a float.
        labels, scores, patients: (N,) arrays, one entry per image.
        n_boot: resamples; draws holding a single class (where AUROC is undefined) are skipped
            and counted in ``Interval.skipped``.

    Returns:
        :class:`Interval` with the metric on the full data and the ``level`` interval.
    """
    labels, scores = np.asarray(labels), np.asarray(scores)
    values, skipped = [], 0
    for weight in patient_draws(patients, n_boot, seed):
        weight = weight.astype(np.int64)  # multiplicities: metrics may repeat rows by them
        drawn = weight > 0
        if labels[drawn].min() == labels[drawn].max():
            skipped += 1
            continue
        values.append(metric(labels[drawn], scores[drawn], sample_weight=weight[drawn]))
    if not values:
        raise ValueError("every bootstrap draw held a single class; the metric is undefined")
    tail = (1 - level) / 2 * 100
    low, high = np.nanpercentile(values, [tail, 100 - tail])
    return Interval(float(metric(labels, scores)), float(low), float(high), n_boot, skipped)


def interval_table(metrics: dict[str, Callable], labels: np.ndarray, scores: np.ndarray,
                   patients: np.ndarray, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Every metric of ``metrics`` (name -> function) with its patient-bootstrap interval.

    Returns:
        DataFrame indexed by metric name with ``value, low, high``; ``attrs`` hold images,
        patients, the most draws any metric skipped (``skipped_draws``) and ``n_boot``.
    """
    rows, skipped = {}, 0
    for name, metric in metrics.items():
        interval = patient_bootstrap(metric, labels, scores, patients, n_boot=n_boot, seed=seed)
        rows[name] = {"value": interval.value, "low": interval.low, "high": interval.high}
        skipped = max(skipped, interval.skipped)
    table = pd.DataFrame(rows).T
    table.attrs.update(images=len(labels), patients=int(pd.Series(np.asarray(patients)).nunique()),
                       skipped_draws=skipped, n_boot=n_boot)
    return table


def patient_bootstrap_mean(values: np.ndarray, patients: np.ndarray, n_boot: int = 1000,
                           seed: int = 0, level: float = 0.95) -> Interval:
    """Mean of a per-image quantity with a percentile interval under resampling of patients.

    For quantities defined per image without a label contrast (a pointing-game hit, a heatmap's
    energy inside a box, a per-image difference between two methods): ``values`` (N,) floats,
    NaN where undefined for that image (left out of every mean); ``patients`` (N,).

    Returns:
        :class:`Interval`; ``skipped`` counts draws in which every drawn value was NaN.
    Raises:
        ValueError: no defined value at all, or lengths differ.
    """
    values = np.asarray(values, dtype=np.float64)
    if len(values) != len(patients):
        raise ValueError(f"{len(values)} values but {len(patients)} patient ids")
    defined = ~np.isnan(values)
    if not defined.any():
        raise ValueError("patient_bootstrap_mean: every value is NaN")
    means, empty = [], 0
    for block in patient_weight_blocks(patients, n_boot, seed):
        weight = block * defined  # (k, N): how often each defined image is drawn
        total = weight.sum(1)
        means.append((weight @ np.where(defined, values, 0.0))[total > 0] / total[total > 0])
        empty += int((total == 0).sum())
    means = np.concatenate(means)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return Interval(float(values[defined].mean()), float(low), float(high), n_boot, empty)
