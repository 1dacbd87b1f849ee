"""Metrics per subgroup (view, sex, age band), to see where performance differs."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .bootstrap import patient_bootstrap
from .discrimination import auroc


def subgroup_auroc(predictions: pd.DataFrame, column: str, n_boot: int = 1000, seed: int = 0,
                   min_per_class: int = 5, score: str = "prob") -> pd.DataFrame:
    """AUROC with patient-bootstrap 95% interval for each value of ``column``, ranking by ``score``
    (the probability; pooled fold models: the threshold-aligned one).

    Groups with fewer than ``min_per_class`` images of either class get NaN (shown, not dropped).
    """
    rows = []
    for value, group in predictions.groupby(column, dropna=False):
        positives = int(group["label"].sum())
        row = {column: value, "images": len(group), "positives": positives,
               "AUROC": np.nan, "low": np.nan, "high": np.nan}
        if min(positives, len(group) - positives) >= min_per_class:
            interval = patient_bootstrap(auroc, group["label"].to_numpy(), group[score].to_numpy(),
                                         group["patient_id"].to_numpy(), n_boot=n_boot, seed=seed)
            row.update(AUROC=interval.value, low=interval.low, high=interval.high)
        rows.append(row)
    return pd.DataFrame(rows)
