"""Reading and writing the data chapter's artifacts under ``artifacts/splits/<run_id>/``.

Files: ``splits.parquet`` (one row per task image with its split), ``external.parquet`` (the
shifted test set), ``exclusions.csv``, ``split.json`` (task params, split hashes, counts) and,
``contrast.parquet`` (the shortcut control's contrast task: the other negative rule,
:mod:`tmvlib.data.contrast`). Later chapters read them through :func:`load_splits` and
:func:`load_contrast_task` only.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..atomic import atomic_write, atomic_write_text
from ..config import splits_dir
from .contrast import ContrastTask, contrast_rule, contrast_task
from .errors import DataError
from .splits import check_no_leakage, split_hash


CONTRAST_FILE = "contrast.parquet"


def save_splits(run_id: str, splits: pd.DataFrame, external: pd.DataFrame,
                exclusions: pd.DataFrame, task_params: dict, contrast: pd.DataFrame) -> Path:
    """Write the split artifacts (``contrast``: the task under the other negative rule,
    :func:`tmvlib.data.contrast.contrast_rule`); returns the folder."""
    folder = splits_dir(run_id)
    atomic_write(folder / "splits.parquet", lambda tmp: splits.to_parquet(tmp, index=False))
    atomic_write(folder / "external.parquet", lambda tmp: external.to_parquet(tmp, index=False))
    atomic_write(folder / "exclusions.csv", lambda tmp: exclusions.to_csv(tmp, index=False))
    meta = {"split_hash": split_hash(splits), "task": task_params,
            "images": int(len(splits)), "patients": int(splits["patient_id"].nunique()),
            "external_images": int(len(external))}
    atomic_write(folder / CONTRAST_FILE, lambda tmp: contrast.to_parquet(tmp, index=False))
    meta["contrast"] = {"negatives": contrast_rule(task_params["negatives"]),
                        "split_hash": split_hash(contrast), "images": int(len(contrast))}
    # last: split.json holds the hashes the readers check the other files against
    atomic_write_text(folder / "split.json", json.dumps(meta, indent=2, sort_keys=True))
    return folder


def load_splits(run_id: str) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """``(splits, external, meta)`` as written by chapter 01; hash and leakage re-checked."""
    folder = splits_dir(run_id)
    if not (folder / "split.json").is_file():
        raise FileNotFoundError(f"no splits for run {run_id!r} in {folder}: run chapter 01 first "
                                f"(make chapter CH=01)")
    meta = json.loads((folder / "split.json").read_text())
    splits = pd.read_parquet(folder / "splits.parquet")
    if split_hash(splits) != meta["split_hash"]:
        raise DataError(f"{folder / 'splits.parquet'} does not match the hash in split.json: "
                        "the file was changed after chapter 01 wrote it; rerun chapter 01")
    check_no_leakage(splits)
    return splits, pd.read_parquet(folder / "external.parquet"), meta


def load_contrast_task(run_id: str) -> ContrastTask:
    """The shortcut control's contrast task written by chapter 01 (hash, leakage and the
    separation of the evaluation patients from every training patient checked)."""
    splits, _, meta = load_splits(run_id)
    path = splits_dir(run_id) / CONTRAST_FILE
    if "contrast" not in meta or not path.is_file():
        raise FileNotFoundError(f"no contrast task for run {run_id!r} in {path.parent}: rerun chapter 01 "
                                "(make chapter CH=01)")
    contrast = pd.read_parquet(path)
    if split_hash(contrast) != meta["contrast"]["split_hash"]:
        raise DataError(f"{path} does not match the hash in split.json: the file was changed "
                        "after chapter 01 wrote it; rerun chapter 01")
    check_no_leakage(contrast)
    return contrast_task(splits, contrast, meta["contrast"]["negatives"])
