"""Assemble per-image predictions and uncertainty scores for several methods and sets."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .scores import uncertainty_scores
from .temperature import fit_temperature, probability_logit

KEEP_COLUMNS = ("image_id", "patient_id", "label", "view", "sex", "age", "quality", "source",
                "box_findings")


def fit_temperatures(val_logits: dict[str, np.ndarray], val_labels: np.ndarray) -> dict[str, float]:
    """One temperature per method, fitted on the validation predictive logit by NLL.

    ``val_logits[method]``: sampled logits ``(S, N_val)``; the predictive logit is the logit of
    the mean probability (for S = 1, the model's logit).
    """
    return {method: fit_temperature(uncertainty_scores(logits)["logit"].to_numpy(), val_labels)
            for method, logits in val_logits.items()}


def method_predictions(sets: dict[str, pd.DataFrame], logits: dict[str, dict[str, np.ndarray]],
                       temperatures: dict[str, float]) -> pd.DataFrame:
    """Long table: one row per image, set and method (each method raw and with its temperature).

    Args:
        sets: set name -> image table (``image_id``, ``patient_id``, ``label``, ...).
        logits: method -> set name -> sampled logits ``(S, N)`` in the row order of ``sets``.
        temperatures: method -> temperature from :func:`fit_temperatures`.
    """
    parts = []
    for method, by_set in logits.items():
        for name, sample_logits in by_set.items():
            base = sets[name].reset_index(drop=True)[[c for c in KEEP_COLUMNS if c in sets[name]]]
            for label, temperature in ((method, 1.0), (f"{method} + temperature", temperatures[method])):
                scores = uncertainty_scores(sample_logits, temperature)
                parts.append(pd.concat([base, scores], axis=1).assign(
                    method=label, set=name, temperature=temperature, samples=len(np.atleast_2d(sample_logits))))
    return pd.concat(parts, ignore_index=True)


__all__ = ["fit_temperatures", "method_predictions", "probability_logit"]
