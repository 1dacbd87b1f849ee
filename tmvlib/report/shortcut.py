"""Chapter 02's shortcut control in a table and in words (from
:mod:`tmvlib.tables.shortcut_control`), so the prose claims no more than the paired intervals."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..tables.shortcut_control import CONTRASTS, MODEL_NAMES, comparison
from .findings import paired_verdict
from .wording import interval_text, p_text, versus_chance


def shortcut_table(aurocs: pd.DataFrame, comparisons: pd.DataFrame, positive: str) -> pd.DataFrame:
    """One row per contrast: its images, each model's AUROC [95% interval] (a column per model),
    and their paired difference (every other image - No Finding) with its Holm-adjusted p-value.

    Args:
        aurocs: :func:`tmvlib.tables.shortcut_control.contrast_auroc_table`.
        comparisons: :func:`tmvlib.tables.shortcut_control.shortcut_comparisons`.
        positive: the finding's name, for the row labels.
    """
    rows = {}
    for contrast in CONTRASTS:
        part = aurocs[aurocs["contrast"] == contrast]
        first = part.iloc[0]
        row = {"images (pos. / neg.)": f"{first['images']} ({first['positives']} / {first['negatives']})"}
        for _, r in part.iterrows():
            row[r["model"]] = interval_text(r["auroc"], r["low"], r["high"], missing="undefined")
        name = f"AUROC difference {contrast}"
        if name in set(comparisons["comparison"]):
            d = comparison(comparisons, name)
            row["paired difference"] = interval_text(d["value"], d["low"], d["high"],
                                                                         signed=True, missing="undefined")
            row["Holm p"] = "-" if np.isnan(d["p_holm"]) else p_text(d["p_holm"])
        rows[f"{positive} {contrast}"] = row
    return pd.DataFrame(rows).T


def contrast_auroc_text(aurocs: pd.DataFrame, contrast: str, rule: str) -> str:
    """``0.555 [0.448, 0.664], no better than chance``: the AUROC of the model trained with
    ``rule`` on ``contrast`` against chance (``undefined`` when the contrast lacks a class)."""
    row = aurocs[(aurocs["contrast"] == contrast) & (aurocs["model"] == MODEL_NAMES[rule])].iloc[0]
    if np.isnan(row["auroc"]):
        return "undefined (a contrast lacks a class in this sample)"
    return f"{interval_text(row['auroc'], row['low'], row['high'])}, {versus_chance(row['low'], row['high'])}"


def gap_verdict(comparisons: pd.DataFrame, rule: str) -> str:
    """How much better the model trained with ``rule`` separates the positives from No Finding
    than from other findings: the verdict of the paired AUROC gap (Holm within the family)."""
    row = comparison(comparisons, f"AUROC gap, {MODEL_NAMES[rule]}")
    if np.isnan(row["value"]):
        return "undefined (a contrast lacks a class in this sample)"
    return (f"{row['a_value']:.3f} against No Finding and {row['b_value']:.3f} against other findings; "
            + paired_verdict(row, "the No Finding contrast", "the other-finding contrast", "AUROC",
                             lower_is_better=False))


def called_verdict(comparisons: pd.DataFrame, rule: str) -> str:
    """Whether the model trained with ``rule`` calls other-finding images positive more often than
    No Finding images at its validation threshold (paired share difference, Holm)."""
    row = comparison(comparisons, f"called positive, {MODEL_NAMES[rule]}")
    if np.isnan(row["value"]):
        return "undefined (no negative of one kind in this sample)"
    return (f"{row['a_value']:.0%} of the other-finding negatives against {row['b_value']:.0%} of the "
            "No Finding negatives; " + paired_verdict(row, "the other-finding group", "the No Finding group",
                                                      "share called positive"))


def model_difference_verdict(comparisons: pd.DataFrame, contrast: str) -> str:
    """The paired AUROC difference of the two models on ``contrast`` (every other − No Finding)."""
    row = comparison(comparisons, f"AUROC difference {contrast}")
    if np.isnan(row["value"]):
        return "undefined (a contrast lacks a class in this sample)"
    return paired_verdict(row, "the model trained against every other image", "the model trained against No Finding",
                          "AUROC", lower_is_better=False)


def evaluation_counts(evaluation: pd.DataFrame) -> Mapping[str, int]:
    """The evaluation set's size for the prose: ``images, patients`` and the images of each kind,
    ``positive, no_finding, other``."""
    kinds = evaluation["negative"].value_counts()
    return {"images": len(evaluation), "patients": int(evaluation["patient_id"].nunique()),
            "positive": int(kinds.get("positive", 0)), "no_finding": int(kinds.get("No Finding", 0)),
            "other": int(kinds.get("other finding", 0))}
