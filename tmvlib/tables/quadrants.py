"""Chapter 07's trust quadrants, set by set: its inputs (chapter 06's trust scores with the
image metadata), the quadrants of the NIH test and external images under validation cuts, the
cell counts and the danger-zone rates by explanation stability.

The per-frame builders are in :mod:`tmvlib.tables.trust` (:func:`~tmvlib.tables.trust.
assign_quadrants`, :func:`~tmvlib.tables.trust.quadrant_table`,
:func:`~tmvlib.tables.trust.danger_rate_by_stability`); the cell labels in
:mod:`tmvlib.tables.trust_cells`.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from ..metrics.frames import require_columns
from ..metrics.paired import holm
from .trust import assign_quadrants, danger_rate_by_stability, quadrant_table

METADATA_COLUMNS = ("view", "sex", "age", "quality", "source", "box_findings", "path")
QUADRANT_SETS = ("test", "external")
AMONG = {"all": "danger share, all images", "confident": "error rate, confident images"}


def read_trust_scores(path: str | Path, columns: Sequence[str]) -> pd.DataFrame:
    """Chapter 06's ``trust_scores.parquet``, checked to hold ``columns`` (the chosen uncertainty
    and instability scores).

    Raises:
        FileNotFoundError: the file is missing (run chapter 06 first).
        KeyError: a column is missing (the message lists the score columns there are).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; run chapter 06 first (make chapter CH=06)")
    scores = pd.read_parquet(path)
    for column in columns:
        if column not in scores.columns:
            raise KeyError(f"{column!r} is not a column of {path.name}; choose one of {list(scores.columns)[6:]}")
    return scores


def image_metadata(predictions: pd.DataFrame) -> pd.DataFrame:
    """Per image id (index), the metadata columns ``view, sex, age, quality, source,
    box_findings, path`` of chapter 02's predictions (first row of each image)."""
    require_columns(predictions, ["image_id", *METADATA_COLUMNS], "image_metadata")
    return predictions.drop_duplicates("image_id").set_index("image_id")[list(METADATA_COLUMNS)]


def _error_count(correct: pd.Series) -> int:
    return int((~correct).sum())


def set_counts(scores: pd.DataFrame) -> pd.DataFrame:
    """Per ``set`` (in order of appearance): ``images``, ``patients`` (distinct) and ``errors``
    (rows with ``correct`` False)."""
    require_columns(scores, ["set", "image_id", "patient_id", "correct"], "set_counts")
    return scores.groupby("set", sort=False).agg(images=("image_id", "size"), patients=("patient_id", "nunique"),
                                                 errors=("correct", _error_count))


def quadrants_by_set(scores: pd.DataFrame, uncertainty_score: str, instability_score: str,
                     uncertainty_threshold: float, instability_threshold: float,
                     sets: Sequence[str] = QUADRANT_SETS, max_flip_rate: float | None = None
                     ) -> dict[str, pd.DataFrame]:
    """set -> :func:`tmvlib.tables.trust.assign_quadrants` of its rows of ``scores`` (fresh
    0..N-1 index), for each of ``sets``, under the same cuts (and the same ``max_flip_rate`` on
    the TTA flip rate)."""
    return {name: assign_quadrants(scores[scores["set"] == name].reset_index(drop=True), uncertainty_score,
                                   instability_score, uncertainty_threshold, instability_threshold,
                                   max_flip_rate=max_flip_rate)
            for name in sets}


def quadrant_tables(quadrants: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """:func:`tmvlib.tables.trust.quadrant_table` of each set with a ``set`` column, stacked."""
    return pd.concat([quadrant_table(q).assign(set=name) for name, q in quadrants.items()], ignore_index=True)


def danger_rates(quadrants: Mapping[str, pd.DataFrame], n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """:func:`tmvlib.tables.trust.danger_rate_by_stability` of each set, among all images and
    among confident ones, stacked with ``set`` and ``among`` (the reading, :data:`AMONG`:
    "danger share, all images" / "error rate, confident images").

    The ``unstable - stable`` rows of all sets and readings form chapter 07's declared family:
    their Holm-adjusted p-values are in ``p_holm`` (NaN on the other rows)."""
    rates = pd.concat([danger_rate_by_stability(q, n_boot=n_boot, seed=seed, among=among).assign(set=name, among=among)
                       for name, q in quadrants.items() for among in AMONG], ignore_index=True)
    rates["among"] = rates["among"].map(AMONG)
    family = rates["explanation"] == "unstable - stable"
    rates["p_holm"] = holm(rates["p_value"], family=family)
    return rates


def quadrant_rows(quadrants: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Every set's quadrant rows stacked (new index), without the image ``path``: chapter 07's
    ``trust_quadrants.parquet``."""
    stacked = pd.concat(quadrants.values(), ignore_index=True)
    return stacked[[c for c in stacked.columns if c != "path"]]
