"""Fixed, transparent image regions for "where does the heat go" shortcut checks.

These are geometric rectangles on a frontal chest radiograph, not a segmentation:
- ``border``: the outer 8% band on each side (image edge, collimation, burnt-in text);
- ``corner_tl``, ``corner_tr``, ``corner_bl``, ``corner_br``: squares of 12% of the side at
  the four corners (where markers and labels usually sit), and ``corners``, their union;
- ``lung_proxy``: a crude lung-field proxy, the box 15%-85% of the width x 10%-90% of the height
  minus the central mediastinum strip 45%-55% of the width; it ignores patient position,
  heart size and the diaphragm, so read it only as "central thorax vs. edges";
- ``mediastinum``: that central strip within the same height band.

Regions overlap (the corners lie in the border band), so their energies need not sum to 1.
Fractions are of the side length, rounded to whole pixels.
"""
from __future__ import annotations

import numpy as np

BORDER = 0.08
CORNER = 0.12
LUNG_X, LUNG_Y, MEDIASTINUM_X = (0.15, 0.85), (0.10, 0.90), (0.45, 0.55)

REGIONS = ("lung_proxy", "mediastinum", "border", "corners")
# Regions at the image edge: heat peaking there suggests a shortcut (markers, collimation, text).
EDGE_REGIONS = ("border", "corners")


def _px(frac: float, n: int) -> int:
    return round(frac * n)


def region_masks(shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """bool (H, W) masks of the regions above, keyed by name."""
    h, w = shape
    masks: dict[str, np.ndarray] = {}
    border = np.ones(shape, dtype=bool)
    border[_px(BORDER, h):h - _px(BORDER, h), _px(BORDER, w):w - _px(BORDER, w)] = False
    masks["border"] = border
    ch, cw = max(1, _px(CORNER, h)), max(1, _px(CORNER, w))
    for name, rows, cols in (("corner_tl", slice(0, ch), slice(0, cw)),
                             ("corner_tr", slice(0, ch), slice(w - cw, w)),
                             ("corner_bl", slice(h - ch, h), slice(0, cw)),
                             ("corner_br", slice(h - ch, h), slice(w - cw, w))):
        m = np.zeros(shape, dtype=bool)
        m[rows, cols] = True
        masks[name] = m
    masks["corners"] = np.logical_or.reduce([masks[f"corner_{c}"] for c in ("tl", "tr", "bl", "br")])
    rows = slice(_px(LUNG_Y[0], h), _px(LUNG_Y[1], h))
    strip = np.zeros(shape, dtype=bool)
    strip[rows, _px(MEDIASTINUM_X[0], w):_px(MEDIASTINUM_X[1], w)] = True
    lung = np.zeros(shape, dtype=bool)
    lung[rows, _px(LUNG_X[0], w):_px(LUNG_X[1], w)] = True
    masks["lung_proxy"] = lung & ~strip
    masks["mediastinum"] = strip
    return masks


def energy_by_region(heatmap) -> dict[str, float]:
    """Fraction of a non-negative heatmap's (H, W) mass in each region of ``region_masks``, plus
    ``"area_<name>"``: the region's share of the image area (the value a uniform map would get).
    All NaN for an all-zero map."""
    heat = np.asarray(heatmap, dtype=np.float64)
    if heat.ndim != 2:
        raise ValueError(f"heatmap must be (H, W), got shape {heat.shape}")
    if heat.min() < 0:
        raise ValueError("energy_by_region expects a non-negative heatmap")
    total = heat.sum()
    masks = region_masks(heat.shape)
    out = {name: float(heat[m].sum() / total) if total > 0 else float("nan")
           for name, m in masks.items()}
    out.update({f"area_{name}": float(m.mean()) for name, m in masks.items()})
    return out


def peak_region(heat: np.ndarray) -> str:
    """Where the map's maximum falls: ``corners`` before ``border`` (corners lie in the border
    band), then ``lung_proxy``, ``mediastinum``, else ``other`` (the thorax outside both); the
    first maximal pixel in row-major order."""
    masks = region_masks(heat.shape)
    r, c = np.unravel_index(int(np.argmax(heat)), heat.shape)
    for name in ("corners", "border", "lung_proxy", "mediastinum"):
        if masks[name][r, c]:
            return name
    return "other"
