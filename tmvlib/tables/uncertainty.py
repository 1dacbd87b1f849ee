"""Tables that compare uncertainty methods and calibrations: calibration, selective prediction,
shift detection, prior shift.

Input everywhere: the long table of :func:`tmvlib.uncertainty.predictions.method_predictions`,
one row per image, set, method and calibration, with columns ``method`` (e.g. ``"ensemble +
Platt"``), ``base_method``, ``calibration``, ``set`` (``test`` | ``external``), ``label``,
``prob``, ``patient_id``, ``threshold`` (the decision threshold on the row's scale), ``error``
and the uncertainty scores. Within a set every method lists the same images in the same order,
so any two of them can be compared on the same bootstrap draws (paired).

Intervals: calibration *errors* (smooth ECE, binned ECE) are biased upward, and more so in a
resample, so they get the bias-corrected estimate and basic bootstrap interval of
:mod:`tmvlib.metrics.calibration.interval` (which contains the estimate; the plain estimate is kept
in ``estimate``); the proper scores NLL and Brier and the AUROC, whose resampling bias is
negligible, get percentile intervals (:func:`tmvlib.metrics.bootstrap.patient_bootstrap`, and
:func:`tmvlib.metrics.paired.paired_bootstrap` for paired differences). All paired differences
of one set use the same patient resamples (same patients, ``n_boot`` and ``seed``).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial

import numpy as np
import pandas as pd

from ..metrics.bootstrap import patient_bootstrap
from ..contracts.scores import DECISION_UNCERTAINTY, DISTANCE_TO_HALF
from ..metrics.calibration import (bias_corrected_difference, brier, calibration_interval, consistency_draws,
                                   ece, nll, smooth_ece, smooth_reliability, statistic_draws)
from ..metrics.confidence import distance_to_half, errors_at
from ..metrics.discrimination import auroc
from ..metrics.frames import require_columns
from ..metrics.paired import holm_family, paired_bootstrap
from ..metrics.selective import augrc, aurc, oracle_augrc, risk_coverage_curve, selective_metrics
from ..uncertainty.prior_shift import prevalence_weights, prior_shift

# Scores where a higher value means less certain. DECISION_UNCERTAINTY is the project's
# confidence score, exp(-|logit(p) - logit(t)|) at the row's decision threshold t; the distance
# to 0.5 (DISTANCE_TO_HALF) is a labelled secondary. For one binary output the predictive entropy
# ranks images as the distance to 0.5 does, so it is left out of the ranking tables.
UNCERTAINTY_SCORES = {DECISION_UNCERTAINTY: "decision_uncertainty", DISTANCE_TO_HALF: "prob",
                      "mutual information": "mutual_information", "variance": "variance"}
HEADLINE = "smooth ECE"
PROPER_SCORES = ("NLL", "Brier")
# The proper score that decides "calibrator vs none" (and the other calibration comparisons of
# the chapter's family); the calibration errors, with their intervals, are descriptive.
DECISION_SCORE = "NLL"


def score_values(frame: pd.DataFrame, score: str) -> np.ndarray:
    """(N,) uncertainty values (higher = less certain) for a name of :data:`UNCERTAINTY_SCORES`."""
    column = UNCERTAINTY_SCORES[score]
    values = frame[column].to_numpy()
    return distance_to_half(values) if score == DISTANCE_TO_HALF else values


def binned_ece_name(bins: int) -> str:
    """The binned ECE's row name, e.g. ``"ECE (10 equal-mass bins)"``."""
    return f"ECE ({bins} equal-mass bins)"


def calibration_errors(bins: int) -> dict[str, Callable]:
    """The calibration errors of the chapter: smooth ECE (headline) and the positive-class ECE
    with ``bins`` equal-mass bins (secondary), as ``metric(labels, probs, sample_weight)``."""
    return {HEADLINE: smooth_ece, binned_ece_name(bins): partial(ece, n_bins=bins, binning="equal_mass")}


def _statistic(metric: Callable, labels: np.ndarray, probs: np.ndarray,
               weight: np.ndarray | None = None) -> Callable[[np.ndarray, np.ndarray], float]:
    """``(rows, multiplicity) -> metric`` on those rows, times fixed importance ``weight``."""
    base = np.ones(len(labels)) if weight is None else weight
    return lambda rows, w: metric(labels[rows], probs[rows], sample_weight=w * base[rows])


def _groups(frame: pd.DataFrame):
    require_columns(frame, ["set", "method", "label", "prob", "patient_id"], "calibration tables")
    return frame.groupby(["set", "method"], sort=False)


def _labels(group: pd.DataFrame) -> dict:
    first = group.iloc[0]
    return {"set": first["set"], "method": first["method"],
            "base_method": first.get("base_method", first["method"]),
            "calibration": first.get("calibration", "none")}


def calibrator_table(calibrators: Mapping[str, Mapping], threshold: float,
                     temperature_p: Mapping[str, float]) -> pd.DataFrame:
    """The fitted calibration maps, one row per method: ``T`` and the likelihood-ratio p-value of
    ``T = 1`` (``temperature_p``), Platt's ``a, b``, the isotonic step count, and the decision
    threshold on each calibrated scale (``threshold`` mapped by each map).

    Args:
        calibrators: method -> calibration name -> fitted map
            (:func:`tmvlib.uncertainty.predictions.fit_method_calibrators`).
        threshold: the run's decision threshold on the raw scale.
        temperature_p: method -> p-value (:func:`tmvlib.uncertainty.calibrators.temperature_test`).
    """
    rows = []
    for method, maps in calibrators.items():
        row = {"method": method, "T": maps["temperature"].params["T"], "p (T = 1)": temperature_p[method],
               "Platt a": maps["Platt"].params["a"], "Platt b": maps["Platt"].params["b"],
               "isotonic steps": maps["isotonic"].params["steps"]}
        row.update({f"threshold, {name}": c.threshold(threshold) for name, c in maps.items()})
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")


def calibration_draws(frame: pd.DataFrame, bins: int = 10, n_boot: int = 1000,
                      seed: int = 0) -> dict[tuple[str, str, str], tuple[float, np.ndarray]]:
    """Every calibration error of every (set, method) on the same patient resamples per set.

    Returns:
        ``(set, method, metric) -> (estimate, draws (n_boot,))`` for the metrics of
        :func:`calibration_errors` (:func:`tmvlib.metrics.calibration.statistic_draws`).
    """
    out = {}
    for (name, method), group in _groups(frame):
        labels, probs = group["label"].to_numpy(), group["prob"].to_numpy()
        patients = group["patient_id"].to_numpy()
        for metric, function in calibration_errors(bins).items():
            out[(name, method, metric)] = statistic_draws(_statistic(function, labels, probs),
                                                          patients, n_boot, seed)
    return out


def calibration_levels(frame: pd.DataFrame, draws: Mapping, bins: int = 10, n_boot: int = 1000,
                       seed: int = 0) -> pd.DataFrame:
    """Per set and method: smooth ECE, binned ECE, NLL, Brier and AUROC with 95% intervals.

    Args:
        frame: the long prediction table. draws: :func:`calibration_draws` of it.

    Returns:
        Long DataFrame ``set, method, base_method, calibration, metric, value, low, high,
        estimate, interval, floor, p_calibrated``: for the calibration errors ``value =
        estimate`` is the plug-in estimate with the interval whose coverage is measured
        (``tmvlib.metrics.calibration.interval.calibration_interval``: its lower bound less the
        noise floor, its upper the percentile bound), ``floor`` the error's mean on labels drawn
        from the probabilities and ``p_calibrated`` the consistency-resampling p-value of perfect
        calibration (``n_boot`` simulated label vectors); for NLL, Brier and AUROC the
        percentile interval (``floor``, ``p_calibrated`` NaN).
    """
    rows = []
    for _, group in _groups(frame):
        labels, probs = group["label"].to_numpy(), group["prob"].to_numpy()
        patients = group["patient_id"].to_numpy()
        info = _labels(group)
        for metric, function in calibration_errors(bins).items():
            estimate, metric_draws = draws[(info["set"], info["method"], metric)]
            result = calibration_interval(estimate, metric_draws, consistency_draws(function, probs, n_boot, seed))
            rows.append({**info, "metric": metric, "value": result.value, "low": result.low,
                         "high": result.high, "estimate": result.value, "interval": "floor-corrected",
                         "floor": result.floor, "p_calibrated": result.p_calibrated})
        for metric, function in {"NLL": nll, "Brier": brier, "AUROC": auroc}.items():
            result = patient_bootstrap(function, labels, probs, patients, n_boot=n_boot, seed=seed)
            rows.append({**info, "metric": metric, "value": result.value, "low": result.low,
                         "high": result.high, "estimate": result.value, "interval": "percentile",
                         "floor": np.nan, "p_calibrated": np.nan})
    return pd.DataFrame(rows)


def paired_calibration(frame: pd.DataFrame, draws: Mapping, set_name: str, method_a: str,
                       method_b: str, metric: str, n_boot: int = 1000, seed: int = 0) -> dict:
    """Paired difference ``metric(a) - metric(b)`` on the images of one set, as a table row.

    Calibration errors (keys of ``draws``): :func:`tmvlib.metrics.calibration.
    bias_corrected_difference` of their draws; ``"NLL"``, ``"Brier"``:
    :func:`tmvlib.metrics.paired.paired_bootstrap` (percentile). Both resample the same patients.

    Returns:
        ``PairedDifference.row`` (``value, low, high``, the two estimates ``a, b``, ``se,
        p_value, mdd``) with ``set, compared`` (method a), ``against`` (method b), ``metric,
        interval``.
    """
    pick = frame["set"] == set_name
    a, b = frame[pick & (frame["method"] == method_a)], frame[pick & (frame["method"] == method_b)]
    if a.empty or b.empty or not np.array_equal(a["image_id"].to_numpy(), b["image_id"].to_numpy()):
        raise ValueError(f"{method_a!r} and {method_b!r} do not list the same {set_name} images")
    labels, patients = a["label"].to_numpy(), a["patient_id"].to_numpy()
    if (set_name, method_a, metric) in draws:
        (value_a, draws_a), (value_b, draws_b) = draws[(set_name, method_a, metric)], draws[(set_name, method_b, metric)]
        difference, interval = bias_corrected_difference(value_a, value_b, draws_a, draws_b), "basic, bias-corrected"
    else:
        function = {"NLL": nll, "Brier": brier}[metric]
        difference = paired_bootstrap(_statistic(function, labels, a["prob"].to_numpy()),
                                      _statistic(function, labels, b["prob"].to_numpy()),
                                      patients, n_boot=n_boot, seed=seed)
        interval = "percentile"
    return difference.row(set=set_name, compared=method_a, against=method_b, metric=metric,
                          interval=interval)


def calibration_changes(frame: pd.DataFrame, draws: Mapping, bins: int = 10, n_boot: int = 1000,
                        seed: int = 0) -> pd.DataFrame:
    """Each calibrated row against its uncalibrated method, paired, for every metric.

    Returns:
        Long DataFrame of :func:`paired_calibration` rows (``compared`` the calibrated method,
        ``against`` the same method uncalibrated; ``value < 0``: the calibration lowered the metric) with
        ``base_method`` and ``calibration`` columns.
    """
    rows = []
    keys = frame[["set", "method", "base_method", "calibration"]].drop_duplicates()
    for name, method, base, calibration in keys.itertuples(index=False):
        if calibration == "none":
            continue
        for metric in [*calibration_errors(bins), *PROPER_SCORES]:
            rows.append({**paired_calibration(frame, draws, name, method, base, metric, n_boot, seed),
                         "base_method": base, "calibration": calibration})
    return pd.DataFrame(rows)


def with_holm(rows: pd.DataFrame, family: pd.Series | None = None) -> pd.DataFrame:
    """The rows read as one family (:func:`tmvlib.metrics.paired.holm_family`, over the rows
    where ``family`` is True, all when None): ``p_holm``, the Holm-adjusted p-values of
    ``p_value`` (:func:`tmvlib.metrics.paired.bootstrap_p_value`), its Monte Carlo error, the
    family size, and the members' ``mdd`` at alpha / m; NaN outside the family."""
    return holm_family(rows, family=family)


def selective_table(frame: pd.DataFrame, coverages=(0.8, 0.9)) -> pd.DataFrame:
    """Per method, set and uncertainty score: AURC, AUGRC and e-AUGRC (Traub et al. 2024: the
    area under the generalized risk-coverage curve, and its excess over the oracle ranking of the
    same method's errors, for comparing methods whose errors differ), and AUROC / error rate at
    each coverage.

    Errors are counted at each row's decision threshold (column ``threshold``, the run's
    threshold on that method's scale). Scores constant within a group (the baseline has no
    mutual information) rank nothing and are skipped.
    """
    require_columns(frame, ["method", "set", "label", "prob", "threshold"], "selective_table")
    rows = []
    for (method, name), group in frame.groupby(["method", "set"], sort=False):
        labels, probs = group["label"].to_numpy(), group["prob"].to_numpy()
        threshold = group["threshold"].to_numpy()  # per row: pooled fold models each keep their own
        for score in UNCERTAINTY_SCORES:
            values = score_values(group, score)
            if np.allclose(values, values[0]):
                continue
            gr = augrc(labels, probs, values, threshold)
            row = {"method": method, "set": name, "score": score,
                   "AURC": aurc(labels, probs, values, threshold), "AUGRC": gr,
                   "e-AUGRC": gr - oracle_augrc(labels, probs, threshold)}
            for coverage in coverages:
                kept = selective_metrics(labels, probs, values, coverage, threshold)
                row[f"AUROC @{coverage:.0%}"] = kept["auroc"]
                row[f"error @{coverage:.0%}"] = kept["error_rate"]
            row["error @100%"] = float(errors_at(labels, probs, threshold).mean())
            rows.append(row)
    return pd.DataFrame(rows)


def aurc_comparisons(frame: pd.DataFrame, pairs: Sequence[tuple[str, str]],
                     score: str = DECISION_UNCERTAINTY, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Paired AURC differences ``AURC(a) - AURC(b)`` per set, each method ranked by ``score``.

    Each method's errors are counted at its own decision threshold; the two methods are compared
    on the same images and the same patient resamples
    (:func:`tmvlib.metrics.paired.paired_bootstrap`).

    Returns:
        Long DataFrame of ``PairedDifference.row`` with ``set, compared`` (a), ``against`` (b),
        ``metric`` ("AURC") and ``score``.
    """
    rows = []
    for name in frame["set"].unique():
        groups = {m: frame[(frame["set"] == name) & (frame["method"] == m)] for pair in pairs for m in pair}

        def statistic(method: str):
            group = groups[method]
            labels, probs = group["label"].to_numpy(), group["prob"].to_numpy()
            values, threshold = score_values(group, score), group["threshold"].to_numpy()  # per row
            return lambda rows_, w: aurc(labels[rows_], probs[rows_], values[rows_], threshold[rows_], w)

        for a, b in pairs:
            patients = groups[a]["patient_id"].to_numpy()
            difference = paired_bootstrap(statistic(a), statistic(b), patients, n_boot, seed)
            rows.append(difference.row(set=name, compared=a, against=b, metric="AURC", score=score))
    return pd.DataFrame(rows)


def shift_detection(frame: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """How well each score separates external images from NIH test images (AUROC, 0.5 = not at all).

    Per method and score: AUROC of the uncertainty for ``set == "external"`` vs ``"test"``, with
    a patient-bootstrap interval, and the median score in each set.
    """
    rows = []
    for method, group in frame.groupby("method", sort=False):
        is_external = (group["set"] == "external").to_numpy().astype(int)
        for score in UNCERTAINTY_SCORES:
            values = score_values(group, score)
            if np.allclose(values, values[0]):
                continue
            interval = patient_bootstrap(auroc, is_external, values, group["patient_id"].to_numpy(),
                                         n_boot=n_boot, seed=seed)
            rows.append({"method": method, "score": score, "AUROC external vs test": interval.value,
                         "low": interval.low, "high": interval.high,
                         "median (test)": float(np.median(values[is_external == 0])),
                         "median (external)": float(np.median(values[is_external == 1]))})
    return pd.DataFrame(rows)


def prior_shift_tables(frame: pd.DataFrame, prior: float, target: float,
                       calibration: str = "Platt", set_name: str = "test", n_boot: int = 1000,
                       seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Calibration at a clinical prevalence ``target``, without and with the prior-shift correction.

    For each method calibrated by ``calibration`` (fitted on validation, so calibrated to the
    validation prevalence ``prior``), the images of ``set_name`` are reweighted to prevalence
    ``target`` (:func:`tmvlib.uncertainty.prior_shift.prevalence_weights`), and two sets of
    probabilities are scored there: as calibrated, and moved to ``target``
    (:func:`tmvlib.uncertainty.prior_shift.prior_shift`).

    Returns:
        ``(levels, changes)``. ``levels``: ``method, probabilities``, the smooth ECE at
        ``target`` (plug-in ``value = estimate`` with the interval of
        ``metrics.calibration.interval.calibration_interval``, its ``p_calibrated``), the
        weighted NLL at ``target`` (``nll, nll_low, nll_high``, percentile) and ``mean p`` (the
        weighted mean probability, to compare with ``target``). ``changes``: the paired
        differences corrected - as calibrated at ``target`` (``PairedDifference.row``,
        ``method``, ``metric``): the NLL (:data:`DECISION_SCORE`, the verdict) and the smooth
        ECE (bias-corrected basic interval, descriptive).
    """
    levels, changes = [], []
    rows = frame[(frame["set"] == set_name) & (frame["calibration"] == calibration)]
    for method, group in rows.groupby("method", sort=False):
        labels, patients = group["label"].to_numpy(), group["patient_id"].to_numpy()
        weight = prevalence_weights(labels, target)
        variants = {"as calibrated": group["prob"].to_numpy(),
                    "prior-shift corrected": prior_shift(group["prob"].to_numpy(), prior, target)}
        drawn = {}
        for variant, probs in variants.items():
            drawn[variant] = statistic_draws(_statistic(smooth_ece, labels, probs, weight),
                                             patients, n_boot, seed)
            result = calibration_interval(*drawn[variant],
                                          consistency_draws(smooth_ece, probs, n_boot, seed, sample_weight=weight))
            loss, loss_draws = statistic_draws(_statistic(nll, labels, probs, weight), patients, n_boot, seed)
            loss_low, loss_high = np.nanpercentile(loss_draws, [2.5, 97.5])
            levels.append({"method": method, "probabilities": variant, "value": result.value,
                           "low": result.low, "high": result.high, "estimate": result.value,
                           "p_calibrated": result.p_calibrated, "nll": loss, "nll_low": min(loss_low, loss),
                           "nll_high": max(loss_high, loss), "mean p": float(np.average(probs, weights=weight))})
        labels_for = {"method": method, "compared": f"{method}, prior-shift corrected",
                      "against": f"{method}, as calibrated", "set": set_name, "prevalence": target}
        loss = paired_bootstrap(_statistic(nll, labels, variants["prior-shift corrected"], weight),
                                _statistic(nll, labels, variants["as calibrated"], weight), patients,
                                n_boot=n_boot, seed=seed)
        changes.append(loss.row(**labels_for, metric=DECISION_SCORE, interval="percentile"))
        (corrected, corrected_draws), (raw, raw_draws) = drawn["prior-shift corrected"], drawn["as calibrated"]
        difference = bias_corrected_difference(corrected, raw, corrected_draws, raw_draws)
        changes.append(difference.row(**labels_for, metric=HEADLINE, interval="basic, bias-corrected"))
    return pd.DataFrame(levels), pd.DataFrame(changes)


def smooth_reliability_rows(frame: pd.DataFrame, set_name: str, methods: Sequence[str],
                            points: int = 101) -> pd.DataFrame:
    """Smooth reliability curves (:func:`tmvlib.metrics.calibration.smooth_reliability`, the
    diagram of the smooth ECE) of each method in ``methods`` on ``set_name``, stacked with
    ``method`` and ``set`` columns; only the points where the curve is supported by the data
    (``supported``: about one image or more within a bandwidth) are kept."""
    rows = []
    for method in methods:
        group = frame[(frame["set"] == set_name) & (frame["method"] == method)]
        curve = smooth_reliability(group["label"].to_numpy(), group["prob"].to_numpy(), points=points)
        rows.append(curve[curve["supported"]].assign(method=method, set=set_name))
    return pd.concat(rows, ignore_index=True)


def selective_curves(frame: pd.DataFrame, methods, scores=(DECISION_UNCERTAINTY, "mutual information"),
                     max_points: int = 200) -> pd.DataFrame:
    """Risk-coverage curves (:func:`tmvlib.metrics.selective.risk_coverage_curve`) per method,
    set and uncertainty score, errors at each method's decision threshold, thinned to about
    ``max_points`` points each (the same line drawn).

    A score that is constant within a group (the baseline has no mutual information) has no
    ranking and is left out. Returns the curves stacked with ``method, set, score`` columns.
    """
    curves = []
    for (method, name), group in frame[frame["method"].isin(methods)].groupby(["method", "set"]):
        for score in scores:
            values = score_values(group, score)
            if np.allclose(values, values[0]):
                continue
            curve = risk_coverage_curve(group["label"].to_numpy(), group["prob"].to_numpy(), values,
                                        group["threshold"].to_numpy())
            step = max(1, len(curve) // max_points)
            curves.append(curve.iloc[::step].assign(method=method, set=name, score=score))
    return pd.concat(curves)
