"""Readers of what earlier chapters wrote, shared by the later chapters.

Every reader names the file it needs and the chapter that writes it when the file is missing,
so rerunning a chapter out of order fails with an instruction rather than a KeyError.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .config import chapter_params, resolve_data_root, run_dir
from .data.nih import read_nih_boxes
from .data.store import load_splits


def need_artifact(path: Path, chapter: str) -> Path:
    """``path`` if it exists, else FileNotFoundError naming the chapter that writes it."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; run chapter {chapter} first "
                                f"(make chapter CH={chapter[:2]})")
    return path


def baseline_checkpoint(run_id: str) -> Path:
    """Chapter 02's trained model."""
    return need_artifact(run_dir(run_id) / "checkpoints" / "baseline.pt", "02_baseline")


def baseline_predictions(run_id: str) -> pd.DataFrame:
    """Chapter 02's per-image predictions (``set`` val/test/external) joined with the image
    paths of chapter 01's split table. Row order is chapter 02's."""
    preds = pd.read_parquet(need_artifact(run_dir(run_id) / "metrics" / "baseline_predictions.parquet",
                                  "02_baseline"))
    splits, external, _ = load_splits(run_id)
    paths = pd.concat([splits, external])[["image_id", "path"]].drop_duplicates("image_id")
    merged = preds.merge(paths, on="image_id", how="left", validate="many_to_one")
    if merged["path"].isna().any():
        missing = merged.loc[merged["path"].isna(), "image_id"].head(3).tolist()
        raise ValueError(f"chapter 02's predictions name images absent from chapter 01's splits, "
                         f"e.g. {missing}: rerun chapter 02 on the current splits")
    return merged


def decision_threshold(run_id: str) -> tuple[str, float]:
    """Chapter 02's operating threshold: (rule, value), chosen on validation."""
    text = need_artifact(run_dir(run_id) / "metrics" / "baseline_threshold.txt", "02_baseline").read_text()
    rule, value = text.split()
    return rule, float(value)


def uncertainty_table(run_id: str) -> pd.DataFrame:
    """Chapter 03's per-image uncertainty table (one row per image x method x set)."""
    return pd.read_parquet(need_artifact(run_dir(run_id) / "metrics" / "uncertainty.parquet",
                                 "03_uncertainty"))


def radiologist_boxes(run_id: str, image_size: int) -> pd.DataFrame:
    """NIH radiologist boxes (``image_id, finding, x, y, w, h``) in pixels of a square
    ``image_size`` image (the model input), from the data chapter 01 used (its ``data_root``
    param, else the default search)."""
    data_root = chapter_params(run_id, "01_data").get("data_root")
    return read_nih_boxes(resolve_data_root(data_root) / "nih14", image_size=image_size)


def ensemble_checkpoints(run_id: str) -> list[Path]:
    """Chapter 03's deep-ensemble members in order: member 0 is chapter 02's baseline, then
    ``ensemble_1.pt`` ... (as many as chapter 03 recorded)."""
    members = int(chapter_params(run_id, "03_uncertainty")["ensemble_members"])
    paths = [baseline_checkpoint(run_id)]
    paths += [need_artifact(run_dir(run_id) / "checkpoints" / f"ensemble_{m}.pt", "03_uncertainty")
              for m in range(1, members)]
    return paths
