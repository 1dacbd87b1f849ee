"""Subgroup against subgroup: the AUROC difference of every pair of reportable groups of a
grouping, from one shared patient resampling (the groups are disjoint, so the draw resamples
both together rather than pairing images), Holm-corrected over all pairs of the chapter
(an exploratory family, declared in ``book/methodology.md``).

Two groups' separate AUROC intervals overlapping is not a test; the interval of their
difference is.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..metrics.discrimination import auroc
from ..metrics.paired import PairedDifference, holm_family, paired_bootstrap


def _group_auroc(labels: np.ndarray, probs: np.ndarray, member: np.ndarray):
    def statistic(rows: np.ndarray, weight: np.ndarray) -> float:
        keep = member[rows]
        return auroc(labels[rows][keep], probs[rows][keep], sample_weight=weight[keep])
    return statistic


def group_auroc_difference(frame: pd.DataFrame, column: str, a: str, b: str, n_boot: int = 1000,
                           seed: int = 0) -> PairedDifference | None:
    """AUROC of the images whose ``column`` is ``a`` minus that of those where it is ``b``, from
    one shared patient resampling (``frame``: ``label, prob, patient_id, column``).

    Returns:
        ``tmvlib.metrics.paired.PairedDifference``, or None when a group lacks a class (its AUROC
        is undefined) or every draw does.
    """
    values = frame[column].astype(str).to_numpy()
    labels, probs = frame["label"].to_numpy(), frame["prob"].to_numpy(dtype=float)
    try:
        return paired_bootstrap(_group_auroc(labels, probs, values == a), _group_auroc(labels, probs, values == b),
                                frame["patient_id"].to_numpy(), n_boot=n_boot, seed=seed)
    except ValueError:
        return None


def subgroup_differences(frame: pd.DataFrame, subgroups: pd.DataFrame,
                         group_cols: Mapping[str, str | Callable[[pd.DataFrame], Sequence]],
                         n_boot: int = 1000, seed: int = 0, score: str = "prob") -> pd.DataFrame:
    """AUROC difference ``a - b`` for every pair of reportable groups of each grouping, ranking by
    ``score`` (as ``subgroup_table``'s).

    Args:
        frame: the per-image rows ``subgroups`` was built from (``label, prob, patient_id``).
        subgroups: ``tmvlib.tables.subgroups.subgroup_table(frame, group_cols, ...)``; groups marked
            ``too_thin`` are left out.
        group_cols: the same groupings (name -> column or function of the frame).
    Returns:
        rows ``grouping, a, b, value, low, high, a_value, b_value, se, p_value, mdd, p_holm,
        p_method, p_mc_error, p_holm_mc_error, family_size`` (one Holm family over every row of
        the table, ``mdd`` at alpha / m: ``metrics.paired.holm_family``); empty (with these columns) when no grouping has two
        reportable groups. Draws in which a group lacks a class are skipped.
    """
    columns = ["grouping", "a", "b", "value", "low", "high", "a_value", "b_value", "se", "p_value",
               "mdd", "p_holm", "p_method", "p_mc_error", "p_holm_mc_error", "family_size"]
    labels, probs = frame["label"].to_numpy(), frame[score].to_numpy(dtype=float)
    patients = frame["patient_id"].to_numpy()
    rows = []
    for grouping, spec in group_cols.items():
        usable = subgroups[(subgroups["grouping"] == grouping) & ~subgroups["too_thin"]]["group"].tolist()
        values = pd.Series(np.asarray(frame[spec] if isinstance(spec, str) else spec(frame), dtype=object))
        values = values.where(values.notna(), "missing").astype(str).to_numpy()
        for i, a in enumerate(usable):
            for b in usable[i + 1:]:
                d = paired_bootstrap(_group_auroc(labels, probs, values == a),
                                     _group_auroc(labels, probs, values == b), patients,
                                     n_boot=n_boot, seed=seed)
                rows.append(d.row(grouping=grouping, a=a, b=b))
    table = pd.DataFrame(rows)
    return (holm_family(table) if len(table) else table).reindex(columns=columns)
