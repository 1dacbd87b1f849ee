"""Reader for CheXpert (Irvin et al., AAAI 2019), with the uncertain-label policy as a parameter.

CheXpert marks a finding 1 (positive), 0 (negative), -1 (uncertain) or blank (not mentioned).
Policies from the CheXpert paper: ``u_zeros`` (uncertain -> negative), ``u_ones`` (uncertain ->
positive) and ``ignore`` (kept aside in ``uncertain``; the task builder then excludes an image
whose target finding is uncertain, and counts it).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .errors import DataError
from .schema import (NO_FINDING, finalize_records, read_csv, refuse_duplicates, require_columns,
                     require_relative_paths, require_text)

CHEXPERT_FINDINGS = (
    "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema",
    "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion",
    "Pleural Other", "Fracture", "Support Devices",
)
UNCERTAIN_POLICIES = ("u_zeros", "u_ones", "ignore")


def _findings_for_row(row: pd.Series, policy: str) -> tuple[str, str]:
    positive = [f for f in CHEXPERT_FINDINGS if row[f] == 1 or (policy == "u_ones" and row[f] == -1)]
    uncertain = [f for f in CHEXPERT_FINDINGS if policy == "ignore" and row[f] == -1]
    return ("|".join(positive) or NO_FINDING), "|".join(uncertain)


def read_chexpert(root: str | Path, uncertain_policy: str = "u_zeros",
                  files: tuple[str, ...] = ("train.csv", "valid.csv")) -> pd.DataFrame:
    """CheXpert images as records.

    ``root`` is the ``CheXpert-v1.0[-small]`` folder; its CSVs give paths relative to its parent.
    A prepared folder (``manifest.csv`` + ``images/``) from ``tmv data prepare`` works too.
    """
    if uncertain_policy not in UNCERTAIN_POLICIES:
        raise ValueError(f"uncertain_policy must be one of {UNCERTAIN_POLICIES}, got {uncertain_policy!r}")
    root = Path(root)
    manifest = root / "manifest.csv"
    if manifest.is_file():
        frame = read_csv(manifest)
        require_columns(frame, ("filename", "Path"), manifest)
        paths = [root / "images" / name for name in
                 require_relative_paths(require_text(frame, "filename", manifest), manifest)]
        sources = [manifest]
    else:
        sources = [root / name for name in files if (root / name).is_file()]
        if not sources:
            raise DataError(f"{root}: none of {files} found")
        frame = pd.concat([read_csv(path) for path in sources], ignore_index=True)
        paths = ([root.parent / rel for rel in require_relative_paths(require_text(frame, "Path", sources[0]), sources[0])]
                 if "Path" in frame else [])
    source = ", ".join(map(str, sources))
    require_columns(frame, ("Path", "Sex", "Age", "AP/PA", *CHEXPERT_FINDINGS), source, rows=True)
    frame["Path"] = require_text(frame, "Path", source)
    refuse_duplicates(frame, "Path", source)
    values = frame[list(CHEXPERT_FINDINGS)]
    bad = ~(values.isin([1, 0, -1]) | values.isna()).all(axis=1)
    if bad.any():
        raise DataError(f"{source}: label values other than 1/0/-1/blank at rows "
                        f"{(frame.index[bad] + 2).tolist()[:10]}")
    findings = frame.apply(_findings_for_row, axis=1, args=(uncertain_policy,), result_type="expand")
    parts = frame["Path"].str.split("/")
    records = pd.DataFrame({
        "image_id": parts.map(lambda p: "_".join(p[-3:])).str.replace(".jpg", "", regex=False),
        "dataset": "chexpert",
        "path": [str(Path(p)) for p in paths],
        "patient_id": parts.map(lambda p: next((s for s in p if s.startswith("patient")), "")),
        "findings": findings[0],
        "uncertain": findings[1],
        "age": frame["Age"],
        "sex": frame["Sex"].map({"Male": "M", "Female": "F"}),
        "view": frame["AP/PA"],
        "source": "CheXpert (Stanford)",
    })
    if (records["patient_id"] == "").any():
        rows = (records.index[records["patient_id"] == ""] + 2).tolist()[:10]
        raise DataError(f"{source}: no patient id in Path at rows {rows}")
    return finalize_records(records)
