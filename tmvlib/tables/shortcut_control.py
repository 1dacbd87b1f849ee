"""The shortcut control of chapter 02: does the model detect the finding, or any abnormality?

Two models, one trained against No Finding images only (``no_finding``) and one against every
other image (``all``), are scored on the same held-out images, the test patients of the ``all``
task (:class:`tmvlib.data.contrast.ContrastTask`), which hold positives, No Finding images and
images with other findings. A model that had learned "abnormal" rather than the finding would
separate the positives from No Finding well and from other findings poorly, and would call many
other-finding images positive.

Every comparison is a paired patient-bootstrap difference (:mod:`tmvlib.metrics.paired`), and
the comparisons form one Holm family (declared in ``book/protocol.md``).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..metrics.bootstrap import patient_bootstrap
from ..metrics.discrimination import auroc
from ..metrics.paired import group_mean, holm_family, paired_bootstrap

MODEL_NAMES = {"no_finding": "trained vs No Finding", "all": "trained vs every other image"}
# negative kinds (tmvlib.data.contrast.negative_kind) each contrast keeps beside the positives
CONTRASTS = {"vs No Finding": ("No Finding",), "vs other findings": ("other finding",),
             "vs every other image": ("No Finding", "other finding")}
COMPARISON_COLUMNS = ["comparison", "a", "b", "value", "low", "high", "a_value", "b_value", "se",
                      "p_value", "mdd", "p_holm", "p_method", "p_mc_error", "p_holm_mc_error", "family_size"]


def contrast_member(evaluation: pd.DataFrame, contrast: str) -> np.ndarray:
    """(N,) bool: the positives and the negatives of kind ``CONTRASTS[contrast]``."""
    kinds = evaluation["negative"]
    return ((kinds == "positive") | kinds.isin(CONTRASTS[contrast])).to_numpy()


def _auroc_of(labels: np.ndarray, probs: np.ndarray, member: np.ndarray):
    def statistic(rows: np.ndarray, weight: np.ndarray) -> float:
        keep = member[rows]
        return auroc(labels[rows][keep], probs[rows][keep], sample_weight=weight[keep])
    return statistic


def contrast_auroc_table(evaluation: pd.DataFrame, probs: Mapping[str, str], n_boot: int = 1000,
                         seed: int = 0) -> pd.DataFrame:
    """AUROC of each model on each contrast with its patient-bootstrap interval.

    Args:
        evaluation: ``label, negative, patient_id`` and one probability column per model.
        probs: negative rule the model was trained with (``no_finding``/``all``) -> its column.
    Returns:
        rows ``contrast, model, images, positives, negatives, auroc, low, high`` (NaN where a
        contrast lacks a class).
    """
    rows = []
    for contrast in CONTRASTS:
        part = evaluation[contrast_member(evaluation, contrast)]
        labels, patients = part["label"].to_numpy(), part["patient_id"].to_numpy()
        for rule, column in probs.items():
            row = {"contrast": contrast, "model": MODEL_NAMES[rule], "images": len(part),
                   "positives": int(labels.sum()), "negatives": int((labels == 0).sum())}
            try:
                interval = patient_bootstrap(auroc, labels, part[column].to_numpy(), patients,
                                             n_boot=n_boot, seed=seed)
                row.update(auroc=interval.value, low=interval.low, high=interval.high)
            except ValueError:
                row.update(auroc=np.nan, low=np.nan, high=np.nan)
            rows.append(row)
    return pd.DataFrame(rows)


def _paired_row(statistic_a, statistic_b, patients, n_boot, seed, **labels) -> dict:
    try:
        return paired_bootstrap(statistic_a, statistic_b, patients, n_boot=n_boot, seed=seed).row(**labels)
    except ValueError:  # a statistic undefined on the data (a contrast without a class)
        return {**labels, **{k: np.nan for k in ("value", "low", "high", "a_value", "b_value", "se", "p_value",
                                                  "mdd")}}


def _comparison_statistics(evaluation: pd.DataFrame, probs: Mapping[str, str],
                           thresholds: Mapping[str, float]) -> list[tuple[dict, object, object]]:
    """The shortcut control's comparisons as ``(labels, statistic a, statistic b)``, in table order:
    the one definition :func:`shortcut_comparisons` resamples and :func:`shortcut_estimates`
    evaluates once."""
    labels, kinds = evaluation["label"].to_numpy(), evaluation["negative"].to_numpy()
    value = {rule: evaluation[column].to_numpy(dtype=float) for rule, column in probs.items()}
    out = []
    if {"all", "no_finding"} <= set(probs):
        for contrast in CONTRASTS:
            member = contrast_member(evaluation, contrast)
            out.append(({"comparison": f"AUROC difference {contrast}", "a": MODEL_NAMES["all"],
                         "b": MODEL_NAMES["no_finding"]},
                        _auroc_of(labels, value["all"], member), _auroc_of(labels, value["no_finding"], member)))
    for rule in probs:
        out.append(({"comparison": f"AUROC gap, {MODEL_NAMES[rule]}", "a": "vs No Finding", "b": "vs other findings"},
                    _auroc_of(labels, value[rule], contrast_member(evaluation, "vs No Finding")),
                    _auroc_of(labels, value[rule], contrast_member(evaluation, "vs other findings"))))
    for rule in probs:
        called = (value[rule] >= thresholds[rule]).astype(float)
        out.append(({"comparison": f"called positive, {MODEL_NAMES[rule]}", "a": "other-finding negatives",
                     "b": "No Finding negatives"},
                    group_mean(called, kinds == "other finding"), group_mean(called, kinds == "No Finding")))
    return out


def shortcut_comparisons(evaluation: pd.DataFrame, probs: Mapping[str, str],
                         thresholds: Mapping[str, float], n_boot: int = 1000,
                         seed: int = 0) -> pd.DataFrame:
    """The paired comparisons of the shortcut control, Holm-corrected as one family.

    Rows (``a - b`` each):

    - ``AUROC difference`` per contrast: model ``all`` minus model ``no_finding`` on the same
      images;
    - ``AUROC gap`` per model: its AUROC vs No Finding minus vs other findings (one shared
      patient resampling; the positives are common to both);
    - ``called positive`` per model: the share of other-finding negatives minus the share of No
      Finding negatives at or above the model's threshold (fitted on its own validation split).

    Args:
        evaluation: ``label, negative, patient_id`` and one probability column per model.
        probs: negative rule -> probability column; thresholds: negative rule -> threshold.
    Returns:
        rows with :data:`COMPARISON_COLUMNS` (NaN where a statistic is undefined).
    """
    patients = evaluation["patient_id"].to_numpy()
    rows = [_paired_row(a, b, patients, n_boot, seed, **labels)
            for labels, a, b in _comparison_statistics(evaluation, probs, thresholds)]
    table = pd.DataFrame(rows)
    return (holm_family(table) if len(table) else table).reindex(columns=COMPARISON_COLUMNS)


def shortcut_estimates(evaluation: pd.DataFrame, probs: Mapping[str, str],
                       thresholds: Mapping[str, float]) -> pd.Series:
    """The point estimate ``a - b`` of every :func:`shortcut_comparisons` row on ``evaluation``
    as it is (no resampling; NaN where a statistic is undefined, e.g. a contrast without a class).

    Returns:
        float Series ``comparison -> value``, in the table's order.
    """
    n = len(evaluation)
    full, ones = np.arange(n), np.ones(n)
    values = {}
    for labels, a, b in _comparison_statistics(evaluation, probs, thresholds):
        try:
            values[labels["comparison"]] = float(a(full, ones)) - float(b(full, ones))
        except ValueError:
            values[labels["comparison"]] = np.nan
    return pd.Series(values, name="value", dtype=float).rename_axis("comparison")


def comparison(table: pd.DataFrame, name: str) -> pd.Series:
    """The row of ``table`` whose ``comparison`` is ``name`` (KeyError listing the names)."""
    match = table[table["comparison"] == name]
    if match.empty:
        raise KeyError(f"no comparison {name!r}; have {table['comparison'].tolist()}")
    return match.iloc[0]
