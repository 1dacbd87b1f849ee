"""Binary task builder: from records to a labelled table, with every exclusion counted."""
from __future__ import annotations

from typing import Iterable

import pandas as pd

from .errors import DataError
from .exclusions import Exclusions
from .schema import NO_FINDING, has_finding

NEGATIVE_RULES = ("no_finding", "all")


def build_binary_task(records: pd.DataFrame, positive: str = "Pneumonia",
                      negatives: str = "no_finding", views: Iterable[str] | None = ("PA", "AP"),
                      min_source_width: int | None = 1024,
                      exclusions: Exclusions | None = None) -> tuple[pd.DataFrame, Exclusions]:
    """Label each image 1 if ``positive`` is among its findings, else 0.

    Args:
        records: reader output (:data:`tmvlib.data.schema.RECORD_COLUMNS`).
        positive: the finding to detect; must occur in ``records``.
        negatives: ``"no_finding"`` keeps as negatives only images labelled No Finding (images
            with other findings are excluded and counted); ``"all"`` keeps every other image.
        views: view positions to keep (``None`` keeps all).
        min_source_width: drop images made from files narrower than this (``None`` keeps all).
            NIH's 64-px copies come from a balanced normal/abnormal collection, so keeping them
            would let resolution predict the label.

    Returns:
        ``(task, exclusions)``: the records kept plus an int ``label`` column, and the ledger.
    """
    if negatives not in NEGATIVE_RULES:
        raise ValueError(f"negatives must be one of {NEGATIVE_RULES}, got {negatives!r}")
    known = sorted(set("|".join(records["findings"]).split("|")) - {""})
    if positive not in known:
        raise DataError(f"unknown positive finding {positive!r}; findings in the data: {known}")
    log = exclusions or Exclusions()
    frame = records
    if views is not None:
        views = list(views)
        frame = log.drop(frame, ~frame["view"].isin(views), "view filter", f"view not in {views}")
    if min_source_width is not None:
        too_small = frame["source_width"].fillna(0).astype(int) < min_source_width
        frame = log.drop(frame, too_small, "resolution filter",
                         f"made from a file narrower than {min_source_width} px")
    is_positive = has_finding(frame["findings"], positive)
    uncertain = has_finding(frame["uncertain"], positive) & ~is_positive
    frame = log.drop(frame, uncertain, "uncertain label", f"{positive} marked uncertain")
    is_positive = has_finding(frame["findings"], positive)
    if negatives == "no_finding":
        other = ~is_positive & (frame["findings"] != NO_FINDING)
        frame = log.drop(frame, other, "negative definition",
                         f"other finding without {positive} (negatives are No Finding only)")
    task = frame.copy()
    task["label"] = has_finding(task["findings"], positive).astype(int)
    if task.empty:
        raise DataError(f"the task {positive!r} vs {negatives!r} keeps no image after the filters")
    return task.reset_index(drop=True), log
