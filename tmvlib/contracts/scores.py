"""The names of the per-image scores: what a chapter's params choose among (``uncertainty_score``,
``deferral_score``...) and the column names of the tables that carry them (chapter 06's
``trust_scores.parquet``, the trust card). One name each, defined here, at the bottom layer, so
that a contract's default and a table's column cannot drift apart.
"""
from __future__ import annotations

DECISION_UNCERTAINTY = "decision uncertainty"  # exp(-|logit p - logit t|): tmvlib.metrics.confidence
DISTANCE_TO_HALF = "1 - max(p, 1-p)"           # the distance to 0.5: a labelled secondary only
MC_MUTUAL_INFORMATION = "MC mutual information"
ENSEMBLE_VARIANCE = "ensemble variance"


def instability_column(source: str) -> str:
    """``instability (<source>)``: an explanation's instability under one source of perturbation
    (``MC dropout``, ``ensemble``, ``TTA``)."""
    return f"instability ({source})"


def flip_rate_column(source: str) -> str:
    """``flip rate (<source>)``: the share of a source's perturbations that flip the predicted label."""
    return f"flip rate ({source})"


def constant_map_column(instability: str) -> str:
    """``constant map (<source>)`` for the column ``instability (<source>)``: True where the
    explanation was constant (blank), so its instability was undefined and filled
    (``tmvlib.tables.trust_cells.fill_constant_maps``); ``<column>: constant map`` for a column
    named otherwise."""
    if instability.startswith("instability"):
        return instability.replace("instability", "constant map", 1)
    return f"{instability}: constant map"


TTA_INSTABILITY = instability_column("TTA")
TTA_CONSTANT_MAP = constant_map_column(TTA_INSTABILITY)
TTA_FLIP_RATE = flip_rate_column("TTA")
