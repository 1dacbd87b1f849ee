"""Convert an official NIH ChestX-ray14 or CheXpert download to the prepared 256-px format.

The format (``../shared/data/README.md``): 256x256 8-bit grayscale baseline JPEGs (quality 95) in
``<out>/<dataset>/images/`` and one ``manifest.csv`` per dataset with a row per image. NIH metadata
CSVs are copied gzipped to ``<out>/nih14/meta/`` keeping their input name (``Data_Entry_2017_v2020.csv``
-> ``Data_Entry_2017_v2020.csv.gz``); the Google 2019 expert file is written as
``google2019_nih-chest-xray-labels.csv.gz`` as in the shared copy.

Reruns are incremental: an image whose JPEG exists with the sha256 recorded in the existing manifest
is not decoded again, and manifest rows of earlier runs whose JPEG is intact are kept, so the 12 NIH
parts may be prepared as they arrive. The manifest is also written when a run stops on an error.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from ..fingerprint import sha256_file
from ..progress import progress_bar
from .errors import DataError, ImageLoadError
from .images import gray_of, load_image, open_decoded
from .nih import OFFICIAL_LISTS

SIZE = 256
NIH_ENTRY_COLUMNS = ["Finding Labels", "Patient ID", "Patient Age", "Patient Gender", "View Position"]
NIH_MANIFEST_COLUMNS = [
    "filename", "original_width", "original_height", "source_repo", "source_commit", "source_path",
    "sha256", *NIH_ENTRY_COLUMNS, "bbox_findings", "google2019_set", "source_processing",
]
NIH_SOURCE_REPO = "NIH Clinical Center"
CHEXPERT_LABELS = [
    "No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion",
    "Edema", "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion",
    "Pleural Other", "Fracture", "Support Devices",
]
CHEXPERT_COLUMNS = ["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", *CHEXPERT_LABELS]
CHEXPERT_MANIFEST_COLUMNS = [
    "filename", "original_width", "original_height", "sha256", "source_path", "source_processing",
    *CHEXPERT_COLUMNS,
]
GOOGLE_META_NAME = "google2019_nih-chest-xray-labels.csv.gz"


@dataclass
class PrepareReport:
    """What one ``prepare_*`` run did: images written, skipped as already prepared, excluded."""

    written: int = 0
    skipped_existing: int = 0
    excluded: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    manifest: Path | None = None

    def to_frame(self) -> pd.DataFrame:
        """Returns one row per outcome: columns ``outcome``, ``count``, ``details`` (excluded files)."""
        details = "; ".join(f"{name}: {reason}" for name, reason in self.excluded)
        return pd.DataFrame({
            "outcome": ["written", "skipped_existing", "excluded"],
            "count": [self.written, self.skipped_existing, len(self.excluded)],
            "details": ["", "", details],
        })


def preprocess_to_square(gray: np.ndarray, size: int = SIZE) -> np.ndarray:
    """Resize/centre-crop a grayscale image as in step 3 of the README recipe.

    Square: resized to ``size`` x ``size``. Non-square: shorter side resized to ``size`` (aspect
    kept), then centre-cropped. Lanczos when shrinking, bicubic when enlarging.

    Returns:
        ``uint8`` array of shape ``(size, size)``.
    """
    gray = np.asarray(gray)
    if gray.ndim != 2 or gray.dtype != np.uint8:
        raise ValueError(f"expected a uint8 (H, W) array, got {gray.dtype} {gray.shape}")
    height, width = gray.shape
    short = min(height, width)
    image = Image.fromarray(gray)
    if short != size:
        scale = size / short
        new = (size, size) if width == height else (
            max(size, round(width * scale)), max(size, round(height * scale)))
        image = image.resize(new, Image.Resampling.LANCZOS if short > size else Image.Resampling.BICUBIC)
    left, top = (image.width - size) // 2, (image.height - size) // 2
    return np.asarray(image.crop((left, top, left + size, top + size)), dtype=np.uint8).copy()


def _jpeg_bytes(gray: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(gray).save(buffer, "JPEG", quality=95)  # Pillow default: baseline
    return buffer.getvalue()


def _decode_bytes(data: bytes, name: str) -> np.ndarray:
    """Decode in-memory image bytes (a tar member) like ``load_image``; errors name ``name``."""
    if not data:
        raise ImageLoadError(name, "file is empty")
    with open_decoded(io.BytesIO(data), name) as image:
        return gray_of(image, name)


def _read_csv(path: Path) -> pd.DataFrame:
    # str + no NA parsing keeps values byte-identical to the source (ages, -1.0, blanks)
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _write_manifest(rows: dict[str, dict], columns: list[str], path: Path) -> None:
    frame = pd.DataFrame([rows[k] for k in sorted(rows)], columns=columns).fillna("")
    tmp = path.with_suffix(".csv.tmp")
    frame.to_csv(tmp, index=False, lineterminator="\n")
    os.replace(tmp, path)  # atomic: a crash never leaves a half-written manifest


# An item: (output stem, source path for the manifest, loader returning the uint8 gray image).
Item = tuple[str, str, Callable[[], np.ndarray]]


def _run(items: Iterator[Item], out_dir: Path, columns: list[str], row_for: Callable[[str, str, int, int], dict],
         on_bad_image: str, progress: bool, desc: str) -> PrepareReport:
    """Write every item's JPEG and the manifest; returns the report."""
    if on_bad_image not in ("raise", "exclude"):
        raise ValueError(f"on_bad_image must be 'raise' or 'exclude', got {on_bad_image!r}")
    images_dir = out_dir / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    manifest = out_dir / "manifest.csv"
    previous: dict[str, dict] = {}
    if manifest.is_file():
        previous = {r["filename"]: r for r in _read_csv(manifest).to_dict("records")}
    rows: dict[str, dict] = {}
    report = PrepareReport(manifest=manifest)
    try:
        for stem, source_path, load in progress_bar(items, progress, desc=desc, unit="img"):
            filename = f"{stem}.jpg"
            if filename in rows:
                raise DataError(f"{source_path}: a second source image for {filename} "
                                f"(first: {rows[filename]['source_path']})")
            target = images_dir / filename
            old = previous.get(filename)
            if old is not None and target.is_file() and sha256_file(target) == old.get("sha256"):
                # validates the metadata join too, so a skipped image still fails on a missing row
                rows[filename] = {**row_for(stem, source_path, int(old["original_width"]),
                                            int(old["original_height"])), "sha256": old["sha256"]}
                report.skipped_existing += 1
                continue
            row = row_for(stem, source_path, 0, 0)  # metadata errors before the costly decode
            try:
                gray = load()
            except ImageLoadError as err:
                if on_bad_image == "raise":
                    raise
                report.excluded.append((err.path, err.reason))
                continue
            data = _jpeg_bytes(preprocess_to_square(gray))
            tmp = target.with_suffix(".jpg.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, target)
            height, width = gray.shape
            row = row_for(stem, source_path, width, height)
            rows[filename] = {**row, "sha256": hashlib.sha256(data).hexdigest()}
            report.written += 1
    finally:
        for filename, old in previous.items():  # keep earlier runs' intact rows (e.g. other parts)
            target = images_dir / filename
            if filename not in rows and target.is_file() and sha256_file(target) == old.get("sha256"):
                rows[filename] = old
        _write_manifest(rows, columns, manifest)
    return report


def _glob_shallow(source: Path, pattern: str) -> list[Path]:
    # top level and one folder down only: no walk through 112k PNGs or an ``out`` inside ``source``
    return sorted(p for p in [*source.glob(pattern), *source.glob(f"*/{pattern}")] if p.is_file())


def _find_one(source: Path, patterns: list[str], required: bool, what: str) -> Path | None:
    for pattern in patterns:  # earlier patterns are preferred (v2020 over the 2017 list)
        found = _glob_shallow(source, pattern)
        if found:
            return found[0]
    if required:
        raise DataError(f"no {what} ({' or '.join(patterns)}) found under {source}")
    return None


def _copy_gzipped(src: Path, dest_dir: Path, name: str | None = None) -> Path:
    """Copy a CSV into ``dest_dir`` gzipped; returns the written path."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    base = src.name.removesuffix(".gz")
    dest = dest_dir / (name or f"{base}.gz")
    if src.name.endswith(".gz"):
        shutil.copyfile(src, dest)
    else:
        with open(src, "rb") as fin, open(dest, "wb") as raw, \
                gzip.GzipFile(filename=base, mode="wb", fileobj=raw, mtime=0) as fout:
            shutil.copyfileobj(fin, fout)  # mtime=0: identical bytes on every run
    return dest


def _nih_items(source: Path) -> Iterator[Item]:
    """Yield the NIH PNGs: streamed from ``images_*.tar.gz`` parts if any, else ``images/**/*.png``."""
    parts = _glob_shallow(source, "images_*.tar.gz")
    if parts:
        for part in parts:
            with tarfile.open(part, mode="r|gz") as tar:  # stream mode: nothing extracted to disk
                for member in tar:
                    if not (member.isfile() and member.name.lower().endswith(".png")):
                        continue
                    def load(member=member, tar=tar, part=part):
                        data = tar.extractfile(member).read()
                        return _decode_bytes(data, f"{part}:{member.name}")
                    yield Path(member.name).stem, member.name, load
        return
    pngs = sorted(p for p in (source / "images").rglob("*") if p.suffix.lower() == ".png")
    if not pngs:
        raise DataError(f"no images_*.tar.gz parts and no images/**/*.png under {source}")
    for path in pngs:
        yield path.stem, path.relative_to(source).as_posix(), lambda path=path: load_image(path)


def prepare_nih(source: str | Path, out: str | Path, *, on_bad_image: str = "raise",
                progress: bool = True) -> PrepareReport:
    """Prepare an official NIH ChestX-ray14 download into ``out/nih14``.

    ``source`` holds ``Data_Entry_2017*.csv[.gz]``, optionally ``BBox_List_2017.csv[.gz]``, the
    official split lists (``train_val_list.txt``, ``test_list.txt``, copied unchanged) and the
    Google 2019 file (``*nih-chest-xray-labels*.csv[.gz]`` with a ``Set Id`` column), and either the
    ``images_*.tar.gz`` parts (used when present) or extracted PNGs under ``images/``. ``on_bad_image="exclude"`` skips
    undecodable images and lists them in the report; an image without a Data_Entry row is an error.

    Returns:
        The ``PrepareReport``; the manifest is ``out/nih14/manifest.csv``.
    """
    source, out_dir = Path(source), Path(out) / "nih14"
    entry_path = _find_one(source, ["Data_Entry_2017_v2020.csv*", "Data_Entry_2017*.csv*"], True,
                           "Data_Entry file")
    bbox_path = _find_one(source, ["BBox_List_2017.csv*"], False, "")
    google_path = _find_one(source, ["*nih-chest-xray-labels*.csv*"], False, "")
    entry = _read_csv(entry_path)
    missing = [c for c in ["Image Index", *NIH_ENTRY_COLUMNS] if c not in entry.columns]
    if missing:
        raise DataError(f"{entry_path}: missing columns {missing}")
    entry.index = entry["Image Index"].map(lambda s: Path(s).stem)
    if entry.index.duplicated().any():
        raise DataError(f"{entry_path}: duplicate Image Index {sorted(set(entry.index[entry.index.duplicated()]))[:5]}")
    entries = entry[NIH_ENTRY_COLUMNS].to_dict("index")

    bbox: dict[str, str] = {}
    if bbox_path is not None:
        boxes = pd.read_csv(bbox_path, dtype=str, keep_default_na=False, usecols=[0, 1])
        if list(boxes.columns) != ["Image Index", "Finding Label"]:
            raise DataError(f"{bbox_path}: expected columns 'Image Index', 'Finding Label' first")
        boxes["stem"] = boxes["Image Index"].map(lambda s: Path(s).stem)
        bbox = boxes.groupby("stem")["Finding Label"].agg(lambda v: "|".join(sorted(set(v)))).to_dict()
    google: dict[str, str] = {}
    if google_path is not None:
        labels = _read_csv(google_path)
        if not {"Image Index", "Set Id"} <= set(labels.columns):
            raise DataError(f"{google_path}: expected columns 'Image Index' and 'Set Id'")
        sets = labels["Set Id"].str.strip().str.lower().replace({"validation": "val"})
        google = dict(zip(labels["Image Index"].map(lambda s: Path(s).stem), sets))

    meta_dir = out_dir / "meta"
    _copy_gzipped(entry_path, meta_dir)
    if bbox_path is not None:
        _copy_gzipped(bbox_path, meta_dir)
    if google_path is not None:
        _copy_gzipped(google_path, meta_dir, GOOGLE_META_NAME)
    for list_name in OFFICIAL_LISTS.values():  # the release's official split, kept as released
        list_path = _find_one(source, [list_name], False, "")
        if list_path is not None:
            meta_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(list_path, meta_dir / list_name)

    def row_for(stem: str, source_path: str, width: int, height: int) -> dict:
        if stem not in entries:
            raise DataError(f"{source_path}: no row for {stem}.png in {entry_path.name}")
        return {"filename": f"{stem}.jpg", "original_width": width, "original_height": height,
                "source_repo": NIH_SOURCE_REPO, "source_commit": "", "source_path": source_path,
                **entries[stem], "bbox_findings": bbox.get(stem, ""),
                "google2019_set": google.get(stem, ""),
                # same wording as the shared copy, so both can be filtered alike
                "source_processing": f"NIH-distributed {width}x{height} PNG, unaltered"}

    return _run(_nih_items(source), out_dir, NIH_MANIFEST_COLUMNS, row_for, on_bad_image,
                progress, "nih14")


def prepare_chexpert(source: str | Path, out: str | Path, *, on_bad_image: str = "raise",
                     progress: bool = True) -> PrepareReport:
    """Prepare a CheXpert folder (``train.csv``, ``valid.csv``) into ``out/chexpert``.

    ``Path`` values (``CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg``) are relative
    to ``source.parent``; images become ``patient00001_study1_view1_frontal.jpg``. Label columns are
    kept as in the source (1.0 / 0.0 / -1.0 / blank).

    Returns:
        The ``PrepareReport``; the manifest is ``out/chexpert/manifest.csv``.
    """
    source, out_dir = Path(source), Path(out) / "chexpert"
    frames = []
    for name in ("train.csv", "valid.csv"):
        path = source / name
        if path.is_file():
            frame = _read_csv(path)
            missing = [c for c in CHEXPERT_COLUMNS if c not in frame.columns]
            if missing:
                raise DataError(f"{path}: missing columns {missing}")
            frames.append(frame[CHEXPERT_COLUMNS])
    if not frames:
        raise DataError(f"no train.csv or valid.csv in {source}")
    table = pd.concat(frames, ignore_index=True)
    records: dict[str, dict] = {}
    items: list[Item] = []
    for record in table.to_dict("records"):
        parts = Path(record["Path"]).parts
        if len(parts) < 4:
            raise DataError(f"unexpected CheXpert Path {record['Path']!r} (want .../patient/study/view.jpg)")
        stem = "_".join([*parts[-3:-1], Path(parts[-1]).stem])
        records[stem] = record
        image_path = source.parent / record["Path"]
        items.append((stem, record["Path"], lambda p=image_path: load_image(p)))
    processing = f"{source.name} JPEG as distributed by Stanford, unaltered"

    def row_for(stem: str, source_path: str, width: int, height: int) -> dict:
        return {"filename": f"{stem}.jpg", "original_width": width, "original_height": height,
                "source_path": source_path, "source_processing": processing, **records[stem]}

    return _run(iter(items), out_dir, CHEXPERT_MANIFEST_COLUMNS, row_for, on_bad_image,
                progress, "chexpert")
