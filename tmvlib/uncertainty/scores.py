"""Per-image uncertainty scores from sampled logits (MC dropout passes or ensemble members).

For S samples with probabilities ``p_s = sigmoid(z_s)`` and predictive ``p̄ = mean_s p_s``:
- ``prob``: p̄ (after temperature, when one is given, applied to logit(p̄));
- ``confidence``: max(p̄, 1 - p̄), the max-probability score (Hendrycks & Gimpel 2017);
- ``entropy``: H(p̄) in nats, the total predictive uncertainty;
- ``expected_entropy``: mean_s H(p_s), the aleatoric part;
- ``mutual_information``: H(p̄) - mean_s H(p_s) (BALD; Houlsby et al. 2011), the epistemic part;
- ``variance``: var_s p_s, the spread between samples.
A single deterministic model (S = 1) has zero mutual information and variance.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from .temperature import probability_logit, temperature_probs


def binary_entropy(p: np.ndarray) -> np.ndarray:
    """Entropy of Bernoulli(p) in nats, 0 at p in {0, 1}."""
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return -(p * np.log(p) + (1 - p) * np.log1p(-p))


def uncertainty_scores(sample_logits: np.ndarray, temperature: float = 1.0) -> pd.DataFrame:
    """Scores for logits of shape ``(S, N)``; returns a DataFrame with N rows (see module doc)."""
    logits = np.atleast_2d(np.asarray(sample_logits, dtype=np.float64))
    if not np.isfinite(logits).all():
        raise ValueError(f"uncertainty_scores: {int((~np.isfinite(logits)).sum())} non-finite logits")
    member_probs = expit(logits)
    mean_prob = member_probs.mean(axis=0)
    prob = temperature_probs(probability_logit(mean_prob), temperature) if temperature != 1.0 else mean_prob
    entropy = binary_entropy(prob)
    expected_entropy = binary_entropy(member_probs).mean(axis=0)
    return pd.DataFrame({
        "prob": prob,
        "logit": probability_logit(prob),
        "confidence": np.maximum(prob, 1 - prob),
        "entropy": entropy,
        "expected_entropy": expected_entropy,
        # clipped at 0: with a temperature the calibrated entropy can dip below the members' mean
        "mutual_information": np.maximum(binary_entropy(mean_prob) - expected_entropy, 0.0),
        "variance": member_probs.var(axis=0),
    })
