"""Chapter 07's trust quadrants: each image is *confident* when its uncertainty is at most a cut
and its explanation *stable* when its instability is at most another; crossed with correct or
wrong that gives 2x2x2 cells, and the confident errors are the *danger zone* (nothing warns the
reader). The cuts are validation quantiles (:func:`threshold_at_quantile`, chosen by
:func:`tmvlib.tables.fitted.validation_cuts`) applied unchanged to test data, so the test cells
are not tuned on the test set.

Per frame: :func:`assign_quadrants`, :func:`quadrant_table` (cell counts),
:func:`danger_rate_by_stability`; set by set: chapter 07's inputs (chapter 06's trust scores with
the image metadata) and the same tables per set. The cell labels are in
:mod:`tmvlib.tables.trust_cells`.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..metrics.bootstrap import patient_bootstrap_mean
from ..contracts.scores import TTA_FLIP_RATE
from ..metrics.frames import error_indicator, require_columns, score_array
from ..metrics.paired import group_mean, holm_family, paired_bootstrap
from .trust_cells import confidence_word, correctness_word, is_confident, trust_cell

@dataclass(frozen=True)
class QuadrantRules:
    """Chapter 07's rules that place an image in a trust quadrant: the validation quantiles above
    which an image is "uncertain" (``uncertainty_quantile``) and its explanation "unstable"
    (``instability_quantile``), and the flip-rate rule of "confident" (``max_flip_rate``; None:
    none). Chapter 09 and the card apply the same rules."""

    uncertainty_quantile: float = 0.75
    instability_quantile: float = 0.75
    max_flip_rate: float | None = 0.5

    @classmethod
    def from_params(cls, params: Mapping) -> QuadrantRules:
        """The rules of chapter 07's params (its notebook parameters, or what it recorded)."""
        flip = params["max_flip_rate"]
        return cls(float(params["uncertainty_quantile"]), float(params["instability_quantile"]),
                   None if flip is None else float(flip))


def threshold_at_quantile(values, q: float = 0.5) -> float:
    """The ``q`` quantile of ``values`` (N,) (NaN ignored; numpy's linear interpolation).

    Pick quadrant thresholds on *validation* scores and reuse them on test: ``q = 0.5`` splits
    validation into halves (the default of the chapter); ``q = 0.8`` calls the 20% least certain
    "uncertain". Raises ValueError for q outside [0, 1] or no finite value.
    """
    if not 0 <= q <= 1:
        raise ValueError(f"q must be in [0, 1], got {q}")
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise ValueError("threshold_at_quantile: no finite value")
    return float(np.quantile(finite, q))


def assign_quadrants(frame: pd.DataFrame, uncertainty_col: str, instability_col: str,
                     uncertainty_threshold: float, instability_threshold: float,
                     flip_col: str = TTA_FLIP_RATE, max_flip_rate: float | None = None) -> pd.DataFrame:
    """A copy of ``frame`` with the trust cells of every image.

    Added columns: ``confident`` (uncertainty <= its threshold and, with ``max_flip_rate``, a
    ``flip_col`` flip rate of at most ``max_flip_rate``: ``tmvlib.tables.trust_cells.
    is_confident``), ``stable`` (instability <= its
    threshold), ``quadrant`` ("correct · confident", "correct · uncertain", "incorrect ·
    confident", "incorrect · uncertain"), ``cell`` (the quadrant plus " · stable" / " ·
    unstable") and ``danger`` (incorrect and confident). Ties at a threshold count as
    confident / stable.

    Raises:
        KeyError: a column is missing. ValueError: ``correct`` not boolean, or NaN / infinite
            uncertainty or instability (drop or impute them first: an undefined instability,
            e.g. of a constant map, is a decision for the caller).
    """
    errors = error_indicator(frame)
    require_columns(frame, [uncertainty_col, instability_col], "assign_quadrants")
    uncertainty = score_array(frame, uncertainty_col, uncertainty_col)
    instability = score_array(frame, instability_col, instability_col)
    out = frame.copy()
    flips = frame[flip_col].to_numpy(dtype=float) if max_flip_rate is not None else np.full(len(frame), np.nan)
    out["confident"] = [is_confident(u, uncertainty_threshold, f, max_flip_rate) for u, f in zip(uncertainty, flips)]
    out["confident"] = out["confident"].astype(bool)
    out["stable"] = instability <= instability_threshold
    sides = list(zip(errors == 0, out["confident"], out["stable"]))
    out["quadrant"] = pd.Series([f"{correctness_word(c)} · {confidence_word(k)}" for c, k, _ in sides],
                                index=out.index)
    out["cell"] = pd.Series([trust_cell(k, s, c) for c, k, s in sides], index=out.index)
    out["danger"] = (errors == 1) & out["confident"].to_numpy()
    return out


def quadrant_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Counts per trust cell of a frame from :func:`assign_quadrants`: all 8 cells, empty ones
    with 0.

    Returns:
        DataFrame with columns ``correct, confident, stable, cell, images, share`` (of all
        images), ``share_of_stability`` (of the images with the same stable/unstable
        explanation) and ``danger`` (True for the two confident-error cells).
    """
    require_columns(frame, ["correct", "confident", "stable"], "quadrant_table")
    counts = frame.groupby(["correct", "confident", "stable"]).size()
    rows = []
    for correct in (True, False):
        for confident in (True, False):
            for stable in (True, False):
                rows.append({"correct": correct, "confident": confident, "stable": stable,
                             "images": int(counts.get((correct, confident, stable), 0))})
    table = pd.DataFrame(rows)
    table.insert(3, "cell", [trust_cell(r.confident, r.stable, r.correct) for r in table.itertuples()])
    total = table["images"].sum()
    table["share"] = table["images"] / total if total else np.nan
    per_stability = table.groupby("stable")["images"].transform("sum")
    table["share_of_stability"] = table["images"] / per_stability.where(per_stability > 0)
    table["danger"] = ~table["correct"] & table["confident"]
    return table


def danger_rate_by_stability(frame: pd.DataFrame, n_boot: int = 1000, seed: int = 0,
                             among: str = "all") -> pd.DataFrame:
    """Rate of confident errors among images with stable vs unstable explanations.

    ``among="all"``: the share of danger-zone images (incorrect and confident) among all stable
    and among all unstable ones. ``among="confident"``: the error rate among confident images
    only, stable vs unstable (can instability flag the errors that confidence misses?).

    Each rate is a patient-bootstrap mean of the 0/1 indicator (``patient_bootstrap_mean``);
    the difference (unstable - stable) resamples patients once per draw for both groups
    (``tmvlib.metrics.paired.paired_bootstrap``; draws lacking one group are skipped and
    counted), so a patient with images in both groups is handled jointly. An interval excluding
    0 is a difference the sample can see.

    Returns:
        DataFrame with rows ``stable``, ``unstable``, ``unstable - stable`` and columns
        ``explanation, value, low, high, images, events, skipped, se, p_value, mdd, p_method,
        p_mc_error`` (events: danger
        images, or errors for ``among="confident"``; ``p_value`` and ``mdd``, the minimum
        detectable difference at 80% power, on the difference row only). A group with no image
        gives NaN.
    Raises:
        KeyError / ValueError: missing columns (``correct, confident, stable, patient_id``) or
            an unknown ``among``.
    """
    require_columns(frame, ["confident", "stable", "patient_id"], "danger_rate_by_stability")
    if among not in ("all", "confident"):
        raise ValueError(f"among must be 'all' or 'confident', got {among!r}")
    errors = error_indicator(frame)
    confident = frame["confident"].to_numpy(dtype=bool)
    if among == "confident":
        keep = confident
        indicator = errors[keep].astype(float)
    else:
        keep = np.ones(len(frame), dtype=bool)
        indicator = (errors.astype(bool) & confident).astype(float)
    stable = frame["stable"].to_numpy(dtype=bool)[keep]
    patients = frame["patient_id"].to_numpy()[keep]
    rows = []
    for name, members in (("stable", stable), ("unstable", ~stable)):
        row = {"explanation": name, "value": np.nan, "low": np.nan, "high": np.nan,
               "images": int(members.sum()), "events": int(indicator[members].sum()),
               "skipped": 0}
        if members.any():
            interval = patient_bootstrap_mean(np.where(members, indicator, np.nan), patients,
                                              n_boot=n_boot, seed=seed)
            row.update(value=interval.value, low=interval.low, high=interval.high,
                       skipped=interval.skipped)
        rows.append(row)
    row = {"explanation": "unstable - stable", "value": np.nan, "low": np.nan, "high": np.nan,
           "images": len(stable), "events": int(indicator.sum()), "skipped": 0, "se": np.nan,
           "p_value": np.nan, "mdd": np.nan, "p_method": None, "p_mc_error": np.nan}
    if stable.any() and (~stable).any():
        d = paired_bootstrap(group_mean(indicator, ~stable), group_mean(indicator, stable), patients,
                             n_boot=n_boot, seed=seed)
        row.update(value=d.value, low=d.low, high=d.high, skipped=d.skipped, se=d.se, p_value=d.p_value,
                   mdd=d.minimum_detectable(), p_method=d.p_method, p_mc_error=d.p_mc_error)
    rows.append(row)
    return pd.DataFrame(rows)


METADATA_COLUMNS = ("view", "sex", "age", "quality", "source", "box_findings", "path")
QUADRANT_SETS = ("test", "external")
AMONG = {"all": "danger share, all images", "confident": "error rate, confident images"}


def read_trust_scores(path: str | Path, columns: Sequence[str]) -> pd.DataFrame:
    """Chapter 06's ``trust_scores.parquet``, checked to hold ``columns`` (the chosen uncertainty
    and instability scores).

    Raises:
        FileNotFoundError: the file is missing (run chapter 06 first).
        KeyError: a column is missing (the message lists the score columns there are).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; run chapter 06 first (make chapter CH=06)")
    scores = pd.read_parquet(path)
    for column in columns:
        if column not in scores.columns:
            raise KeyError(f"{column!r} is not a column of {path.name}; choose one of {list(scores.columns)[6:]}")
    return scores


def image_metadata(predictions: pd.DataFrame) -> pd.DataFrame:
    """Per image id (index), the metadata columns ``view, sex, age, quality, source,
    box_findings, path`` of chapter 02's predictions (first row of each image)."""
    require_columns(predictions, ["image_id", *METADATA_COLUMNS], "image_metadata")
    return predictions.drop_duplicates("image_id").set_index("image_id")[list(METADATA_COLUMNS)]


def _error_count(correct: pd.Series) -> int:
    return int((~correct).sum())


def set_counts(scores: pd.DataFrame) -> pd.DataFrame:
    """Per ``set`` (in order of appearance): ``images``, ``patients`` (distinct) and ``errors``
    (rows with ``correct`` False)."""
    require_columns(scores, ["set", "image_id", "patient_id", "correct"], "set_counts")
    return scores.groupby("set", sort=False).agg(images=("image_id", "size"), patients=("patient_id", "nunique"),
                                                 errors=("correct", _error_count))


def quadrants_by_set(scores: pd.DataFrame, uncertainty_score: str, instability_score: str,
                     uncertainty_threshold: float, instability_threshold: float,
                     sets: Sequence[str] = QUADRANT_SETS, max_flip_rate: float | None = None
                     ) -> dict[str, pd.DataFrame]:
    """set -> :func:`assign_quadrants` of its rows of ``scores`` (fresh
    0..N-1 index), for each of ``sets``, under the same cuts (and the same ``max_flip_rate`` on
    the TTA flip rate)."""
    return {name: assign_quadrants(scores[scores["set"] == name].reset_index(drop=True), uncertainty_score,
                                   instability_score, uncertainty_threshold, instability_threshold,
                                   max_flip_rate=max_flip_rate)
            for name in sets}


def quadrant_tables(quadrants: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """:func:`quadrant_table` of each set with a ``set`` column, stacked."""
    return pd.concat([quadrant_table(q).assign(set=name) for name, q in quadrants.items()], ignore_index=True)


def danger_rates(quadrants: Mapping[str, pd.DataFrame], n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """:func:`danger_rate_by_stability` of each set, among all images and
    among confident ones, stacked with ``set`` and ``among`` (the reading, :data:`AMONG`:
    "danger share, all images" / "error rate, confident images").

    The ``unstable - stable`` rows of all sets and readings form chapter 07's declared family:
    their Holm-adjusted p-values are in ``p_holm``, and their ``mdd`` is at alpha / m
    (``metrics.paired.holm_family``; NaN / unchanged on the other rows)."""
    rates = pd.concat([danger_rate_by_stability(q, n_boot=n_boot, seed=seed, among=among).assign(set=name, among=among)
                       for name, q in quadrants.items() for among in AMONG], ignore_index=True)
    rates["among"] = rates["among"].map(AMONG)
    family = rates["explanation"] == "unstable - stable"
    return holm_family(rates, family=family)


def quadrant_rows(quadrants: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Every set's quadrant rows stacked (new index), without the image ``path``: chapter 07's
    ``trust_quadrants.parquet``."""
    stacked = pd.concat(quadrants.values(), ignore_index=True)
    return stacked[[c for c in stacked.columns if c != "path"]]
