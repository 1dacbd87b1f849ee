"""Geometry of a heatmap's peak and spread: where the maximum lies against boxes or another
map, and how much a map varies across perturbations. Maps are (H, W) arrays (any scale)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .localization import pointing_game


def tta_spread(maps, valid=None) -> np.ndarray:
    """Pixelwise standard deviation over the maps of one image under P perturbations.

    Args:
        maps: (P, H, W) maps in the original frame (``tmvlib.explain.stability.tta_maps`` of
            one image). valid: optional (P, H, W) bool, the pixels each map covers (pixels that
            left the frame under a geometric perturbation have no value).

    Returns:
        float32 (H, W): the population standard deviation over the valid maps at each pixel;
        NaN where fewer than two maps are valid.
    """
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim != 3:
        raise ValueError(f"maps must be (P, H, W), got shape {maps.shape}")
    mask = np.ones(maps.shape, bool) if valid is None else np.broadcast_to(
        np.asarray(valid, bool), maps.shape)
    count = mask.sum(0)
    safe = np.maximum(count, 1)
    mean = np.where(mask, maps, 0.0).sum(0) / safe
    var = np.where(mask, (maps - mean) ** 2, 0.0).sum(0) / safe
    return np.where(count >= 2, np.sqrt(var), np.nan).astype(np.float32)


def peak_in_boxes(heat, boxes: Sequence[Sequence[float]]) -> bool | None:
    """Whether the map's maximum lies inside a radiologist box (the pointing game,
    ``tmvlib.explain.localization.pointing_game``); None when the image has no box."""
    if not len(boxes):
        return None
    return bool(pointing_game(heat, boxes))


def peak_distance(map_a, map_b) -> float:
    """Distance between the maxima (first in row-major order) of two (H, W) maps, as a fraction
    of the image width; NaN when either map is constant (no maximum to speak of)."""
    a, b = np.asarray(map_a, float), np.asarray(map_b, float)
    if a.shape != b.shape:
        raise ValueError(f"maps differ in shape: {a.shape} vs {b.shape}")
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    pa = np.unravel_index(int(np.argmax(a)), a.shape)
    pb = np.unravel_index(int(np.argmax(b)), b.shape)
    return float(np.hypot(pa[0] - pb[0], pa[1] - pb[1]) / a.shape[1])
