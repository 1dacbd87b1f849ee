"""The one record schema every reader returns, and the CSV checks they share.

One row per image. ``findings`` is a ``|``-separated string of positive findings
(``"No Finding"`` when none), so that a table stays flat and parquet-friendly.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import pandas as pd

from .errors import DataError

RECORD_COLUMNS = (
    "image_id",      # file stem, unique within a dataset
    "dataset",       # nih14 | chexpert | kermany
    "path",          # absolute path of the image file
    "patient_id",    # string; the unit of every split and bootstrap
    "findings",      # "|"-separated positive findings, "No Finding" if none
    "uncertain",     # "|"-separated findings left uncertain (CheXpert, policy "ignore")
    "age",           # years (float, NaN when unknown)
    "sex",           # M | F | NaN
    "view",          # PA | AP | LL | ... | NaN
    "source_width",  # width of the file the prepared image was made from
    "quality",       # full | downsampled | squeezed | enhanced (see the data README)
    "source",        # where the file came from
    "box_findings",  # "|"-separated findings with a radiologist box ("" if none)
    "expert_set",    # val | test when the image has Google 2019 expert labels, else ""
)

NIH_FINDINGS = (
    "Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Effusion", "Emphysema", "Fibrosis",
    "Hernia", "Infiltration", "Mass", "Nodule", "Pleural_Thickening", "Pneumonia", "Pneumothorax",
)
NO_FINDING = "No Finding"


def require_columns(frame: pd.DataFrame, required: Iterable[str], source: str | Path) -> None:
    """Raise :class:`DataError` naming ``source`` and every missing column."""
    missing = [col for col in required if col not in frame.columns]
    if missing:
        raise DataError(f"{source}: missing column(s) {missing}; found {list(frame.columns)}")


def refuse_duplicates(frame: pd.DataFrame, column: str, source: str | Path) -> None:
    """Raise :class:`DataError` naming the CSV rows (1-based, header = row 1) that repeat an id."""
    dup = frame[column].duplicated(keep=False)
    if dup.any():
        rows = (frame.index[dup] + 2).tolist()[:20]
        ids = sorted(frame.loc[dup, column].astype(str).unique())[:10]
        raise DataError(f"{source}: duplicate {column} {ids} at CSV rows {rows}")


def refuse_unknown_labels(labels: pd.Series, known: Iterable[str], source: str | Path) -> None:
    """Raise :class:`DataError` naming rows whose ``|``-separated labels are not all in ``known``."""
    known = set(known)
    bad = labels.fillna("").map(lambda s: sorted(set(s.split("|")) - known))
    rows = bad[bad.map(len) > 0]
    if len(rows):
        detail = "; ".join(f"row {i + 2}: {labs}" for i, labs in rows.head(10).items())
        raise DataError(f"{source}: unknown label(s) in {len(rows)} row(s): {detail}; "
                        f"known labels: {sorted(known)}")


def finalize_records(frame: pd.DataFrame) -> pd.DataFrame:
    """Order and type the schema columns; fill the optional ones a reader did not set."""
    out = frame.copy()
    for col, default in (("uncertain", ""), ("box_findings", ""), ("expert_set", ""),
                         ("source", ""), ("quality", "full")):
        if col not in out:
            out[col] = default
    for col in ("age", "sex", "view", "source_width"):
        if col not in out:
            out[col] = pd.NA
    out["age"] = pd.to_numeric(out["age"], errors="coerce").astype("float64")
    out["source_width"] = pd.to_numeric(out["source_width"], errors="coerce").astype("Int64")
    for col in ("image_id", "dataset", "path", "patient_id", "findings", "uncertain",
                "quality", "source", "box_findings", "expert_set"):
        out[col] = out[col].fillna("").astype(str)
    return out.loc[:, list(RECORD_COLUMNS)].reset_index(drop=True)


def has_finding(findings: pd.Series, name: str) -> pd.Series:
    """Boolean mask: ``name`` is one of the ``|``-separated findings."""
    return findings.str.split("|").map(lambda labs: name in labs)
