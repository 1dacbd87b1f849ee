"""Input checks shared by the calibration and selective-prediction metrics.

Every metric takes plain (N,) arrays; a bad input raises ``ValueError`` naming the input and how
many entries are bad, so a silent NaN never reaches a report table.
"""
from __future__ import annotations

import numpy as np


def _vector(name: str, values: np.ndarray) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of shape (N,), got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty; the metric needs at least one sample")
    n_nan = int(np.isnan(array).sum())
    if n_nan:
        raise ValueError(f"{name} holds {n_nan} NaN value(s) out of {array.size}")
    return array


def check_labels(labels: np.ndarray) -> np.ndarray:
    """(N,) binary labels as floats in {0, 1}."""
    array = _vector("labels", labels)
    n_bad = int((~np.isin(array, (0.0, 1.0))).sum())
    if n_bad:
        raise ValueError(f"labels must be 0 or 1; {n_bad} value(s) out of {array.size} are not")
    return array


def check_probs(probs: np.ndarray, name: str = "probs") -> np.ndarray:
    """(N,) probabilities in [0, 1]; logits are refused rather than silently squashed."""
    array = _vector(name, probs)
    n_bad = int(((array < 0) | (array > 1)).sum())
    if n_bad:
        raise ValueError(f"{name} must be probabilities in [0, 1]; {n_bad} value(s) out of "
                         f"{array.size} lie outside (pass sigmoid(logits), not logits)")
    return array


def check_finite(values: np.ndarray, name: str) -> np.ndarray:
    """(N,) finite real values (e.g. an uncertainty score)."""
    array = _vector(name, values)
    n_bad = int((~np.isfinite(array)).sum())
    if n_bad:
        raise ValueError(f"{name} must be finite; {n_bad} value(s) out of {array.size} are inf")
    return array


def check_weight(sample_weight: np.ndarray | None, n: int) -> np.ndarray:
    """(N,) non-negative weights with a positive sum; ``None`` means ``n`` ones."""
    if sample_weight is None:
        return np.ones(n)
    weight = check_finite(sample_weight, "sample_weight")
    n_bad = int((weight < 0).sum())
    if n_bad:
        raise ValueError(f"sample_weight must be >= 0; {n_bad} value(s) out of {weight.size} "
                         "are negative")
    if weight.sum() <= 0:
        raise ValueError("sample_weight sums to 0; at least one sample needs a positive weight")
    return weight


def same_length(**arrays: np.ndarray) -> None:
    """Raise if the named (N,) arrays differ in length."""
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name}={n}" for name, n in lengths.items())
        raise ValueError(f"inputs must have the same length, got {shown}")


def check_binary(labels: np.ndarray, probs: np.ndarray,
                 sample_weight: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Validate ``labels, probs, sample_weight`` of one binary task; returns float arrays."""
    labels, probs = check_labels(labels), check_probs(probs)
    weight = check_weight(sample_weight, len(labels))
    same_length(labels=labels, probs=probs, sample_weight=weight)
    return labels, probs, weight
