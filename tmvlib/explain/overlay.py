"""Heatmap over radiograph, for figures: colormapped heat alpha-blended on the grey image."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib import colormaps

from .localization import _box_bounds


def overlay(gray_uint8, heatmap, alpha: float = 0.4, cmap: str = "jet",
            boxes: Sequence[Sequence[float]] = (), box_color: tuple[int, int, int] = (0, 255, 0),
            thickness: int = 2) -> np.ndarray:
    """Blend a heatmap on a grayscale image.

    gray_uint8: (H, W) uint8; heatmap: (H, W) floats in [0, 1] (clipped); alpha: heat opacity
    in [0, 1]; cmap: matplotlib colormap name; boxes: optional (x, y, w, h) boxes in pixel
    coordinates, drawn as ``thickness``-pixel outlines in ``box_color``.
    Returns uint8 RGB (H, W, 3): ``(1 - alpha) * gray + alpha * cmap(heat)``.
    """
    gray = np.asarray(gray_uint8)
    heat = np.asarray(heatmap, dtype=np.float32)
    if gray.dtype != np.uint8 or gray.ndim != 2:
        raise TypeError(f"gray image must be uint8 (H, W), got {gray.dtype} {gray.shape}")
    if heat.shape != gray.shape:
        raise ValueError(f"heatmap shape {heat.shape} != image shape {gray.shape}")
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    colors = colormaps[cmap](np.clip(heat, 0, 1))[..., :3] * 255.0
    rgb = (1 - alpha) * gray[..., None].astype(np.float32) + alpha * colors
    out = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    for box in boxes:
        _outline(out, box, np.asarray(box_color, dtype=np.uint8), thickness)
    return out


def _outline(rgb: np.ndarray, box, color: np.ndarray, thickness: int) -> None:
    r0, r1, c0, c1 = _box_bounds(box, rgb.shape[:2])
    if r1 <= r0 or c1 <= c0:
        return
    t = max(1, int(thickness))
    rgb[r0:min(r0 + t, r1), c0:c1] = color
    rgb[max(r1 - t, r0):r1, c0:c1] = color
    rgb[r0:r1, c0:min(c0 + t, c1)] = color
    rgb[r0:r1, max(c1 - t, c0):c1] = color
