"""Chapter 02's cross-fitted evaluation as a table and sentences (from
:func:`tmvlib.tables.cross_fit.cross_fitted_summary`)."""
from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ..tables.cross_fit import POOLED, SUMMARY_METRICS
from .wording import interval_column

__all__ = ["cross_fitted_table", "fold_range_text", "interval_width", "role_size_table"]


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
