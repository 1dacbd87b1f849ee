"""Trust cells: how one image is placed by its uncertainty and its explanation's instability.

An image is *confident* when its uncertainty score is at most a cut and its predicted label does
not flip under most test-time perturbations (chapter 07's ``max_flip_rate``), and its explanation
*stable* when its instability is at most another cut (both cuts are validation quantiles,
chapter 07).
Crossed, that gives four cells, labelled ``"confident · stable"``, ``"confident · unstable"``,
``"uncertain · stable"`` and ``"uncertain · unstable"``; on labelled data the correctness goes
in front (``"incorrect · confident · stable"``). Chapter 07's quadrant tables and the trust card
(:mod:`tmvlib.card.predictor`) both label cells with :func:`trust_cell`, so a card's cell can be
looked up in chapter 07's tables.

**The constant-map rule.** A heatmap that is constant (every pixel equal, e.g. a Grad-CAM whose
gradients vanish) has no rank order, so its Spearman correlation with a perturbed map, and with
it the image's instability (1 - mean Spearman, ``tmvlib.explain.similarity.stability_summary``),
is undefined (NaN). Such a map says nothing about where the model looked, so it counts as the
**least stable**:

- in a table of many images (chapter 06's ``trust_scores.parquet``), a NaN instability is
  replaced by the largest instability of its column **among the validation images**
  (:func:`fill_constant_maps`), so it lands above any validation cut below that maximum; test
  and external values never reach the validation features that fit the combined score;
- for one image on its own (the trust card), where there is no column to rank against, a NaN
  instability is unstable whatever the cut (:func:`is_stable`).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..contracts.scores import constant_map_column, instability_column
from ..explain.stability import SOURCES
from ..metrics.bootstrap import patient_bootstrap_mean

STABILITY_SOURCES = SOURCES
INSTABILITY_COLUMNS = tuple(instability_column(source) for source in STABILITY_SOURCES)


def confidence_word(confident: bool) -> str:
    """``"confident"`` or ``"uncertain"``."""
    return "confident" if confident else "uncertain"


def stability_word(stable: bool) -> str:
    """``"stable"`` or ``"unstable"``."""
    return "stable" if stable else "unstable"


def correctness_word(correct: bool) -> str:
    """``"correct"`` or ``"incorrect"``."""
    return "correct" if correct else "incorrect"


def trust_cell(confident: bool, stable: bool, correct: bool | None = None) -> str:
    """The label of a trust cell: ``"confident · stable"`` (``·`` is U+00B7 between spaces), or
    with ``correct`` given ``"incorrect · confident · stable"`` (chapter 07's ``cell`` column)."""
    cell = f"{confidence_word(confident)} · {stability_word(stable)}"
    return cell if correct is None else f"{correctness_word(correct)} · {cell}"


def is_confident(uncertainty: float, threshold: float, flip_rate: float | None = None,
                 max_flip_rate: float | None = None) -> bool:
    """Uncertainty at or below its cut (a tie counts as confident) and, with ``max_flip_rate``,
    a prediction that keeps its label under test-time perturbation: an image whose label flips
    under more than ``max_flip_rate`` of the perturbations (``flip_rate``) is not confident,
    whatever its probability. A missing flip rate does not count against it."""
    robust = (max_flip_rate is None or flip_rate is None or not np.isfinite(flip_rate)
              or flip_rate <= max_flip_rate)
    return bool(uncertainty <= threshold and robust)


def is_stable(instability: float, threshold: float) -> bool:
    """Instability at or below its cut (a tie counts as stable); a NaN or infinite instability
    (a constant map, see the module doc) is unstable. Returns a Python bool."""
    return bool(np.isfinite(instability) and instability <= threshold)


def fill_constant_maps(frame: pd.DataFrame, columns: Sequence[str] = INSTABILITY_COLUMNS,
                       reference_set: str = "val") -> pd.DataFrame:
    """A copy of ``frame`` whose NaN instabilities (constant maps) hold their column's largest
    value over the ``reference_set`` rows (validation), so a constant map ranks with the least
    stable validation images (see the module doc), and which keeps, per column, where the map was
    constant (``constant map (<source>)``, ``contracts.scores.constant_map_column``): "unstable"
    partly means "blank", and chapter 06 reports those images apart.

    Args:
        frame: per-image rows with a ``set`` column, e.g. of
            :func:`tmvlib.tables.trust.trust_scores_by_set` over all sets.
        columns: the instability columns, by default ``instability (MC dropout)``,
            ``instability (ensemble)`` and ``instability (TTA)``.
        reference_set: the rows whose maximum fills the NaNs; only they are read, so test and
            external values cannot leak into what is fitted on validation.
    Returns:
        the copy, with a boolean ``constant map (<source>)`` column per instability column; other
        columns unchanged. A column without a finite validation value stays NaN.
    Raises:
        ValueError: ``frame`` has no ``reference_set`` row.
    """
    columns = list(columns)
    reference = frame["set"] == reference_set
    if not reference.any():
        raise ValueError(f"fill_constant_maps: no {reference_set!r} row to take the maxima from")
    out = frame.copy()
    for column in columns:
        out[constant_map_column(column)] = out[column].isna()
    out[columns] = out[columns].fillna(out.loc[reference, columns].max())
    return out


def constant_map_counts(frame: pd.DataFrame, columns: Sequence[str] = INSTABILITY_COLUMNS) -> pd.DataFrame:
    """Per set (rows of :func:`fill_constant_maps`' output): the images, and how many had a
    constant (blank) map under each source, the explanations whose instability is a fill, not a
    measurement."""
    flags = [constant_map_column(c) for c in columns]
    table = frame.groupby("set", sort=False)[flags].sum().astype(int)
    table.insert(0, "images", frame.groupby("set", sort=False).size())
    return table


def cell_error_rates(quadrants: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> dict[str, dict]:
    """Error rate of each confident/uncertain x stable/unstable cell on a labelled set.

    Args:
        quadrants: rows of chapter 07's ``trust_quadrants.parquet`` (one set) with boolean
            ``correct, confident, stable`` and ``patient_id``.
    Returns:
        cell label (:func:`trust_cell` without correctness) -> ``{"rate", "low", "high",
        "images", "errors"}``: the error rate with a patient-bootstrap 95% interval
        (``tmvlib.metrics.bootstrap.patient_bootstrap_mean``); cells without an image are absent.
    """
    out = {}
    for (confident, stable), part in quadrants.groupby(["confident", "stable"]):
        errors = (~part["correct"].astype(bool)).astype(float).to_numpy()
        ci = patient_bootstrap_mean(errors, part["patient_id"].to_numpy(), n_boot=n_boot, seed=seed)
        out[trust_cell(confident, stable)] = {"rate": ci.value, "low": ci.low, "high": ci.high,
                                             "images": len(part), "errors": int(errors.sum())}
    return out
