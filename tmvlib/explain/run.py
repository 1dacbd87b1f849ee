"""Explain a stack of images chunk by chunk: uint8 radiographs in, heatmaps and timing out."""
from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from ..models.classifier import gray_to_input
from ..progress import progress_bar
from .base import chunks


def explain_images(explain: Callable[[torch.Tensor], np.ndarray], images: torch.Tensor, norm,
                   batch_size: int = 16, progress: bool = True,
                   desc: str = "explaining") -> tuple[np.ndarray, float]:
    """Apply ``explain(x (B,3,H,W)) -> (B,H,W)`` to uint8 radiographs ``images`` (N,1,H,W) in
    chunks of ``batch_size`` (each converted with ``gray_to_input(chunk, norm)``, so only one
    chunk is ever in float). Returns (float32 maps (N,H,W), seconds per image). A map with NaN
    raises ValueError naming its row."""
    out = np.empty((len(images), *images.shape[-2:]), dtype=np.float32)
    start = time.perf_counter()
    for sl in progress_bar(list(chunks(len(images), batch_size)), progress, desc=desc, leave=False):
        out[sl] = explain(gray_to_input(images[sl], norm))
    seconds = (time.perf_counter() - start) / max(1, len(images))
    bad = np.flatnonzero(~np.isfinite(out).all(axis=(1, 2)))
    if bad.size:
        raise ValueError(f"explanation of image row(s) {bad[:5].tolist()} contains NaN or inf")
    return out, seconds


def explain_with_stats(cam, images: torch.Tensor, norm, batch_size: int = 1, progress: bool = True,
                       desc: str = "explaining", head_maps: dict | None = None
                       ) -> tuple[np.ndarray, float, pd.DataFrame]:
    """:func:`explain_images` with a CAM object that keeps per-call ``stats.per_image`` (such as
    :class:`tmvlib.explain.scorecam.ScoreCAM`): also returns the per-image statistics of every
    call, one row per image, in image order. ``head_maps``: a dict filled with the maps (N,H,W)
    of each extra head of the CAM (``ScoreCAM(heads=...).head_maps``), in image order."""
    per_image: list[dict] = []
    collected: dict[str, list[np.ndarray]] = {}

    def explain(x):
        maps = cam(x)
        per_image.extend(cam.stats.per_image)
        for name, m in getattr(cam, "head_maps", {}).items():
            collected.setdefault(name, []).append(m)
        return maps

    maps, seconds = explain_images(explain, images, norm, batch_size=batch_size, progress=progress, desc=desc)
    if head_maps is not None:
        head_maps.update({name: np.concatenate(parts) for name, parts in collected.items()})
    return maps, seconds, pd.DataFrame(per_image)
