"""Per-image trust scores: chapter 06 stacks :func:`image_trust_scores` of its image sets
(:func:`trust_scores_by_set`): the decision uncertainty and its secondary, MC-dropout mutual
information, ensemble variance and the explanation instabilities, with ``correct`` at the
decision threshold; and builds each table per set (:func:`per_set_table`).

The tables built on them are one concept each: the quadrants (:mod:`tmvlib.tables.quadrants`),
error detection and deferral (:mod:`tmvlib.tables.error_detection`), subgroups
(:mod:`tmvlib.tables.subgroups`); the combined score is fitted by
:mod:`tmvlib.uncertainty.combined_score`; the trust-cell labels and the constant-map rule are in
:mod:`tmvlib.tables.trust_cells`.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..contracts.scores import (DECISION_UNCERTAINTY, DISTANCE_TO_HALF, ENSEMBLE_VARIANCE, MC_MUTUAL_INFORMATION,
                               flip_rate_column, instability_column)
from ..metrics.confidence import decision_uncertainty, distance_to_half, errors_at
from .trust_cells import INSTABILITY_COLUMNS, STABILITY_SOURCES



# The decision-aligned confidence first (``tmvlib.metrics.confidence``); 1 - max(p, 1-p), the
# distance to 0.5, only as a labelled secondary.
UNCERTAINTY_COLUMNS = (DECISION_UNCERTAINTY, DISTANCE_TO_HALF, MC_MUTUAL_INFORMATION, ENSEMBLE_VARIANCE)


def at_threshold(frame: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """A copy of ``frame`` (``prob``, optionally ``label``) with what depends on the decision
    threshold computed at ``threshold``: ``correct`` (where there is a label; *the* definition of
    an error, ``metrics.confidence.errors_at``) and the decision uncertainty. Chapter 06 computes
    them at chapter 02's threshold; chapter 07's re-splits at the threshold refitted on each
    calibration half."""
    out = frame.copy()
    prob = out["prob"].to_numpy(dtype=float)
    if "label" in out.columns:
        out["correct"] = ~errors_at(out["label"].to_numpy(), prob, threshold)
    out[DECISION_UNCERTAINTY] = decision_uncertainty(prob, threshold)
    return out


def image_trust_scores(frame: pd.DataFrame, threshold: float, mc_probs: np.ndarray | None,
                       ensemble_probs: np.ndarray | None, summary: pd.DataFrame) -> pd.DataFrame:
    """Per-image trust scores of the stability chapter (its ``trust_scores.parquet``).

    Args:
        frame: one row per image with ``image_id`` and ``prob`` (the explained model's
            P(positive)); with ``label``, a ``correct`` column is added (prediction at
            ``threshold`` equals the label).
        mc_probs: (N, T) probabilities under T MC-dropout masks (None: the source was not
            measured, and its score is left out).
        ensemble_probs: (N, M-1) probabilities of the other ensemble members (None: likewise).
        summary: ``tmvlib.explain.similarity.stability_summary`` rows by ``image_id`` and ``source``
            (the instability and flip-rate columns of the sources it holds).

    Returns:
        ``frame`` plus ``decision uncertainty`` (exp(-|logit p - logit threshold|),
        ``tmvlib.metrics.confidence.decision_uncertainty``: the project's confidence score),
        ``1 - max(p, 1-p)`` (the threshold-free secondary), ``MC mutual information`` (BALD
        over the T dropout samples), ``ensemble variance`` (of the explained model's and the
        other members' probabilities) and, per source, ``instability (<source>)`` (1 - mean
        Spearman; NaN for a constant map) and ``flip rate (<source>)``.
    """
    from ..uncertainty.scores import uncertainty_scores
    from ..uncertainty.temperature import probability_logit

    out = at_threshold(frame, threshold)
    prob = out["prob"].to_numpy(dtype=float)
    out[DISTANCE_TO_HALF] = distance_to_half(prob)
    if mc_probs is not None:
        out[MC_MUTUAL_INFORMATION] = uncertainty_scores(
            probability_logit(np.asarray(mc_probs)).T)["mutual_information"].to_numpy()
    if ensemble_probs is not None:
        members = np.concatenate([prob[:, None], np.asarray(ensemble_probs, dtype=float)], axis=1)
        out[ENSEMBLE_VARIANCE] = members.var(axis=1)
    for source in (s for s in STABILITY_SOURCES if s in set(summary["source"])):
        s = summary[summary["source"] == source].set_index("image_id")
        out[instability_column(source)] = out["image_id"].map(s["instability"]).to_numpy()
        out[flip_rate_column(source)] = out["image_id"].map(s["flip_rate"]).to_numpy()
    return out


def trust_scores_by_set(frames: Mapping[str, pd.DataFrame], threshold: float,
                        probs: Mapping[str, Mapping[str, np.ndarray]],
                        summary: pd.DataFrame) -> pd.DataFrame:
    """:func:`image_trust_scores` of every set, stacked (chapter 06's ``trust_scores`` before
    the constant-map rule, ``tmvlib.tables.trust_cells.fill_constant_maps``).

    Args:
        frames: set name -> its images (``image_id, patient_id, label, prob``).
        probs: set name -> source -> (N, P) perturbed probabilities (``MC dropout`` and
            ``ensemble`` are read where measured; ``tmvlib.explain.stability.StabilityBySet.probs``).
        summary: stability summary by ``image_id, set, source``.
    Returns:
        rows ``image_id, patient_id, label, prob, set`` plus the scores of
        :func:`image_trust_scores`, set after set (new index).
    """
    return pd.concat([image_trust_scores(frame[["image_id", "patient_id", "label", "prob"]].assign(set=name),
                                         threshold, probs[name].get("MC dropout"), probs[name].get("ensemble"),
                                         summary[summary["set"] == name])
                      for name, frame in frames.items()], ignore_index=True)


def trust_score_correlations(frame: pd.DataFrame) -> pd.DataFrame:
    """Spearman correlation of each instability (rows, :data:`INSTABILITY_COLUMNS`) with each
    uncertainty score (columns, :data:`UNCERTAINTY_COLUMNS`) over the rows of ``frame``,
    rounded to 2 decimals."""
    uncertainty, instability = list(UNCERTAINTY_COLUMNS), list(INSTABILITY_COLUMNS)
    return (frame[uncertainty + instability].corr(method="spearman")
            .loc[instability, uncertainty].round(2))


def per_set_table(build: Callable[..., pd.DataFrame], frame: pd.DataFrame, *args,
                  sets: Sequence[str] = ("test", "external"), ignore_index: bool = True,
                  **kwargs) -> pd.DataFrame:
    """``build(rows of one set, *args, **kwargs)`` for each of ``sets`` (rows of ``frame`` whose
    ``set`` column equals it), with a ``set`` column, stacked; ``ignore_index=False`` keeps each
    table's own index (0.. per set), as a display of the stacked tables shows it."""
    return pd.concat([build(frame[frame["set"] == name], *args, **kwargs).assign(set=name)
                      for name in sets], ignore_index=ignore_index)
