"""Reader for NIH ChestX-ray14 (Wang et al., CVPR 2017) in the prepared 256-px layout.

Layout (``../shared/data/nih14`` or what ``tmv data prepare`` writes)::

    nih14/images/<Image Index stem>.jpg
    nih14/manifest.csv          one row per prepared image (filename, original_width, ...)
    nih14/meta/Data_Entry_2017*.csv[.gz]   official labels, patient ids, age, sex, view
    nih14/meta/BBox_List_2017.csv[.gz]     radiologist boxes (1024-px frame)
    nih14/meta/google2019_*.csv[.gz]       expert re-adjudicated labels (Majkowska et al. 2020)
    nih14/meta/train_val_list.txt, test_list.txt   the release's official patient split (optional)

Labels, patients and demographics are always taken from the official ``Data_Entry`` file (not
from copies of it), so that a prepared folder and an official download give the same records.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .errors import DataError
from .schema import (NIH_FINDINGS, NO_FINDING, finalize_records, read_csv, refuse_duplicates,
                     refuse_unknown_labels, require_columns, optional_widths, require_numbers,
                     require_relative_paths, require_text)

ENTRY_COLUMNS = ("Image Index", "Finding Labels", "Patient ID", "Patient Age", "Patient Gender",
                 "View Position")
MANIFEST_COLUMNS = ("filename", "original_width", "source_repo", "source_processing")
BOX_COLUMNS = ("Image Index", "Finding Label", "Bbox [x", "y", "w", "h]")
# The box list spells Infiltration as "Infiltrate".
_BOX_LABEL_ALIASES = {"Infiltrate": "Infiltration"}
NIH_BOX_FRAME = 1024


def _find_one(folder: Path, pattern: str, what: str, required: bool = True) -> Path | None:
    matches = sorted(folder.glob(pattern)) + sorted(folder.glob(f"meta/{pattern}"))
    if not matches:
        if required:
            raise DataError(f"{folder}: no {what} file matching {pattern!r} (in it or in meta/)")
        return None
    return matches[-1]  # the newest official revision sorts last (v2020 after the 2017 file)


def read_nih_entries(path: str | Path) -> pd.DataFrame:
    """Read and validate ``Data_Entry_2017*.csv``: columns, duplicate ids, known labels."""
    frame = read_csv(path, dtype={"Patient ID": str})
    require_columns(frame, ENTRY_COLUMNS, path, rows=True)
    for column in ("Image Index", "Patient ID"):
        frame[column] = require_text(frame, column, path)
    refuse_duplicates(frame, "Image Index", path)
    refuse_unknown_labels(frame["Finding Labels"], (*NIH_FINDINGS, NO_FINDING), path)
    frame["image_id"] = frame["Image Index"].map(lambda name: Path(name).stem)
    return frame


def read_nih_boxes(root: str | Path, image_size: int = 256) -> pd.DataFrame:
    """Radiologist boxes, rescaled from the 1024-px NIH frame to ``image_size``.

    Returns:
        DataFrame with ``image_id, finding, x, y, w, h`` (pixels of the prepared image);
        empty when the dataset has no box file.
    """
    path = _find_one(Path(root), "BBox_List_2017*.csv*", "bounding-box", required=False)
    if path is None:
        return pd.DataFrame(columns=["image_id", "finding", "x", "y", "w", "h"])
    frame = read_csv(path)
    require_columns(frame, BOX_COLUMNS, path)
    scale = image_size / NIH_BOX_FRAME
    xywh = require_numbers(frame, ["Bbox [x", "y", "w", "h]"], path) * scale
    boxes = pd.DataFrame({
        "image_id": require_text(frame, "Image Index", path).map(lambda name: Path(name).stem),
        "finding": require_text(frame, "Finding Label", path).replace(_BOX_LABEL_ALIASES),
        "x": xywh["Bbox [x"], "y": xywh["y"], "w": xywh["w"], "h": xywh["h]"],
    })
    refuse_unknown_labels(boxes["finding"], NIH_FINDINGS, path)
    return boxes


def read_nih_expert_labels(root: str | Path) -> pd.DataFrame:
    """Google 2019 expert labels (``image_id``, four adjudicated findings, ``expert_set``)."""
    path = _find_one(Path(root), "google2019*.csv*", "Google 2019 expert-label", required=False)
    cols = ["image_id", "Fracture", "Pneumothorax", "Airspace opacity", "Nodule or mass", "expert_set"]
    if path is None:
        return pd.DataFrame(columns=cols)
    frame = read_csv(path)
    require_columns(frame, ("Image Index", "Set Id", "Airspace opacity"), path)
    frame["image_id"] = require_text(frame, "Image Index", path).map(lambda name: Path(name).stem)
    refuse_duplicates(frame, "image_id", path)
    return frame.rename(columns={"Set Id": "expert_set"}).reindex(columns=cols)


def read_nih(root: str | Path) -> pd.DataFrame:
    """All prepared NIH images as records (see :data:`tmvlib.data.schema.RECORD_COLUMNS`).

    Raises:
        DataError: a CSV has missing columns, duplicate ids or unknown labels, or a prepared image
            has no row in the official ``Data_Entry`` file (the message names them).
    """
    root = Path(root)
    entries = read_nih_entries(_find_one(root, "Data_Entry_2017*.csv*", "Data_Entry label"))
    manifest_path = root / "manifest.csv"
    if manifest_path.is_file():
        manifest = read_csv(manifest_path)
        require_columns(manifest, MANIFEST_COLUMNS, manifest_path, rows=True)
        manifest["filename"] = require_relative_paths(require_text(manifest, "filename", manifest_path),
                                                      manifest_path)
        refuse_duplicates(manifest, "filename", manifest_path)
        manifest["original_width"] = optional_widths(manifest, "original_width", manifest_path)
        manifest["image_id"] = manifest["filename"].map(lambda name: Path(name).stem)
    else:  # an official download with no manifest: every file under images/ is an image
        files = sorted(p for p in (root / "images").rglob("*") if p.suffix.lower() in {".png", ".jpg"})
        manifest = pd.DataFrame({"filename": [str(p.relative_to(root / "images")) for p in files],
                                 "image_id": [p.stem for p in files],
                                 "original_width": pd.NA, "source_repo": "NIH Clinical Center",
                                 "source_processing": "NIH-distributed PNG, unaltered"})
    unknown = ~manifest["image_id"].isin(entries["image_id"])
    if unknown.any():
        raise DataError(f"{root}: {int(unknown.sum())} image(s) have no row in the Data_Entry file, "
                        f"e.g. {manifest.loc[unknown, 'filename'].head(5).tolist()}")
    # The shared manifest carries copies of the label columns; the official file wins for those,
    # the manifest for its own file columns (a Data_Entry file with, say, a filename column of its
    # own does not replace the prepared file names).
    own = [c for c in manifest.columns if c in ("image_id", *MANIFEST_COLUMNS) or c not in entries.columns]
    clashing = [c for c in own if c != "image_id" and c in entries.columns]
    frame = manifest[own].merge(entries.drop(columns=clashing), on="image_id", how="left", validate="one_to_one")

    boxes = read_nih_boxes(root)
    box_findings = boxes.groupby("image_id")["finding"].agg(lambda f: "|".join(sorted(set(f)))).to_dict()
    expert = read_nih_expert_labels(root).set_index("image_id")["expert_set"].to_dict()
    width = pd.to_numeric(frame["original_width"], errors="coerce").fillna(
        pd.to_numeric(frame.get("OriginalImage[Width", pd.Series(pd.NA, index=frame.index)), errors="coerce"))
    records = pd.DataFrame({
        "image_id": frame["image_id"],
        "dataset": "nih14",
        "path": [str((root / "images" / name).resolve()) for name in frame["filename"]],
        "patient_id": frame["Patient ID"].astype(str),
        "findings": frame["Finding Labels"],
        "age": frame["Patient Age"],
        "sex": frame["Patient Gender"],
        "view": frame["View Position"],
        "source_width": width,
        "quality": (pd.to_numeric(width) >= NIH_BOX_FRAME).map({True: "full", False: "downsampled"}),
        "source": frame["source_repo"].fillna("").astype(str),
        "box_findings": [box_findings.get(i, "") for i in frame["image_id"]],
        "expert_set": [expert.get(i, "") for i in frame["image_id"]],
    })
    return finalize_records(records)


OFFICIAL_LISTS = {"train_val": "train_val_list.txt", "test": "test_list.txt"}


def read_official_split(root: str | Path) -> pd.Series:
    """The NIH release's official split: image id -> ``"train_val"`` or ``"test"``, from
    ``train_val_list.txt`` and ``test_list.txt`` (one ``Image Index`` per line, as released) in
    ``root`` or ``root/meta``.

    Raises:
        DataError: a list is missing, or an image is listed twice (in one list or in both).
    """
    root = Path(root)
    parts = []
    for name, filename in OFFICIAL_LISTS.items():
        path = _find_one(root, filename, f"official {name} list")
        names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
        parts.append(pd.Series(name, index=[Path(n).stem for n in names]))
    split = pd.concat(parts)
    twice = split.index[split.index.duplicated()]
    if len(twice):
        raise DataError(f"images listed twice in {list(OFFICIAL_LISTS.values())}: {sorted(set(twice))[:5]}")
    return split
