"""Sentences whose wording depends on computed numbers, so the prose never claims more than the run shows."""
from __future__ import annotations


def auroc_verdict(low: float, high: float, chance: float = 0.5) -> str:
    """Describe an AUROC interval against chance: 'no better than chance' when it covers 0.5."""
    if low <= chance <= high:
        return "no better than chance (its 95% interval includes 0.5)"
    if high < chance:
        return "worse than chance: the model ranks this population's cases backwards"
    return "better than chance"


def interval_overlap(a_low: float, a_high: float, b_low: float, b_high: float) -> bool:
    """True when two intervals overlap."""
    return a_low <= b_high and b_low <= a_high


def subgroup_overlap_text(table, column: str, first: str, second: str) -> str:
    """Compare two rows of a :func:`tmvlib.eval.subgroups.subgroup_auroc` table in words."""
    rows = table.set_index(column)
    if first not in rows.index or second not in rows.index or rows.loc[[first, second], ["low", "high"]].isna().any(axis=None):
        return f"cannot be compared (too few cases of a class in {first} or {second})"
    if interval_overlap(rows.loc[first, "low"], rows.loc[first, "high"],
                        rows.loc[second, "low"], rows.loc[second, "high"]):
        return f"overlap, so {column} alone does not explain the performance"
    return f"do not overlap: performance differs by {column}"
