"""Ensemble diversity: per-image measures, their patient-bootstrap means, and the paired
difference between two ensemble designs on the same images (chapter 03)."""
from __future__ import annotations

from itertools import combinations
from typing import Mapping

import numpy as np
import pandas as pd

from ..explain.similarity import rank_correlation
from ..metrics.bootstrap import patient_bootstrap_mean
from ..metrics.diversity import ensemble_nll_gain, pairwise_disagreement, probability_spread
from ..metrics.paired import group_mean, paired_bootstrap

DISAGREEMENT = "pairwise disagreement"
SPREAD = "probability spread (SD)"
NLL_GAIN = "NLL gain over the mean member"
CAM_AGREEMENT = "member Grad-CAM agreement (Spearman)"
METRICS = (DISAGREEMENT, SPREAD, NLL_GAIN, CAM_AGREEMENT)
MORE_DIVERSE = {DISAGREEMENT: "higher", SPREAD: "higher", NLL_GAIN: "higher", CAM_AGREEMENT: "lower"}


def member_map_agreement(maps: np.ndarray, grid: tuple[int, int] | None = None) -> np.ndarray:
    """Mean pairwise Spearman correlation of the members' maps, per image.

    Args:
        maps: (N, M, h, w) one map per image and member (M >= 2). grid: pool each map to this
            grid first (:func:`tmvlib.explain.similarity.rank_correlation`), as chapter 06 does.
    Returns:
        (N,) mean over the M (M - 1) / 2 pairs of defined correlations; NaN where none is
        defined (a constant map).
    """
    maps = np.asarray(maps)
    if maps.ndim != 4 or maps.shape[1] < 2:
        raise ValueError(f"maps must be (N, M, h, w) with M >= 2, got shape {maps.shape}")
    out = np.full(len(maps), np.nan)
    for i, image in enumerate(maps):
        rhos = [rank_correlation(image[a], image[b], grid=grid) for a, b in combinations(range(len(image)), 2)]
        if np.isfinite(rhos).any():
            out[i] = np.nanmean(rhos)
    return out


def diversity_values(member_probs: np.ndarray, labels: np.ndarray, threshold: float,
                     maps: np.ndarray | None = None, grid: tuple[int, int] | None = None) -> pd.DataFrame:
    """One row per image with every measure of :data:`METRICS` (the Grad-CAM agreement NaN when
    ``maps`` is None, or for images without maps).

    Args:
        member_probs: (M, N) probabilities of the members, member 0 the baseline.
        labels: (N,) in {0, 1}. threshold: the decision threshold (predicted labels).
        maps: optional (N, M, h, w) member Grad-CAMs of the same images, or (K, M, h, w) of the
            first K images only.
    """
    n = np.asarray(member_probs).shape[1]
    cam = np.full(n, np.nan)
    if maps is not None:
        cam[:len(maps)] = member_map_agreement(maps, grid)
    return pd.DataFrame({DISAGREEMENT: pairwise_disagreement(member_probs, threshold),
                         SPREAD: probability_spread(member_probs),
                         NLL_GAIN: ensemble_nll_gain(member_probs, labels), CAM_AGREEMENT: cam})


def diversity_table(values: Mapping[str, pd.DataFrame], patients: np.ndarray, reference: str | None,
                    n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Each design's mean of each measure with its patient-bootstrap interval, and each other
    design minus ``reference`` as a paired patient-bootstrap difference on the same images.

    Args:
        values: design name -> :func:`diversity_values` of the same N images (same order).
        patients: (N,) patient ids. reference: the design the others are compared with (None:
            levels only).
    Returns:
        Long frame: ``metric, design, kind`` ("level" or "difference"), ``value, low, high, n``
        and, for differences, ``p_value, mdd`` (80% power), ``compared`` (the reference).
        Measures undefined on every image (no maps) are left out.
    """
    if reference is not None and reference not in values:
        raise KeyError(f"reference design {reference!r} not among {list(values)}")
    patients = np.asarray(patients)
    rows = []
    for metric in METRICS:
        columns = {d: v[metric].to_numpy(float) for d, v in values.items()}
        if all(np.isnan(c).all() for c in columns.values()):
            continue
        for design, column in columns.items():
            iv = patient_bootstrap_mean(column, patients, n_boot, seed)
            rows.append({"metric": metric, "design": design, "kind": "level", "value": iv.value,
                         "low": iv.low, "high": iv.high, "n": int(np.isfinite(column).sum())})
        if reference is None:
            continue
        both = np.isfinite(columns[reference])
        for design, column in columns.items():
            if design == reference:
                continue
            defined = both & np.isfinite(column)
            diff = paired_bootstrap(group_mean(np.nan_to_num(column), defined),
                                    group_mean(np.nan_to_num(columns[reference]), defined), patients, n_boot, seed)
            rows.append({**diff.row(metric=metric, design=f"{design} - {reference}", kind="difference",
                                    compared=reference), "n": int(defined.sum())})
    return pd.DataFrame(rows)


def diversity_by_set(member_probs: Mapping[str, Mapping[str, np.ndarray]], frames: Mapping[str, pd.DataFrame],
                     threshold: float, reference: str | None, maps: Mapping[str, np.ndarray] | None = None,
                     map_set: str = "test", grid: tuple[int, int] | None = None, n_boot: int = 1000,
                     seed: int = 0) -> pd.DataFrame:
    """:func:`diversity_table` for every set, stacked with a ``set`` column.

    Args:
        member_probs: design -> set -> (M, N) member probabilities on ``frames[set]``'s images.
        frames: set -> images (``label``, ``patient_id``), in the order of the probabilities.
        threshold: the decision threshold. reference: the design the others are compared with
            (None, or the only design: levels only).
        maps: design -> (K, M, h, w) member Grad-CAMs of the first K images of ``map_set``.
        grid: Spearman grid of the map agreement.
    """
    out = []
    for name, frame in frames.items():
        labels = frame["label"].to_numpy()
        values = {design: diversity_values(by_set[name], labels, threshold,
                                           maps.get(design) if maps and name == map_set else None, grid)
                  for design, by_set in member_probs.items()}
        ref = reference if reference in values and len(values) > 1 else None
        out.append(diversity_table(values, frame["patient_id"].to_numpy(), ref, n_boot, seed).assign(set=name))
    return pd.concat(out, ignore_index=True)
