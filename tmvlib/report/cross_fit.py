"""Cross-fitted evaluation as tables and sentences: chapter 02's summary (from
:func:`tmvlib.tables.cross_fit.cross_fitted_summary`) and chapter 07's deferral rule per fold (from
:func:`tmvlib.tables.cross_fit_trust.cross_fitted_deferral`)."""
from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ..formatting import interval_text
from ..tables.cross_fit import POOLED, SUMMARY_METRICS
from .deferral import coverage_text
from .wording import interval_column

__all__ = ["cross_fitted_table", "deferral_fold_table", "deferral_fold_text", "fold_modes_text", "fold_range_text",
           "interval_width", "role_size_table"]


def cross_fitted_table(summary: pd.DataFrame, thresholds: pd.Series, best_epochs: dict[int, int]) -> pd.DataFrame:
    """One row per model (pooled, then each fold): each metric as ``value [low, high]``, images /
    patients, and for a fold its threshold (fitted on its calibration fold) and kept epoch."""
    texts = interval_column(summary).unstack("metric")[list(SUMMARY_METRICS)]
    counts = summary.groupby(level="model", sort=False)[["images", "patients"]].first()
    table = texts.join(counts.astype(str).agg(" / ".join, axis=1).rename("images / patients"))
    folds = {f"fold {f}": f for f in thresholds.index}
    table["threshold"] = [f"{thresholds[folds[m]]:.3f}" if m in folds else "each fold's own" for m in table.index]
    table["epoch kept"] = [str(best_epochs[folds[m]]) if m in folds else "-" for m in table.index]
    return table.reindex([POOLED, *folds])


def fold_range_text(summary: pd.DataFrame, metric: str = "AUROC", digits: int = 3) -> str:
    """``"0.801 to 0.874 over the 5 folds"``: the per-fold estimates' range."""
    values = summary.xs(metric, level="metric").drop(index=POOLED)["value"]
    return f"{values.min():.{digits}f} to {values.max():.{digits}f} over the {len(values)} folds"


def interval_width(summary: pd.DataFrame, model: str = POOLED, metric: str = "AUROC") -> float:
    """``high - low`` of one model's interval of ``metric``."""
    row = summary.loc[(model, metric)]
    return float(row["high"] - row["low"])


def role_size_table(sets: Mapping[int, Mapping[str, pd.DataFrame]]) -> pd.DataFrame:
    """``images / patients`` of every role (columns) of every fold model (rows), from
    :func:`tmvlib.data.folds.role_sets`."""
    return pd.DataFrame({fold: {role: f"{len(rows)} / {rows['patient_id'].nunique()}" for role, rows in roles.items()}
                         for fold, roles in sets.items()}).T.rename_axis("fold model")


#: the deferral quantities of :func:`deferral_fold_table`, in its column order
DEFERRAL_QUANTITIES = ("coverage", "error among answered")


def _rule_rows(outcomes: pd.DataFrame, score: str, rule: str) -> pd.DataFrame:
    rows = outcomes[(outcomes["score"] == score) & (outcomes["rule"] == rule)]
    if not len(rows):
        raise KeyError(f"no cross-fitted deferral outcomes for {rule} {score!r}")
    return rows


def deferral_fold_table(outcomes: pd.DataFrame, score: str, rule: str) -> pd.DataFrame:
    """One row per model (pooled, then each fold) of one rule: coverage and the error among the
    answered cases as ``value [low, high]`` (percent; ``-`` where nothing is answered), the
    answered / evaluated images, the calibration patients (one image each) and whether the fold's
    rule certifies a threshold."""
    rows = _rule_rows(outcomes, score, rule)
    n_folds = int(rows.loc[rows["model"] != POOLED, "model"].nunique())
    table = {}
    for model, g in rows.groupby("model", sort=False):
        q = g.set_index("quantity")
        entry = {quantity: interval_text(q.loc[quantity, "value"], q.loc[quantity, "low"], q.loc[quantity, "high"],
                                         digits=0, percent=True) for quantity in DEFERRAL_QUANTITIES}
        entry["answered / images"] = f"{int(q.loc['coverage', 'events'])} / {int(q.loc['coverage', 'n'])}"
        entry["calibration patients"] = str(int(q.loc["coverage", "calibration"]))
        certified = int(q.loc["coverage", "certified"])
        entry["certified"] = f"{certified} of {n_folds} folds" if model == POOLED else ("yes" if certified else "no")
        table[model] = entry
    return pd.DataFrame(table).T.rename_axis("model").reindex([POOLED, *[m for m in table if m != POOLED]])


def deferral_fold_text(outcomes: pd.DataFrame, score: str, rule: str) -> str:
    """``"3 of the 5 fold models certify a threshold; pooled over their test folds, the rule answers
    ..."``: how many folds certify and what the rule does pooled (:func:`tmvlib.report.deferral.
    coverage_text`)."""
    rows = _rule_rows(outcomes, score, rule)
    pooled = rows[rows["model"] == POOLED]
    n_folds = int(rows.loc[rows["model"] != POOLED, "model"].nunique())
    certified = int(pooled["certified"].iloc[0])
    return (f"{certified} of the {n_folds} fold models certify a threshold; pooled over their test folds, "
            f"the rule {coverage_text(pooled)}")


def fold_modes_text(modes: pd.DataFrame) -> str:
    """``"fold 0: AP view; fold 1: none; ..."``: the modes supported within each fold's calibration
    fold (:func:`tmvlib.tables.cross_fit_trust.fold_failure_modes_val`), what each fold's card
    would warn about."""
    parts = []
    for fold, rows in modes.groupby("fold", sort=True):
        supported = rows.loc[rows["status"] == "supported", "mode"].tolist()
        parts.append(f"fold {fold}: {', '.join(supported) if supported else 'none'}")
    return "; ".join(parts)
