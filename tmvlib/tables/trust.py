"""Trust: do uncertainty and explanation instability flag the predictions that are wrong?

Inputs are per-image DataFrames with ``correct`` (bool: the prediction at the chosen threshold
is right), ``patient_id`` (for patient-bootstrap intervals, ``tmvlib.metrics.bootstrap``) and score
columns where higher means "less trustworthy" (predictive entropy, 1 - max probability,
``instability`` of ``tmvlib.explain.similarity.stability_summary``, ...). ``subgroup_table`` also
needs ``label`` (0/1) and ``prob`` (P(y=1)).

- Quadrants: each image is *confident* when its uncertainty is at most a threshold and its
  explanation *stable* when its instability is at most another; crossed with correct/incorrect
  that gives 2x2x2 cells. Confident errors are the *danger zone*: nothing warns the reader. The
  thresholds are inputs, chosen on validation data (a validation quantile with
  :func:`threshold_at_quantile`; chapter 07 uses the 75th percentile) and applied unchanged to test data, so the test cells are not
  tuned on the test set.
- Error detection: how well a score ranks wrong predictions above right ones, as the AUROC of
  the score for the error indicator (the misclassification-detection AUROC of Hendrycks &
  Gimpel 2017, "A Baseline for Detecting Misclassified and Out-of-Distribution Examples", ICLR).
- Combined score: a logistic regression on validation that predicts an error from several
  scores (e.g. uncertainty and instability), evaluated on test like any other score.
- Selective prediction: AURC of each score used to defer cases (Geifman & El-Yaniv 2017;
  ``tmvlib.metrics.selective``), computed on the ``correct`` column.
- Per set: chapter 06 stacks :func:`image_trust_scores` of its image sets
  (:func:`trust_scores_by_set`) and builds each table per set (:func:`per_set_table`). The
  trust-cell labels and the constant-map rule are in :mod:`tmvlib.tables.trust_cells`.
- Subgroups: discrimination and calibration per sex, age band, view; groups too small to
  estimate an AUROC are flagged, not reported (Seyyed-Kalantari et al. 2021, "Underdiagnosis
  bias of artificial intelligence algorithms applied to chest radiographs in under-served
  patient populations", Nature Medicine, report per-subgroup rates the same way).
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from ..contracts.scores import (DECISION_UNCERTAINTY, DISTANCE_TO_HALF, ENSEMBLE_VARIANCE,
                               MC_MUTUAL_INFORMATION, TTA_FLIP_RATE)
from ..metrics.bootstrap import Interval, patient_bootstrap, patient_bootstrap_mean
from ..metrics.calibration import bias_corrected, brier, smooth_ece, statistic_draws
from ..metrics.confidence import decision_uncertainty, distance_to_half, errors_at
from ..metrics.discrimination import auroc
from ..metrics.frames import require_columns
from ..metrics.paired import group_mean, paired_bootstrap
from ..metrics.selective import aurc, risk_coverage_curve
from ..metrics.subgroups import subgroup_auroc
from .trust_cells import (INSTABILITY_COLUMNS, STABILITY_SOURCES, confidence_word,
                          correctness_word, is_confident, trust_cell)

ScoreSpec = str | np.ndarray | pd.Series


def _errors(frame: pd.DataFrame) -> np.ndarray:
    """(N,) int error indicator ``1 - correct``; raises on a missing or non-boolean column."""
    require_columns(frame, ["correct"], "trust tables")
    correct = frame["correct"]
    if correct.isna().any() or not correct.isin([True, False]).all():
        raise ValueError("column 'correct' must be boolean without missing values")
    return (~correct.astype(bool)).to_numpy().astype(int)


def score_array(frame: pd.DataFrame, spec: ScoreSpec, name: str) -> np.ndarray:
    """A score column (by name) or (N,) array as finite float64."""
    values = frame[spec] if isinstance(spec, str) else spec
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (len(frame),):
        raise ValueError(f"score {name!r} must have shape ({len(frame)},), got {values.shape}")
    n_bad = int((~np.isfinite(values)).sum())
    if n_bad:
        raise ValueError(f"score {name!r} holds {n_bad} non-finite value(s) out of {len(values)}")
    return values


def _both_classes(errors: np.ndarray, what: str) -> None:
    n_errors = int(errors.sum())
    if n_errors in (0, len(errors)):
        raise ValueError(f"{what} needs both errors and correct predictions; got {n_errors} "
                         f"error(s) among {len(errors)} images")


def errors_and_patients(frame: pd.DataFrame, what: str) -> tuple[np.ndarray, np.ndarray]:
    """(error indicator (N,), patient ids (N,)) after checking both outcomes are present."""
    require_columns(frame, ["patient_id"], what)
    errors = _errors(frame)
    _both_classes(errors, what)
    return errors, frame["patient_id"].to_numpy()


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
    errors = _errors(frame)
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
        ``explanation, value, low, high, images, events, skipped, p_value, mdd`` (events: danger
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
    errors = _errors(frame)
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
           "images": len(stable), "events": int(indicator.sum()), "skipped": 0, "p_value": np.nan,
           "mdd": np.nan}
    if stable.any() and (~stable).any():
        d = paired_bootstrap(group_mean(indicator, ~stable), group_mean(indicator, stable), patients,
                             n_boot=n_boot, seed=seed)
        row.update(value=d.value, low=d.low, high=d.high, skipped=d.skipped, p_value=d.p_value,
                   mdd=d.minimum_detectable())
    rows.append(row)
    return pd.DataFrame(rows)



def error_detection_table(frame: pd.DataFrame, scores: Mapping[str, ScoreSpec],
                          n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """AUROC of each score for detecting wrong predictions, with patient-bootstrap intervals.

    Args:
        frame: per-image rows with ``correct`` and ``patient_id``.
        scores: name -> column name or (N,) array; higher = more likely wrong (negate a
            confidence). 0.5 is chance, 1 ranks every error above every correct prediction.

    Returns:
        DataFrame, one row per score: ``score, value, low, high, images, patients, errors,
        skipped`` (bootstrap draws without an error or without a correct prediction).
    Raises:
        ValueError: no error or no correct prediction, non-finite scores.
    """
    errors, patients = errors_and_patients(frame, "error detection")
    rows = []
    for name, spec in scores.items():
        interval = patient_bootstrap(auroc, errors, score_array(frame, spec, name), patients,
                                     n_boot=n_boot, seed=seed)
        rows.append({"score": name, "value": interval.value, "low": interval.low,
                     "high": interval.high, "images": len(frame),
                     "patients": int(pd.Series(patients).nunique()),
                     "errors": int(errors.sum()), "skipped": interval.skipped})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class CombinedScore:
    """A fitted error predictor: ``score(frame)`` is P(error) from ``features``.

    ``coefficients`` are per standardised feature (per validation standard deviation), so their
    sizes compare; ``n_images`` and ``n_errors`` describe the validation fit.
    """

    features: tuple[str, ...]
    model: Pipeline
    n_images: int
    n_errors: int

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """(N,) float64 predicted probability of an error for each row of ``frame``."""
        return self.model.predict_proba(_feature_matrix(frame, self.features))[:, 1]

    @property
    def coefficients(self) -> pd.Series:
        """Logistic-regression coefficients per standardised feature, plus ``intercept``."""
        lr = self.model[-1]
        return pd.Series([*lr.coef_[0], lr.intercept_[0]], index=[*self.features, "intercept"])


def _feature_matrix(frame: pd.DataFrame, features: Sequence[str]) -> np.ndarray:
    require_columns(frame, list(features), "the combined score")
    return np.column_stack([score_array(frame, f, f) for f in features])


def fit_combined_score(val_frame: pd.DataFrame, features: Sequence[str],
                       C: float = 1.0) -> CombinedScore:
    """Fit P(error | features) on validation data.

    A logistic regression (scikit-learn, lbfgs, ``random_state=0``) on features standardised
    with the validation mean and standard deviation. ``C = 1`` is scikit-learn's default L2
    strength, kept fixed rather than tuned: with a handful of features it barely shrinks, and it
    keeps the coefficients finite when validation errors are perfectly separable. Fit on
    validation, evaluate on test (``error_detection_table(test, {"combined": fit.score(test)})``).

    Raises:
        ValueError: validation has no error or only errors (named with the count), non-finite
            features or no feature.
    """
    if not features:
        raise ValueError("fit_combined_score needs at least one feature")
    errors = _errors(val_frame)
    _both_classes(errors, "fit_combined_score (validation)")
    model = make_pipeline(StandardScaler(),
                          LogisticRegression(C=C, random_state=0, max_iter=1000))
    model.fit(_feature_matrix(val_frame, features), errors)
    return CombinedScore(tuple(features), model, len(val_frame), int(errors.sum()))


def error_aurc(errors: np.ndarray, uncertainty: np.ndarray,
                sample_weight: np.ndarray | None = None) -> float:
    """AURC of deferring by ``uncertainty`` (N,) with the error indicator ``errors`` (N,) as the
    loss: ``selective.aurc`` with probabilities 0, so every prediction is "negative" and its
    error is exactly the label passed (the ``correct`` column decides)."""
    return aurc(errors, np.zeros(len(errors)), uncertainty, 0.5, sample_weight)


def selective_comparison(frame: pd.DataFrame, scores: Mapping[str, ScoreSpec],
                         n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """AURC of each score used to defer the least trustworthy images, with patient-bootstrap
    intervals (lower is better).

    Errors are ``~correct``; AURC as ``tmvlib.metrics.selective.aurc`` (ties averaged). Two
    reference levels are the same for every score: ``aurc_random`` (a ranking unrelated to the
    errors keeps the overall error rate at every coverage, so its expected AURC is the error
    rate) and ``aurc_oracle`` (every error deferred first).

    Returns:
        DataFrame, one row per score: ``score, value, low, high, images, errors, aurc_random,
        aurc_oracle, skipped`` (draws without an error or without a correct prediction, where
        the bootstrap helper cannot tell them from degenerate draws).
    Raises:
        ValueError: no error or no correct prediction, non-finite scores.
    """
    errors, patients = errors_and_patients(frame, "selective_comparison")
    oracle = error_aurc(errors, errors.astype(float))
    rows = []
    for name, spec in scores.items():
        interval = patient_bootstrap(error_aurc, errors, score_array(frame, spec, name), patients,
                                     n_boot=n_boot, seed=seed)
        rows.append({"score": name, "value": interval.value, "low": interval.low,
                     "high": interval.high, "images": len(frame), "errors": int(errors.sum()),
                     "aurc_random": float(errors.mean()), "aurc_oracle": oracle,
                     "skipped": interval.skipped})
    return pd.DataFrame(rows)


def risk_coverage_rows(frame: pd.DataFrame, scores: Mapping[str, ScoreSpec]) -> pd.DataFrame:
    """Risk-coverage curves of each score for charts: long DataFrame ``score, coverage, risk,
    n_kept`` (N rows per score, ``tmvlib.metrics.selective.risk_coverage_curve`` on ``~correct``)."""
    errors = _errors(frame)
    curves = [risk_coverage_curve(errors, np.zeros(len(errors)), score_array(frame, spec, name))
              .assign(score=name) for name, spec in scores.items()]
    return pd.concat(curves, ignore_index=True)[["score", "coverage", "risk", "n_kept"]]


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
                   min_negatives: int = 10, error_rate: bool = False) -> pd.DataFrame:
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

    The AUROC comes from ``tmvlib.metrics.subgroups.subgroup_auroc`` (same bootstrap); the
    calibration error ``ece`` is the smooth ECE (``tmvlib.metrics.calibration.smooth_ece``) as
    chapter 03 reports it: the bootstrap bias-corrected estimate with the basic interval
    (``tmvlib.metrics.calibration.interval.bias_corrected``), which contains the estimate. It is
    still biased upward in small groups: compare groups of similar size.

    Returns:
        long DataFrame, one row per grouping and value: ``grouping, group`` (as text),
        ``images, patients, positives, negatives, auroc, auroc_low, auroc_high, ece, ece_low,
        ece_high, brier, too_thin, reason`` (+ ``error_rate, error_low, error_high``).
    """
    require_columns(frame, ["label", "prob", "patient_id"], "subgroup_table")
    if error_rate:
        _errors(frame)
    rows = []
    for grouping, spec in group_cols.items():
        values = _group_values(frame, spec)
        grouped = frame.assign(_group=values)
        errors = _group_error_rates(frame, values, n_boot, seed) if error_rate else {}
        aurocs = subgroup_auroc(grouped, "_group", n_boot=n_boot, seed=seed,
                                min_per_class=min(min_positives, min_negatives))
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
                calibration = bias_corrected(*statistic_draws(
                    lambda rows, w, y=labels, p=probs: smooth_ece(y[rows], p[rows], w), patients, n_boot, seed))
                row.update(auroc=auc["AUROC"], auroc_low=auc["low"], auroc_high=auc["high"],
                           ece=calibration.value, ece_low=calibration.low,
                           ece_high=calibration.high, brier=brier(labels, probs))
            if error_rate:
                interval = errors[row["group"]]
                row.update(error_rate=interval.value, error_low=interval.low,
                           error_high=interval.high)
            rows.append(row)
    return pd.DataFrame(rows)


# The decision-aligned confidence first (``tmvlib.metrics.confidence``); 1 - max(p, 1-p), the
# distance to 0.5, only as a labelled secondary.
UNCERTAINTY_COLUMNS = (DECISION_UNCERTAINTY, DISTANCE_TO_HALF, MC_MUTUAL_INFORMATION, ENSEMBLE_VARIANCE)


def image_trust_scores(frame: pd.DataFrame, threshold: float, mc_probs: np.ndarray,
                       ensemble_probs: np.ndarray, summary: pd.DataFrame) -> pd.DataFrame:
    """Per-image trust scores of the stability chapter (its ``trust_scores.parquet``).

    Args:
        frame: one row per image with ``image_id`` and ``prob`` (the explained model's
            P(positive)); with ``label``, a ``correct`` column is added (prediction at
            ``threshold`` equals the label).
        mc_probs: (N, T) probabilities under T MC-dropout masks.
        ensemble_probs: (N, M-1) probabilities of the other ensemble members.
        summary: ``tmvlib.explain.similarity.stability_summary`` rows by ``image_id`` and ``source``.

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

    out = frame.copy()
    prob = out["prob"].to_numpy(dtype=float)
    if "label" in out.columns:
        out["correct"] = ~errors_at(out["label"].to_numpy(), prob, threshold)
    out[DECISION_UNCERTAINTY] = decision_uncertainty(prob, threshold)
    out[DISTANCE_TO_HALF] = distance_to_half(prob)
    out[MC_MUTUAL_INFORMATION] = uncertainty_scores(
        probability_logit(np.asarray(mc_probs)).T)["mutual_information"].to_numpy()
    members = np.concatenate([prob[:, None], np.asarray(ensemble_probs, dtype=float)], axis=1)
    out[ENSEMBLE_VARIANCE] = members.var(axis=1)
    for source in STABILITY_SOURCES:
        s = summary[summary["source"] == source].set_index("image_id")
        out[f"instability ({source})"] = out["image_id"].map(s["instability"]).to_numpy()
        out[f"flip rate ({source})"] = out["image_id"].map(s["flip_rate"]).to_numpy()
    return out


def trust_scores_by_set(frames: Mapping[str, pd.DataFrame], threshold: float,
                        probs: Mapping[str, Mapping[str, np.ndarray]],
                        summary: pd.DataFrame) -> pd.DataFrame:
    """:func:`image_trust_scores` of every set, stacked (chapter 06's ``trust_scores`` before
    the constant-map rule, ``tmvlib.tables.trust_cells.fill_constant_maps``).

    Args:
        frames: set name -> its images (``image_id, patient_id, label, prob``).
        probs: set name -> source -> (N, P) perturbed probabilities (``MC dropout`` and
            ``ensemble`` are read; ``tmvlib.explain.stability.StabilityBySet.probs``).
        summary: stability summary by ``image_id, set, source``.
    Returns:
        rows ``image_id, patient_id, label, prob, set`` plus the scores of
        :func:`image_trust_scores`, set after set (new index).
    """
    return pd.concat([image_trust_scores(frame[["image_id", "patient_id", "label", "prob"]].assign(set=name),
                                         threshold, probs[name]["MC dropout"], probs[name]["ensemble"],
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
