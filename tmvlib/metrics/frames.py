"""Checks shared by the per-image table builders of ``tmvlib.eval``."""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd


def require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """Raise KeyError naming ``what`` and the missing columns when ``frame`` lacks any of them."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"{what} needs column(s) {missing}; the frame has {list(frame.columns)}")
