"""Checks and columns shared by the per-image table builders: required columns, score columns,
the error indicator of a frame with a ``correct`` column."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """Raise KeyError naming ``what`` and the missing columns when ``frame`` lacks any of them."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"{what} needs column(s) {missing}; the frame has {list(frame.columns)}")


# a score: a column name of the frame, or (N,) values
ScoreSpec = str | np.ndarray | pd.Series


def error_indicator(frame: pd.DataFrame) -> np.ndarray:
    """(N,) int error indicator ``1 - correct``; raises on a missing or non-boolean column."""
    require_columns(frame, ["correct"], "the error indicator")
    correct = frame["correct"]
    if correct.isna().any() or not correct.isin([True, False]).all():
        raise ValueError("column 'correct' must be boolean without missing values")
    return (~correct.astype(bool)).to_numpy().astype(int)


def score_array(frame: pd.DataFrame, spec: ScoreSpec, name: str) -> np.ndarray:
    """A score column (by name) or (N,) array as finite float64."""
    values = frame[spec] if isinstance(spec, str) else spec
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (len(frame),):
        raise ValueError(f"score {name!r} must have shape ({len(frame)},), got {values.shape}")
    n_bad = int((~np.isfinite(values)).sum())
    if n_bad:
        raise ValueError(f"score {name!r} holds {n_bad} non-finite value(s) out of {len(values)}")
    return values


def require_both_outcomes(errors: np.ndarray, what: str) -> None:
    """Raise ValueError (naming ``what`` and the count) unless ``errors`` (N,) holds both errors
    and correct predictions."""
    n_errors = int(errors.sum())
    if n_errors in (0, len(errors)):
        raise ValueError(f"{what} needs both errors and correct predictions; got {n_errors} "
                         f"error(s) among {len(errors)} images")


def errors_and_patients(frame: pd.DataFrame, what: str) -> tuple[np.ndarray, np.ndarray]:
    """(error indicator (N,), patient ids (N,)) after checking both outcomes are present."""
    require_columns(frame, ["patient_id"], what)
    errors = error_indicator(frame)
    require_both_outcomes(errors, what)
    return errors, frame["patient_id"].to_numpy()
