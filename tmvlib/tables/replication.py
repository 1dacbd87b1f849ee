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

from ..metrics.bootstrap import patient_bootstrap
from ..metrics.discrimination import auroc, choose_threshold
from ..uncertainty.predictions import fit_method_calibrators, method_predictions
from .uncertainty import HEADLINE, calibration_draws, calibration_levels, paired_calibration

AUROC_TEST = "AUROC, NIH test"
AUROC_EXTERNAL = "AUROC, external"
ECE_RAW = f"{HEADLINE}, NIH test, uncalibrated"
ECE_TEMPERATURE = f"{HEADLINE}, NIH test, temperature-scaled"
ECE_CHANGE = f"{HEADLINE} change from temperature scaling, NIH test"
ERROR_AUROC_CONFIDENCE = "error-detection AUROC of the confidence, NIH test"
# quantity -> (reference value its verdict is read against, kind)
FINDINGS = {
    AUROC_TEST: (0.5, "vs chance"),
    AUROC_EXTERNAL: (0.5, "vs chance"),
    ECE_CHANGE: (0.0, "difference"),
    ERROR_AUROC_CONFIDENCE: (0.5, "vs chance"),
}


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
        :data:`AUROC_EXTERNAL`, :data:`ECE_RAW`, :data:`ECE_TEMPERATURE` (bias-corrected smooth
        ECE, basic interval), :data:`ECE_CHANGE` (paired) and :data:`ERROR_AUROC_CONFIDENCE`
        (errors at the threshold ranked by the decision uncertainty).
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
    evaluated = {name: sets[name] for name in ("test", "external")}
    preds = method_predictions(evaluated, {"baseline": {n: np.asarray(logits[n])[None] for n in evaluated}},
                               calibrators, threshold)
    draws = calibration_draws(preds, ece_bins, n_boot, seed)
    levels = calibration_levels(preds, draws, ece_bins, n_boot, seed).set_index(["set", "method", "metric"])
    change = paired_calibration(preds, draws, "test", "baseline + temperature", "baseline", HEADLINE, n_boot, seed)
    test = preds[(preds["set"] == "test") & (preds["method"] == "baseline")]
    errors = test["error"].to_numpy().astype(int)
    detect = patient_bootstrap(auroc, errors, test["decision_uncertainty"].to_numpy(), test["patient_id"].to_numpy(),
                               n_boot, seed)
    rows = [(AUROC_TEST, levels.loc[("test", "baseline", "AUROC")]),
            (AUROC_EXTERNAL, levels.loc[("external", "baseline", "AUROC")]),
            (ECE_RAW, levels.loc[("test", "baseline", HEADLINE)]),
            (ECE_TEMPERATURE, levels.loc[("test", "baseline + temperature", HEADLINE)]),
            (ECE_CHANGE, change), (ERROR_AUROC_CONFIDENCE, {"value": detect.value, "low": detect.low, "high": detect.high})]
    return pd.DataFrame([{"quantity": q, "value": float(r["value"]), "low": float(r["low"]),
                          "high": float(r["high"]), "threshold": threshold} for q, r in rows])


def seed_spread(table: pd.DataFrame) -> pd.DataFrame:
    """Per backbone and quantity: the mean, minimum and maximum of the estimates over seeds
    (training variation, which no test-sampling interval covers). ``table`` needs ``backbone``."""
    return (table.groupby(["backbone", "quantity"], sort=False)["value"]
            .agg(seeds="count", mean="mean", min="min", max="max").reset_index())


__all__ = ["FINDINGS", "replicate_quantities", "seed_spread"]
