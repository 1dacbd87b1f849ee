"""The replication table: the report's headline quantities for every replicate (backbone x
seed), each with its test-sampling interval, and whether each finding holds in each replicate.

A *finding* is a verdict of the main report read from an interval (an AUROC against chance, a
paired difference against 0). It holds in a replicate when the replicate's interval gives the
same verdict as the reference replicate (chapter 02's baseline: the model chapters 02-08 explain).
The count "holds in k of n" says how far a finding depends on the seed and the architecture;
each interval covers test-set sampling only, and the spread over seeds shows training variation.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..contracts.scores import DECISION_UNCERTAINTY, TTA_FLIP_RATE, TTA_INSTABILITY
from ..metrics.bootstrap import patient_bootstrap, patient_bootstrap_mean
from ..metrics.confidence import decision_uncertainty, errors_at
from ..metrics.discrimination import auroc, choose_threshold
from ..metrics.frames import error_indicator
from ..uncertainty.predictions import fit_method_calibrators, method_predictions
from .endpoints import COMBINED, COMBINED_FEATURES, PRIMARY, paired_score_difference
from .fitted import fit_trust_score, validation_cuts
from .quadrants import QuadrantRules, assign_quadrants
from .trust_cells import fill_constant_maps
from .uncertainty import DECISION_SCORE, HEADLINE, calibration_draws, calibration_levels, paired_calibration

AUROC_TEST = "AUROC, NIH test"
AUROC_EXTERNAL = "AUROC, external"
ECE_RAW = f"{HEADLINE}, NIH test, uncalibrated"
ECE_TEMPERATURE = f"{HEADLINE}, NIH test, temperature-scaled"
ECE_CHANGE = f"{HEADLINE} change from temperature scaling, NIH test"
NLL_CHANGE = f"{DECISION_SCORE} change from temperature scaling, NIH test"
ERROR_AUROC_CONFIDENCE = "error-detection AUROC of the confidence, NIH test"
ERROR_AUROC_INSTABILITY = "error-detection AUROC of TTA instability, NIH test"
PRIMARY_ENDPOINT = "primary endpoint: AURC, combined score - confidence, NIH test"
DANGER_SHARE = "danger-zone share, NIH test"
INSTABILITY = TTA_INSTABILITY
# quantity -> (reference value its verdict is read against, kind)
# finding -> (its reference value, how it reads, the equivalence margin: a "no difference" holds in a
# replicate only when the replicate's whole interval lies within reference +- margin; declared in
# book/protocol.md before the replicates were read)
FINDINGS = {
    AUROC_TEST: (0.5, "vs chance", 0.05),
    AUROC_EXTERNAL: (0.5, "vs chance", 0.05),
    NLL_CHANGE: (0.0, "difference", 0.02),  # calibration is decided by the NLL (chapter 03); the ECE is descriptive
    ERROR_AUROC_CONFIDENCE: (0.5, "vs chance", 0.05),
    ERROR_AUROC_INSTABILITY: (0.5, "vs chance", 0.05),
    PRIMARY_ENDPOINT: (0.0, "difference", 0.01),
}  # the danger-zone share is reported (level and spread), not read as a finding


def replicate_quantities(sets: Mapping[str, pd.DataFrame], logits: Mapping[str, np.ndarray], threshold_rule: str,
                         n_boot: int = 1000, seed: int = 0, ece_bins: int = 10) -> pd.DataFrame:
    """The headline quantities of one replicate, each ``value, low, high`` (95%, patient bootstrap).

    Everything fitted is fitted on validation (``sets["val"]``): the decision threshold
    (``threshold_rule``, as chapter 02) and the temperature (as chapter 03); NIH test and the
    external set are only evaluated.

    Args:
        sets: ``val``, ``test``, ``external`` -> images (``image_id, patient_id, label``), in
            the row order of ``logits``.
        logits: set -> (N,) logits of the replicate.
    Returns:
        Long frame ``quantity, value, low, high, threshold``: :data:`AUROC_TEST`,
        :data:`AUROC_EXTERNAL`, :data:`ECE_RAW`, :data:`ECE_TEMPERATURE` (smooth ECE, chapter
        03's interval), :data:`ECE_CHANGE` (paired, descriptive), :data:`NLL_CHANGE` (paired: the
        finding) and :data:`ERROR_AUROC_CONFIDENCE` (errors at the threshold ranked by the
        decision uncertainty).
    """
    for name in ("val", "test", "external"):
        if name not in sets or name not in logits:
            raise KeyError(f"replicate_quantities needs the {name!r} set and its logits")
        if len(sets[name]) != len(logits[name]):
            raise ValueError(f"{name}: {len(sets[name])} images but {len(logits[name])} logits")
    val_labels = sets["val"]["label"].to_numpy()
    val_probs = 1 / (1 + np.exp(-np.asarray(logits["val"], float)))
    threshold = choose_threshold(val_labels, val_probs, threshold_rule)
    calibrators = fit_method_calibrators({"baseline": np.asarray(logits["val"])[None]}, val_labels,
                                         ("none", "temperature"))
    # calibration is read on NIH test only (the external set's AUROC needs no calibration draws)
    preds = method_predictions({"test": sets["test"]}, {"baseline": {"test": np.asarray(logits["test"])[None]}},
                               calibrators, threshold)
    draws = calibration_draws(preds, ece_bins, n_boot, seed)
    levels = calibration_levels(preds, draws, ece_bins, n_boot, seed).set_index(["set", "method", "metric"])
    change = paired_calibration(preds, draws, "test", "baseline + temperature", "baseline", HEADLINE, n_boot, seed)
    nll_change = paired_calibration(preds, draws, "test", "baseline + temperature", "baseline", DECISION_SCORE,
                                    n_boot, seed)
    test = preds[preds["method"] == "baseline"]
    errors = test["error"].to_numpy().astype(int)
    detect = patient_bootstrap(auroc, errors, test["decision_uncertainty"].to_numpy(), test["patient_id"].to_numpy(),
                               n_boot, seed)
    ext = sets["external"]
    external = patient_bootstrap(auroc, ext["label"].to_numpy(), np.asarray(logits["external"], float),
                                 ext["patient_id"].to_numpy(), n_boot, seed)
    rows = [(AUROC_TEST, levels.loc[("test", "baseline", "AUROC")]),
            (AUROC_EXTERNAL, {"value": external.value, "low": external.low, "high": external.high}),
            (ECE_RAW, levels.loc[("test", "baseline", HEADLINE)]),
            (ECE_TEMPERATURE, levels.loc[("test", "baseline + temperature", HEADLINE)]),
            (ECE_CHANGE, change), (NLL_CHANGE, nll_change),
            (ERROR_AUROC_CONFIDENCE, {"value": detect.value, "low": detect.low, "high": detect.high})]
    return pd.DataFrame([{"quantity": q, "value": float(r["value"]), "low": float(r["low"]),
                          "high": float(r["high"]), "threshold": threshold} for q, r in rows])


def replicate_trust_frame(frames: Mapping[str, pd.DataFrame], probs: Mapping[str, np.ndarray], threshold: float,
                          stability: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Per-image trust scores of one replicate on ``val`` and ``test``: the columns chapter 06
    writes for the baseline that the replication needs.

    Args:
        frames: set -> images (``image_id, patient_id, label``). probs: set -> (N,) P(positive).
        threshold: the replicate's decision threshold (fitted on validation).
        stability: set -> :func:`tmvlib.explain.stability.tta_stability` rows (``image_id,
            instability, flip_rate``).
    Returns:
        rows ``image_id, patient_id, label, prob, set, correct``, the confidence score
        (``decision uncertainty``), ``instability (TTA)`` (NaN of a constant map filled with the
        validation maximum, as chapter 06 does) and ``flip rate (TTA)``.
    """
    parts = []
    for name, frame in frames.items():
        prob = np.asarray(probs[name], float)
        by_id = stability[name].set_index("image_id")
        part = frame[["image_id", "patient_id", "label"]].reset_index(drop=True).assign(prob=prob, set=name)
        part["correct"] = ~errors_at(part["label"].to_numpy(), prob, threshold)
        part[DECISION_UNCERTAINTY] = decision_uncertainty(prob, threshold)
        part[INSTABILITY] = part["image_id"].map(by_id["instability"]).to_numpy(float)
        part[TTA_FLIP_RATE] = part["image_id"].map(by_id["flip_rate"]).to_numpy(float)
        parts.append(part)
    return fill_constant_maps(pd.concat(parts, ignore_index=True), columns=[INSTABILITY])


def replicate_trust_quantities(per_image: pd.DataFrame, rules: QuadrantRules, n_boot: int = 1000,
                               seed: int = 0) -> pd.DataFrame:
    """The trust findings of one replicate, fitted on its validation rows, read on NIH test:
    the error-detection AUROC of TTA instability; the primary endpoint (AURC of the combined
    score, fitted on validation from ``COMBINED_FEATURES``, minus the confidence's, paired); the
    danger-zone share (incorrect and confident, with chapter 07's quadrant cuts at the validation
    quantiles and its flip-rate rule), each ``value, low, high`` (95%, patient bootstrap).

    Args:
        per_image: :func:`replicate_trust_frame`.
        rules: chapter 07's quadrant rules.
    """
    frame = per_image.copy()
    frame[COMBINED] = fit_trust_score(frame, COMBINED_FEATURES).score(frame)
    test = frame[frame["set"] == "test"]
    errors = error_indicator(test)
    patients = test["patient_id"].to_numpy()
    detect = patient_bootstrap(auroc, errors, test[INSTABILITY].to_numpy(float), patients, n_boot, seed)
    primary = paired_score_difference(test, PRIMARY.a, PRIMARY.b, PRIMARY.quantity, n_boot, seed)
    cuts = validation_cuts(frame, DECISION_UNCERTAINTY, INSTABILITY, rules.uncertainty_quantile,
                           rules.instability_quantile)
    danger = assign_quadrants(test, DECISION_UNCERTAINTY, INSTABILITY, *cuts,
                              max_flip_rate=rules.max_flip_rate)["danger"].to_numpy(float)
    share = patient_bootstrap_mean(danger, patients, n_boot, seed)
    rows = [(ERROR_AUROC_INSTABILITY, detect.value, detect.low, detect.high),
            (PRIMARY_ENDPOINT, primary.value, primary.low, primary.high),
            (DANGER_SHARE, share.value, share.low, share.high)]
    return pd.DataFrame([{"quantity": q, "value": v, "low": lo, "high": hi} for q, v, lo, hi in rows])


def seed_spread(table: pd.DataFrame) -> pd.DataFrame:
    """Per backbone and quantity: the mean, minimum and maximum of the estimates over seeds
    (training variation, which no test-sampling interval covers). ``table`` needs ``backbone``."""
    return (table.groupby(["backbone", "quantity"], sort=False)["value"]
            .agg(seeds="count", mean="mean", min="min", max="max").reset_index())


def chapter06_findings(trust_scores: pd.DataFrame, endpoints: pd.DataFrame, n_boot: int = 1000,
                       seed: int = 0) -> pd.DataFrame:
    """The two TTA-based findings as chapter 06 measured them, with its full set of TTA
    perturbations (this chapter's replicates use fewer): the error-detection AUROC of TTA
    instability on NIH test (``trust_scores.parquet``'s test rows) and the primary endpoint (its
    row of ``trust_endpoints.parquet``). Rows ``quantity, value, low, high``."""
    test = trust_scores[trust_scores["set"] == "test"]
    detect = patient_bootstrap(auroc, error_indicator(test), test[INSTABILITY].to_numpy(float),
                               test["patient_id"].to_numpy(), n_boot, seed)
    primary = endpoints.set_index("comparison").loc["primary"]
    return pd.DataFrame([{"quantity": ERROR_AUROC_INSTABILITY, "value": detect.value, "low": detect.low,
                          "high": detect.high},
                         {"quantity": PRIMARY_ENDPOINT, "value": float(primary["value"]), "low": float(primary["low"]),
                          "high": float(primary["high"])}])


__all__ = ["FINDINGS", "chapter06_findings", "replicate_quantities", "replicate_trust_frame",
           "replicate_trust_quantities", "seed_spread"]
