"""Reader for the Kermany pediatric pneumonia set (Kermany et al., Cell 2018).

Children aged 1-5 from Guangzhou: another hospital, population and scanner than NIH, so it is
used only as an external, shifted test set and never pooled with the NIH test split.
Patient ids come from the file names (``personN_bacteria_M`` -> ``personN``,
``IM-XXXX-YYYY`` -> ``IM-XXXX``, ``NORMAL2-IM-XXXX-YYYY`` -> ``NORMAL2-IM-XXXX``).
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .errors import DataError
from .schema import (NO_FINDING, finalize_records, optional_widths, read_csv, refuse_duplicates,
                     require_columns, require_relative_paths, require_text)

MANIFEST_COLUMNS = ("filename", "label", "source_repo", "source_processing")
_LABELS = {"PNEUMONIA": "Pneumonia", "NORMAL": NO_FINDING}
_PATIENT_PATTERNS = (
    re.compile(r"^(person\d+)_(bacteria|virus)_\d+$"),
    re.compile(r"^(NORMAL2-IM-\d+)(-\d+)+$"),
    re.compile(r"^(IM-\d+)(-\d+)+$"),
)


def kermany_patient_id(filename: str) -> str:
    """Patient id parsed from a Kermany file name; raises :class:`DataError` if it matches no rule."""
    stem = Path(filename).stem
    for pattern in _PATIENT_PATTERNS:
        match = pattern.match(stem)
        if match:
            return match.group(1)
    raise DataError(f"cannot parse a Kermany patient id from file name {filename!r}")


def patient_ids(filenames: pd.Series, source: str | Path) -> pd.Series:
    """:func:`kermany_patient_id` of every file name; :class:`DataError` naming ``source`` and the
    rows whose name follows no rule."""
    ids, bad = [], []
    for row, name in filenames.items():
        try:
            ids.append(kermany_patient_id(name))
        except DataError:
            ids.append("")
            bad.append(row + 2)
    if bad:
        raise DataError(f"{source}: cannot parse a Kermany patient id from the file names at CSV rows "
                        f"{bad[:20]}, e.g. {filenames[bad[0] - 2]!r}")
    return pd.Series(ids, index=filenames.index)


def _quality(processing: str) -> str:
    text = str(processing).lower()
    if "224" in text:
        return "squeezed"
    if "512" in text or "contrast" in text:
        return "enhanced"
    return "full"


def read_kermany(root: str | Path) -> pd.DataFrame:
    """All prepared Kermany images as records; the label is ``Pneumonia`` or ``No Finding``.

    Without a manifest (a raw ``chest_xray/{train,test,val}/{NORMAL,PNEUMONIA}`` download) the
    label is the parent folder's name.
    """
    root = Path(root)
    manifest_path = root / "manifest.csv"
    if manifest_path.is_file():
        frame = read_csv(manifest_path)
        require_columns(frame, MANIFEST_COLUMNS, manifest_path, rows=True)
        frame["filename"] = require_relative_paths(require_text(frame, "filename", manifest_path), manifest_path)
        refuse_duplicates(frame, "filename", manifest_path)
        if "original_width" in frame:
            frame["original_width"] = optional_widths(frame, "original_width", manifest_path)
        paths = [root / "images" / name for name in frame["filename"]]
    else:
        files = sorted(p for p in root.rglob("*") if p.suffix.lower() in {".jpeg", ".jpg", ".png"})
        if not files:
            raise DataError(f"{root}: no manifest.csv and no images below it")
        frame = pd.DataFrame({"filename": [p.name for p in files],
                              "label": [p.parent.name.upper() for p in files],
                              "source_repo": "Kermany et al. 2018 (Mendeley Data)",
                              "source_processing": "original-resolution JPEG, unaltered"})
        manifest_path, paths = root, files
    bad = ~frame["label"].isin(list(_LABELS))
    if bad.any():
        rows = (frame.index[bad] + 2).tolist()[:10]
        raise DataError(f"{manifest_path}: unknown label(s) {sorted(frame.loc[bad, 'label'].unique())} "
                        f"at rows {rows}; known: {sorted(_LABELS)}")
    records = pd.DataFrame({
        "image_id": frame["filename"].map(lambda name: Path(name).stem),
        "dataset": "kermany",
        "path": [str(Path(p).resolve()) for p in paths],
        "patient_id": patient_ids(frame["filename"], manifest_path),
        "findings": frame["label"].map(_LABELS),
        "view": "AP",
        "source_width": frame.get("original_width"),
        "quality": frame["source_processing"].map(_quality),
        "source": frame["source_repo"].fillna("").astype(str),
    })
    return finalize_records(records)
