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


def read_csv(path: str | Path, **options) -> pd.DataFrame:
    """``pandas.read_csv`` whose failures (an empty file, undecodable bytes, a malformed row, an
    unreadable file) become a :class:`DataError` naming the file."""
    try:
        return pd.read_csv(path, **options)
    except (OSError, ValueError, pd.errors.ParserError) as err:  # EmptyDataError, UnicodeDecodeError are ValueErrors
        raise DataError(f"{path}: cannot be read as a CSV table ({type(err).__name__}: {err})") from err


def require_text(frame: pd.DataFrame, column: str, source: str | Path) -> pd.Series:
    """``frame[column]`` as strings; :class:`DataError` naming the CSV rows (1-based, header =
    row 1) where it is blank or missing. Ids read as numbers (``123``) become ``"123"``."""
    values = frame[column]
    text = values.map(lambda v: "" if pd.isna(v) else (str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)))
    blank = text.str.strip() == ""
    if blank.any():
        rows = (frame.index[blank] + 2).tolist()[:20]
        raise DataError(f"{source}: blank or missing {column!r} at CSV rows {rows}")
    return text


def require_relative_paths(names: pd.Series, source: str | Path) -> pd.Series:
    """File names that stay inside the dataset folder: :class:`DataError` naming the rows of an
    absolute name or one with a ``..`` part."""
    bad = names.map(lambda n: Path(n).is_absolute() or ".." in Path(n).parts or "\x00" in n)
    if bad.any():
        rows = (names.index[bad] + 2).tolist()[:20]
        raise DataError(f"{source}: file names outside the dataset folder (absolute or with '..') at CSV rows {rows}")
    return names


def require_numbers(frame: pd.DataFrame, columns: Iterable[str], source: str | Path) -> pd.DataFrame:
    """The ``columns`` as finite floats; :class:`DataError` naming the rows where one is not a number."""
    numbers = frame[list(columns)].apply(pd.to_numeric, errors="coerce").astype("float64")
    bad = ~numbers.apply(lambda col: col.map(lambda v: pd.notna(v) and abs(v) != float("inf"))).all(axis=1)
    if bad.any():
        rows = (frame.index[bad] + 2).tolist()[:20]
        raise DataError(f"{source}: non-numeric or missing {list(columns)} at CSV rows {rows}")
    return numbers


MAX_SOURCE_WIDTH = 100_000  # pixels; anything wider is a broken value, not a radiograph


def implausible_widths(values: pd.Series) -> pd.Series:
    """True where a source width is present but not a whole number of pixels in
    ``1..MAX_SOURCE_WIDTH`` (``values`` already numeric, NaN for blanks)."""
    return values.notna() & ~((values >= 1) & (values <= MAX_SOURCE_WIDTH) & (values == values.round()))


def optional_widths(frame: pd.DataFrame, column: str, source: str | Path) -> pd.Series:
    """``frame[column]``, an image width in pixels where blanks are allowed (NaN), as floats;
    :class:`DataError` naming the CSV rows holding something else (text, a fraction, 0, 1e300)."""
    numbers = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    text = frame[column].map(lambda v: "" if pd.isna(v) else str(v).strip())
    bad = (numbers.isna() & (text != "")) | implausible_widths(numbers)
    if bad.any():
        rows = (frame.index[bad] + 2).tolist()[:20]
        raise DataError(f"{source}: {column!r} is not a width in pixels (a whole number from 1 to "
                        f"{MAX_SOURCE_WIDTH:,}) at CSV rows {rows}")
    return numbers


def require_columns(frame: pd.DataFrame, required: Iterable[str], source: str | Path,
                    rows: bool = False) -> None:
    """Raise :class:`DataError` naming ``source`` and every missing column (and, with ``rows``,
    when the table has no row)."""
    missing = [col for col in required if col not in frame.columns]
    if missing:
        raise DataError(f"{source}: missing column(s) {missing}; found {list(frame.columns)}")
    if rows and frame.empty:
        raise DataError(f"{source}: the table has a header but no rows")


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
    bad = labels.map(lambda s: sorted(set(("" if pd.isna(s) else str(s)).split("|")) - known))
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
    width = pd.to_numeric(out["source_width"], errors="coerce").astype("float64")
    if implausible_widths(width).any():
        raise DataError(f"implausible source widths (not whole pixels in 1..{MAX_SOURCE_WIDTH:,}) for images "
                        f"{out.loc[implausible_widths(width), 'image_id'].head(5).tolist()}")
    out["source_width"] = width.astype("Int64")
    for col in ("image_id", "dataset", "path", "patient_id", "findings", "uncertain",
                "quality", "source", "box_findings", "expert_set"):
        out[col] = out[col].fillna("").astype(str)
    return out.loc[:, list(RECORD_COLUMNS)].reset_index(drop=True)


def has_finding(findings: pd.Series, name: str) -> pd.Series:
    """Boolean mask: ``name`` is one of the ``|``-separated findings."""
    return findings.str.split("|").map(lambda labs: name in labs)
