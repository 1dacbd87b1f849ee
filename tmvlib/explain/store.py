"""Heatmaps on disk: one float16 ``.npy`` per image under ``<run>/explanations/<method>/``.

float16 keeps ~3 significant digits of a map in [0, 1] (enough for overlays and for every
metric here) at half the size of float32: ~100 kB an image at 224 px. Later chapters (stability,
failure audit, trust card) read the maps back by image id instead of recomputing them.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..atomic import atomic_write
from ..parallel.shards import save_shard_array


def heatmap_dir(run: str | Path, method: str) -> Path:
    """``<run>/explanations/<method>``; ``method`` is a folder name such as ``gradcam``."""
    if not method or "/" in method or method.startswith("."):
        raise ValueError(f"method must be a plain folder name, got {method!r}")
    return Path(run) / "explanations" / method


def save_heatmaps(directory: str | Path, image_ids: Sequence[str], maps: np.ndarray,
                  dtype: str = "float16") -> list[Path]:
    """Write ``maps`` (N,H,W) in [0, 1] as ``<directory>/<image_id>.npy`` (float16, or
    ``dtype="float32"`` where a later step must read back exactly what was computed).

    Raises ValueError naming the image when a map is not finite or leaves [0, 1] (a NaN never
    reaches the disk), or when ids and maps differ in number. Returns the written paths.
    """
    if dtype not in ("float16", "float32"):
        raise ValueError(f"dtype must be 'float16' or 'float32', got {dtype!r}")
    maps = np.asarray(maps)
    if maps.ndim != 3 or len(maps) != len(image_ids):
        raise ValueError(f"expected maps (N,H,W) for {len(image_ids)} images, got {maps.shape}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for image_id, heat in zip(image_ids, maps):
        _check_map(image_id, heat)
        path = directory / f"{image_id}.npy"
        atomic_write(path, lambda tmp, heat=heat: np.save(tmp, heat.astype(dtype)))
        paths.append(path)
    return paths


def _check_map(image_id: str, heat: np.ndarray) -> None:
    """ValueError naming the image when its map is not finite or leaves [0, 1]."""
    if not np.isfinite(heat).all():
        raise ValueError(f"heatmap of image {image_id} has NaN or inf values")
    if heat.min() < 0 or heat.max() > 1:
        raise ValueError(f"heatmap of image {image_id} leaves [0, 1]: "
                         f"[{heat.min():.3g}, {heat.max():.3g}]")


def save_map_sum(directory: str | Path, image_ids: Sequence[str], maps: np.ndarray) -> str:
    """Write the float64 pixel-wise sum of ``maps`` (N,H,W) in [0, 1] (checked as
    :func:`save_heatmaps` does) as ``<directory>/<key>.npy``, ``key`` the sha256 of the ids (16
    hex): what a mean map over many images needs, without one file per image. Returns the file's
    name."""
    maps = np.asarray(maps)
    if maps.ndim != 3 or len(maps) != len(image_ids) or not len(maps):
        raise ValueError(f"expected maps (N,H,W) for {len(image_ids)} images, got {maps.shape}")
    for image_id, heat in zip(image_ids, maps):
        _check_map(image_id, heat)
    return save_shard_array(directory, image_ids, maps.astype(np.float64).sum(axis=0)) + ".npy"


def load_heatmaps(directory: str | Path, image_ids: Sequence[str]) -> np.ndarray:
    """float32 (N,H,W) maps of ``image_ids`` from ``directory``; FileNotFoundError naming the
    first missing file (and how many are missing)."""
    directory = Path(directory)
    paths = [directory / f"{image_id}.npy" for image_id in image_ids]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} heatmap(s) missing, e.g. {missing[0]}; run the "
                                "chapter that writes them")
    return np.stack([np.load(p).astype(np.float32) for p in paths]) if paths else np.zeros((0, 0, 0), np.float32)
