"""Our localisation numbers beside the published ones (``tmvlib.tables.literature``)."""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from .wording import interval_text


def _cell(value, low, high) -> str:
    if value is None and low is not None:
        return f"{low:.3f} to {high:.3f} (range over methods)"
    if low is None:
        return f"{value:.3f}"
    return interval_text(value, low, high, 3)


def side_by_side(ours: pd.DataFrame, data: str, finding: str, published: Iterable[Mapping]) -> pd.DataFrame:
    """One table: ``ours`` (rows ``method, quantity, value, low, high`` from this run) under the
    study name "this report", then the ``published`` entries (dicts with ``study, data, finding,
    method, metric, value, low, high, source``). Columns ``study, data, finding, method, metric,
    value, source``."""
    rows = [{"study": "this report", "data": data, "finding": finding, "method": r.method,
             "metric": r.quantity, "value": _cell(r.value, r.low, r.high), "source": "this run"}
            for r in ours.itertuples()]
    rows += [{"study": p["study"], "data": p["data"], "finding": p["finding"], "method": p["method"],
              "metric": p["metric"], "value": _cell(p["value"], p["low"], p["high"]), "source": p["source"]}
             for p in published]
    return pd.DataFrame(rows)
