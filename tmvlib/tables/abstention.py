"""Chapter 07's deferral rules with a guarantee: fit them, apply them, check the guarantee.

Per-image frames are chapter 06's ``trust_scores`` rows: ``patient_id``, ``label`` (0/1),
``correct`` (the prediction at the decision threshold is right: *the* definition of an error in
this report) and score columns, higher = less trustworthy. The predicted label is read back from
``label`` and ``correct``, so an error here is exactly an error everywhere else.

A deferral score is given as a **recipe**: a function of the calibration rows returning the score
function. A fixed column (:func:`column_score`) ignores the rows; the combined score
(:func:`combined_score`) refits its logistic regression on them, so that a re-split of the data
(:func:`resplit_draws`) repeats the whole pipeline, weights and threshold both fitted on the
calibration half, exactly as chapters 06-07 fit them on validation.

- :func:`fit_deferral_rules`: both rule kinds of :mod:`tmvlib.uncertainty.abstention` for every
  score, calibrated on the rows given (chapter 07 passes validation; ``tables.fitted`` wraps it).
- :func:`deferral_outcomes`: coverage and the error among answered cases (all, per predicted
  class) and the coverage per true class, with patient-bootstrap intervals.
- :func:`coverage_difference`: the paired patient-bootstrap difference in coverage (and in error
  among answered cases) between two rules at the same target.
- :func:`resplit_draws` / :func:`violation_summary`: the guarantee checked empirically: pool
  calibration and evaluation images, split them by patient at random many times, calibrate on one
  half, count the draws whose realised error on the other half exceeds the target.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from ..metrics.bootstrap import patient_bootstrap_mean
from ..metrics.discrimination import choose_threshold
from ..metrics.frames import require_columns
from ..metrics.paired import group_mean, paired_bootstrap
from ..uncertainty.abstention import RULES, DeferralRule, calibrate_deferral, one_image_per_patient, threshold_text
from .endpoints import COMBINED
from ..contracts.scores import DECISION_UNCERTAINTY
from ..uncertainty.combined_score import fit_combined_score
from .trust import at_threshold

ScoreFunction = Callable[[pd.DataFrame], np.ndarray]
ScoreRecipe = Callable[[pd.DataFrame], ScoreFunction]

OUTCOMES = ("coverage", "error among answered", "error among answered positive calls",
            "error among answered negative calls", "coverage of positives", "coverage of negatives")


def column_score(column: str) -> ScoreRecipe:
    """A recipe for a score that is a fixed column (fitted before, or not at all)."""
    def recipe(calibration: pd.DataFrame) -> ScoreFunction:
        return lambda frame: frame[column].to_numpy(dtype=np.float64)
    return recipe


def combined_score(features: tuple[str, ...]) -> ScoreRecipe:
    """A recipe for the combined score: ``uncertainty.combined_score.fit_combined_score`` on the calibration
    rows (P(error) from ``features``), applied to any frame."""
    def recipe(calibration: pd.DataFrame) -> ScoreFunction:
        return fit_combined_score(calibration, features).score
    return recipe


def predicted_labels(frame: pd.DataFrame) -> np.ndarray:
    """(N,) 0/1 predicted labels: ``label`` where ``correct``, the other label where not."""
    require_columns(frame, ["label", "correct"], "deferral rules")
    labels = frame["label"].to_numpy()
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("deferral rules: column 'label' must be 0/1")
    correct = frame["correct"].to_numpy(dtype=bool)
    return np.where(correct, labels, 1 - labels).astype(int)


def confidence_rows(predictions: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Chapter 02's predictions (``image_id, patient_id, label, prob``) as deferral rows: ``correct``
    at ``threshold`` and the decision uncertainty, for a set too large for chapter 06's trust
    scores (the whole external set); only a rule on the decision uncertainty applies."""
    require_columns(predictions, ["image_id", "patient_id", "label", "prob"], "confidence_rows")
    rows = predictions[["image_id", "patient_id", "label", "prob"]].reset_index(drop=True)
    rows = at_threshold(rows.astype({"label": int, "prob": np.float64}), threshold)
    return rows[["image_id", "patient_id", "label", "correct", DECISION_UNCERTAINTY]]


def _errors(frame: pd.DataFrame) -> np.ndarray:
    """(N,) float 1.0 where the prediction is wrong (``~correct``), else 0.0."""
    return (~frame["correct"].to_numpy(dtype=bool)).astype(float)


@dataclass(frozen=True)
class FittedDeferral:
    """A calibrated rule with the score function it was calibrated on."""

    rule: DeferralRule
    score: ScoreFunction

    def answers(self, frame: pd.DataFrame) -> np.ndarray:
        """(N,) bool: the rows of ``frame`` the rule answers."""
        return self.rule.answers(self.score(frame), predicted_labels(frame))


def fit_deferral_rules(calibration: pd.DataFrame, recipes: Mapping[str, ScoreRecipe], max_error: float,
                       delta: float, grid: np.ndarray | None = None,
                       fwer: str = "bonferroni_holm",
                       target_chosen: str = "declared") -> dict[tuple[str, str], FittedDeferral]:
    """Both rule kinds (``"marginal"``, ``"class-conditional"``) for every score recipe,
    calibrated on the rows of ``calibration`` (``uncertainty.abstention.calibrate_deferral``), one
    image per patient (the score recipe is fitted on every row). ``target_chosen``: how
    ``max_error`` was chosen (``uncertainty.abstention.TARGET_CHOICES``), recorded in each rule.

    Returns:
        ``{(score name, kind): FittedDeferral}``.
    """
    require_columns(calibration, ["patient_id"], "deferral rules")
    predicted = predicted_labels(calibration)
    labels = calibration["label"].to_numpy().astype(int)
    patients = calibration["patient_id"].to_numpy()
    fitted = {}
    for name, recipe in recipes.items():
        score = recipe(calibration)
        values = score(calibration)
        for kind in RULES:
            rule = calibrate_deferral(values, predicted, labels, max_error, delta, kind=kind, grid=grid,
                                      fwer=fwer, score=name, patients=patients,
                                      target_chosen=target_chosen)
            fitted[(name, kind)] = FittedDeferral(rule, score)
    return fitted


def _outcome_values(frame: pd.DataFrame, answered: np.ndarray) -> dict[str, np.ndarray]:
    """Per-image values whose mean is each outcome (NaN: the image does not count)."""
    predicted, labels = predicted_labels(frame), frame["label"].to_numpy()
    error = _errors(frame)
    answered_f = answered.astype(float)
    return {
        "coverage": answered_f,
        "error among answered": np.where(answered, error, np.nan),
        "error among answered positive calls": np.where(answered & (predicted == 1), error, np.nan),
        "error among answered negative calls": np.where(answered & (predicted == 0), error, np.nan),
        "coverage of positives": np.where(labels == 1, answered_f, np.nan),
        "coverage of negatives": np.where(labels == 0, answered_f, np.nan),
    }


def deferral_outcomes(frame: pd.DataFrame, answered: np.ndarray, n_boot: int = 1000,
                      seed: int = 0) -> pd.DataFrame:
    """What a rule does on ``frame``: every quantity of :data:`OUTCOMES` with a patient-bootstrap
    95% interval.

    Args:
        frame: rows with ``patient_id``, ``label``, ``correct``. answered: (N,) bool.
    Returns:
        rows ``quantity, value, low, high, n`` (images the quantity is a share of),
        ``events`` (answered images for a coverage, errors for an error); NaN value and interval
        where ``n`` is 0 (e.g. nothing answered).
    """
    require_columns(frame, ["patient_id"], "deferral_outcomes")
    answered = np.asarray(answered, dtype=bool)
    if len(answered) != len(frame):
        raise ValueError(f"{len(answered)} answered flags for {len(frame)} rows")
    patients = frame["patient_id"].to_numpy()
    rows = []
    for quantity, values in _outcome_values(frame, answered).items():
        defined = ~np.isnan(values)
        n, events = int(defined.sum()), int(np.nansum(values))
        if n:
            iv = patient_bootstrap_mean(values, patients, n_boot=n_boot, seed=seed)
            value, low, high = iv.value, iv.low, iv.high
        else:
            value = low = high = float("nan")
        rows.append({"quantity": quantity, "value": value, "low": low, "high": high, "n": n, "events": events})
    return pd.DataFrame(rows)


def outcome_table(fitted: Mapping[tuple[str, str], FittedDeferral], frames: Mapping[str, pd.DataFrame],
                  n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """:func:`deferral_outcomes` of every rule on every frame (``{set name: rows}``), with the
    rule's target: columns ``score, rule, set, quantity, value, low, high, n, events,
    max_error, delta``."""
    tables = []
    for (score, kind), f in fitted.items():
        for name, frame in frames.items():
            t = deferral_outcomes(frame, f.answers(frame), n_boot=n_boot, seed=seed)
            tables.append(t.assign(score=score, rule=kind, set=name, max_error=f.rule.max_error,
                                   delta=f.rule.delta))
    columns = ["score", "rule", "set", "quantity", "value", "low", "high", "n", "events", "max_error", "delta"]
    return pd.concat(tables, ignore_index=True)[columns]


def coverage_difference(frame: pd.DataFrame, a: FittedDeferral, b: FittedDeferral, n_boot: int = 1000,
                        seed: int = 0) -> pd.DataFrame:
    """Paired patient-bootstrap differences ``a - b`` on the same images: coverage, and the error
    among answered cases (undefined draws, where a rule answers nothing, are skipped).

    Returns:
        rows ``quantity`` (``coverage`` | ``error among answered``), ``value, low, high, a_value,
        b_value, se, p_value, mdd`` (``metrics.paired.PairedDifference.row``); a quantity the
        full data leaves undefined gets NaN.
    """
    answered_a, answered_b = a.answers(frame), b.answers(frame)
    errors = _errors(frame)
    everyone = np.ones(len(frame), bool)
    statistics = {"coverage": (group_mean(answered_a.astype(float), everyone),
                               group_mean(answered_b.astype(float), everyone)),
                  "error among answered": (group_mean(errors, answered_a), group_mean(errors, answered_b))}
    rows = []
    for quantity, (stat_a, stat_b) in statistics.items():
        try:
            d = paired_bootstrap(stat_a, stat_b, frame["patient_id"].to_numpy(), n_boot=n_boot, seed=seed)
            rows.append(d.row(quantity=quantity))
        except ValueError:  # a rule answers nothing: the error among its answers is undefined
            rows.append({"quantity": quantity, **dict.fromkeys(("value", "low", "high", "a_value", "b_value",
                                                                "se", "p_value", "mdd"), float("nan"))})
    return pd.DataFrame(rows)


def realised_errors(frame: pd.DataFrame, answered: np.ndarray) -> dict[str, float]:
    """Coverage and realised error among answered cases (all, positive calls, negative calls;
    NaN where none is answered) without intervals: one re-split draw."""
    values = _outcome_values(frame, answered)
    out = {}
    for quantity in OUTCOMES[:4]:
        v = values[quantity]
        out[quantity] = float(np.nanmean(v)) if (~np.isnan(v)).any() else float("nan")
    out["answered"] = int(answered.sum())
    return out


def is_violation(kind: str, errors: Mapping[str, float], max_error: float) -> bool:
    """Does one draw's realised error exceed the target? ``marginal``: the error among answered
    cases; ``class-conditional``: that of either predicted class. Nothing answered: no error."""
    keys = (("error among answered",) if kind == "marginal" else
            ("error among answered positive calls", "error among answered negative calls"))
    return any(np.isfinite(errors[k]) and errors[k] > max_error for k in keys)


def patient_halves(patients: np.ndarray, rng: np.random.Generator,
                   share: float = 0.5) -> np.ndarray:
    """(N,) bool: the images whose patient falls in a random ``share`` of the patients (the
    calibration half of a re-split); every image of a patient lands on the same side."""
    codes, uniques = pd.factorize(np.asarray(patients))
    chosen = rng.permutation(len(uniques))[: int(round(share * len(uniques)))]
    member = np.zeros(len(uniques), bool)
    member[chosen] = True
    return member[codes]


def resplit_draws(pooled: pd.DataFrame, recipes: Mapping[str, ScoreRecipe], max_error: float, delta: float,
                  n_splits: int = 1000, seed: int = 0, grid: np.ndarray | None = None,
                  fwer: str = "bonferroni_holm", share: float = 0.5,
                  threshold_rule: str | None = None) -> pd.DataFrame:
    """Calibrate every rule on a random patient half of ``pooled`` and evaluate it on the other
    half, ``n_splits`` times, refitting everything the rule depends on in each draw: the decision
    threshold (``threshold_rule``, chapter 02's rule, on the calibration half; ``correct`` and the
    decision uncertainty of both halves recomputed at it, ``tables.trust.at_threshold``), the
    score (a recipe refits its weights), then the rule. The spread over draws is split-to-split
    noise within this pool of patients, not what another hospital would see.

    Args:
        pooled: rows with ``patient_id``, ``label``, ``correct`` and the score columns (and
            ``prob`` when ``threshold_rule`` is given).
        threshold_rule: ``metrics.discrimination.choose_threshold``'s rule; None keeps the
            ``correct`` and scores of ``pooled`` as they are (a threshold fixed beforehand).
    Returns:
        one row per draw, score and rule: ``draw, decision_threshold`` (NaN when not refitted),
        ``score, rule, threshold`` (the rule's, as text),
        ``certified`` (some group has a threshold), ``coverage, answered, error among answered,
        error among answered positive calls, error among answered negative calls``, ``violated``
        (:func:`is_violation`), ``calibration_images, evaluation_images``.
    """
    require_columns(pooled, ["patient_id", "label", "correct"] + (["prob"] if threshold_rule else []),
                    "resplit_draws")
    rng = np.random.default_rng(seed)
    patients = pooled["patient_id"].to_numpy()
    rows = []
    for draw in range(n_splits):
        member = patient_halves(patients, rng, share)
        calibration, evaluation = pooled[member], pooled[~member]
        t = float("nan")
        if threshold_rule is not None:
            t = choose_threshold(calibration["label"].to_numpy(), calibration["prob"].to_numpy(), threshold_rule)
            calibration, evaluation = at_threshold(calibration, t), at_threshold(evaluation, t)
        try:
            fitted = fit_deferral_rules(calibration, recipes, max_error, delta, grid, fwer)
        except ValueError as error:  # e.g. a calibration half without an error: the score cannot be fitted
            raise ValueError(f"re-split draw {draw}: {error}") from error
        for (score, kind), f in fitted.items():
            answered = f.answers(evaluation)
            errors = realised_errors(evaluation, answered)
            rows.append({"draw": draw, "decision_threshold": t, "score": score, "rule": kind,
                         "threshold": threshold_text(f.rule),
                         "certified": f.rule.certified, **errors,
                         "violated": is_violation(kind, errors, max_error),
                         "calibration_images": len(calibration), "evaluation_images": len(evaluation)})
    return pd.DataFrame(rows)


def violation_summary(draws: pd.DataFrame, delta: float, level: float = 0.95) -> pd.DataFrame:
    """Per score and rule: how often the realised error of the re-splits exceeded the target.

    Returns:
        rows ``score, rule, draws, violations, rate, low, high`` (Clopper-Pearson interval of
        the violation rate at ``level``), ``within_delta`` (``rate <= delta``), ``certified``
        (share of draws with a threshold), ``coverage`` (mean), ``coverage_low, coverage_high``
        (2.5% and 97.5% of the draws), ``error`` (mean error among answered where defined).
    """
    rows = []
    for (score, kind), d in draws.groupby(["score", "rule"], sort=False):
        k, n = int(d["violated"].sum()), len(d)
        low, high = proportion_confint(k, n, alpha=1 - level, method="beta")
        rows.append({"score": score, "rule": kind, "draws": n, "violations": k, "rate": k / n,
                     "low": float(low), "high": float(high), "within_delta": k / n <= delta,
                     "certified": float(d["certified"].mean()), "coverage": float(d["coverage"].mean()),
                     "coverage_low": float(d["coverage"].quantile(0.025)),
                     "coverage_high": float(d["coverage"].quantile(0.975)),
                     "error": float(d["error among answered"].mean())})
    return pd.DataFrame(rows)


def deferral_recipes(combined_features: tuple[str, ...], columns: tuple[str, ...] = (DECISION_UNCERTAINTY,),
                     combined: str = COMBINED) -> dict[str, ScoreRecipe]:
    """The deferral scores chapter 07 compares: each of ``columns`` as it is (``combined`` among
    them is ignored), and the combined score refitted from ``combined_features`` on the
    calibration rows (named ``combined``)."""
    return {**{c: column_score(c) for c in dict.fromkeys(columns) if c != combined},
            combined: combined_score(combined_features)}


def resplit_coverage_difference(draws: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """Per rule kind, the per-draw difference in coverage between scores ``a`` and ``b`` (same
    draw, same calibration half): its mean and the 2.5% and 97.5% quantiles over the draws
    (the spread over calibration draws, not an interval of the mean).

    Returns:
        rows ``rule, mean, low, high, draws, a_higher`` (share of draws where ``a`` covers more).
    """
    wide = draws.pivot_table(index=["draw", "rule"], columns="score", values="coverage").reset_index()
    rows = []
    for kind, d in wide.groupby("rule", sort=False):
        diff = d[a] - d[b]
        rows.append({"rule": kind, "mean": float(diff.mean()), "low": float(diff.quantile(0.025)),
                     "high": float(diff.quantile(0.975)), "draws": len(diff), "a_higher": float((diff > 0).mean())})
    return pd.DataFrame(rows)


def targets_table(calibration: pd.DataFrame, evaluation: pd.DataFrame, recipes: Mapping[str, ScoreRecipe],
                  targets: tuple[float, ...], delta: float, grid: np.ndarray | None = None,
                  fwer: str = "bonferroni_holm") -> pd.DataFrame:
    """What each target would cost: for every target error rate, score and rule, the certified
    thresholds, the share of ``calibration`` answered, and on ``evaluation`` the coverage and the
    realised error among answered cases (no intervals: a price list, not a verdict; each target
    is its own guarantee, and choosing among them afterwards is not covered by any).

    Returns:
        rows ``max_error, score, rule, threshold, certified, calibration_coverage, coverage,
        answered, error among answered``.
    """
    rows = []
    for target in targets:
        fitted = fit_deferral_rules(calibration, recipes, target, delta, grid, fwer)
        for (score, kind), f in fitted.items():
            realised = realised_errors(evaluation, f.answers(evaluation))
            rows.append({"max_error": target, "score": score, "rule": kind, "threshold": threshold_text(f.rule),
                         "certified": f.rule.certified,
                         "calibration_coverage": float(f.answers(calibration).mean()),
                         "coverage": realised["coverage"], "answered": realised["answered"],
                         "error among answered": realised["error among answered"]})
    return pd.DataFrame(rows)


def ood_rescue(frame: pd.DataFrame, answered: np.ndarray, flagged: np.ndarray, n_boot: int = 1000,
               seed: int = 0) -> pd.DataFrame:
    """The deferral rule alone vs the rule behind the out-of-distribution check (a flagged image
    is deferred whatever the rule says, as on the card), on the same images.

    Args:
        frame: rows with ``patient_id``, ``label``, ``correct``. answered: (N,) bool, the rule's
            answers. flagged: (N,) bool, the check's flags.
    Returns:
        rows ``stage`` (``"rule alone"`` | ``"after the check"``), ``quantity`` (``coverage`` |
        ``error among answered``), ``value, low, high, n, events`` (``deferral_outcomes``), and
        ``wrong_answered`` (answered images that are wrong).
    """
    answered, flagged = np.asarray(answered, bool), np.asarray(flagged, bool)
    errors = _errors(frame).astype(bool)
    tables = []
    for stage, kept in (("rule alone", answered), ("after the check", answered & ~flagged)):
        t = deferral_outcomes(frame, kept, n_boot=n_boot, seed=seed)
        t = t[t["quantity"].isin(["coverage", "error among answered"])]
        tables.append(t.assign(stage=stage, wrong_answered=int((kept & errors).sum())))
    return pd.concat(tables, ignore_index=True)[["stage", "quantity", "value", "low", "high", "n", "events",
                                                 "wrong_answered"]]


def patients_to_certify(calibration: pd.DataFrame, score: ScoreFunction, max_error: float, delta: float,
                        kind: str = "marginal", grid: np.ndarray | None = None, fwer: str = "bonferroni_holm",
                        multiples: tuple[float, ...] = (1, 2, 4, 8, 16, 32), n_sim: int = 200, seed: int = 0,
                        share: float = 0.8) -> pd.DataFrame:
    """How many calibration patients the rule would need to certify ``max_error``, given the
    calibration images' error profile: for each multiple of the number of calibration patients,
    ``n_sim`` calibration sets of that many patients drawn with replacement from these
    (one image per patient, as the rule calibrates), each calibrated with the same score, target,
    confidence and grid (:func:`tmvlib.uncertainty.abstention.calibrate_deferral`).

    A simulation under the assumption that new patients err as these do (their scores and errors
    resampled): a planning figure, not a guarantee.

    Args:
        calibration: rows with ``patient_id, label, correct``. score: the rule's score function
            (``FittedDeferral.score``; fixed, not refitted).
        multiples: calibration-set sizes tried, as multiples of the patients in ``calibration``.
        share: the share of simulated sets that must certify a threshold.
    Returns:
        rows ``patients, multiple, certified`` (share of simulated sets that certified a
        threshold), ``coverage`` (mean share of the simulated set answered), ``enough``
        (``certified >= share``).
    """
    require_columns(calibration, ["patient_id", "label", "correct"], "patients_to_certify")
    keep = one_image_per_patient(calibration["patient_id"].to_numpy(), seed)
    values = np.asarray(score(calibration), dtype=np.float64)[keep]
    predicted, labels = predicted_labels(calibration)[keep], calibration["label"].to_numpy().astype(int)[keep]
    rng = np.random.default_rng(seed)
    rows = []
    for multiple in multiples:
        n = int(round(multiple * len(values)))
        certified, coverage = 0, []
        for _ in range(n_sim):
            pick = rng.integers(0, len(values), n)
            rule = calibrate_deferral(values[pick], predicted[pick], labels[pick], max_error, delta, kind=kind,
                                      grid=grid, fwer=fwer)
            certified += rule.certified
            coverage.append(rule.answers(values[pick], predicted[pick]).mean())
        rows.append({"patients": n, "multiple": float(multiple), "certified": certified / n_sim,
                     "coverage": float(np.mean(coverage)), "enough": certified / n_sim >= share})
    return pd.DataFrame(rows)


def nearest_certified(targets: pd.DataFrame, score: str, kind: str) -> pd.Series | None:
    """The smallest target of the price list (:func:`targets_table` rows) whose rule on ``score``
    and ``kind`` certified a threshold, or None: what a reader could have instead."""
    rows = targets[(targets["score"] == score) & (targets["rule"] == kind)
                   & targets["certified"].astype(bool)].sort_values("max_error")
    return None if rows.empty else rows.iloc[0]
