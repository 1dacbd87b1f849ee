"""Agreement of a heatmap with radiologist boxes (NIH ``BBox_List_2017``), in heatmap pixels.

A box is ``(x, y, w, h)``: left, top, width, height in the heatmap's pixel coordinates (rescale
the NIH boxes from 1024 px first). It covers columns ``floor(x) .. ceil(x + w) - 1`` and rows
``floor(y) .. ceil(y + h) - 1``, clipped to the image: every pixel the box touches.

- ``pointing_game`` (Zhang et al. 2018, "Top-down neural attention by excitation backprop"): a
  hit when the heatmap's maximum lies in a box, or within ``tolerance`` pixels of one (Euclidean
  distance between pixel indices; the paper used 15 px at 224 px; 0 = strictly inside, the "hit
  rate" of Saporta et al. 2022). Ties: a hit when any maximal pixel qualifies; a constant map
  points nowhere (False).
- ``pointing_share``: the pointing game's expected hit when a tie between maximal pixels is
  broken at random: the share of maximal pixels that qualify. Equal to ``pointing_game`` for a
  map with one maximum; for a constant map it is the chance of a random point, and for a
  uniform map over a region, that of a random point in the region (the baselines of
  ``tmvlib.explain.baselines``).
- ``energy_inside``: fraction of the heatmap's mass inside the union of boxes (the
  energy-based pointing game of the Score-CAM paper).
- ``iou_thresholded``: IoU of the binarised heatmap with the union box mask; binarised by
  Otsu's threshold (skimage), by keeping the top ``k`` fraction of the pixels, or at a fixed
  ``threshold`` of the min-max normalised map (Saporta et al. 2022, "Benchmarking saliency
  methods for chest X-ray interpretation", Nature Machine Intelligence 4: thresholds tuned on
  validation; ``tune_threshold`` picks the one with the highest mean IoU on a set of maps).
- ``box_auprc``: threshold-free area under the precision-recall curve of the map's pixels
  against the box pixels (average precision; Arun et al. 2021, "Assessing the trustworthiness
  of saliency maps for localizing abnormalities in medical imaging", Radiology: AI 3(6)).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.ndimage import distance_transform_edt
from skimage.filters import threshold_otsu
from sklearn.metrics import average_precision_score

Box = Sequence[float]


def _as_map(heatmap) -> np.ndarray:
    heat = np.asarray(heatmap, dtype=np.float64)
    if heat.ndim != 2:
        raise ValueError(f"heatmap must be (H, W), got shape {heat.shape}")
    return heat


def _box_bounds(box: Box, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """(row0, row1, col0, col1), half-open, clipped to ``shape``."""
    x, y, w, h = (float(v) for v in box)
    if w < 0 or h < 0:
        raise ValueError(f"box width and height must be >= 0, got {box}")
    rows, cols = shape
    r0, r1 = int(np.clip(np.floor(y), 0, rows)), int(np.clip(np.ceil(y + h), 0, rows))
    c0, c1 = int(np.clip(np.floor(x), 0, cols)), int(np.clip(np.ceil(x + w), 0, cols))
    return r0, r1, c0, c1


def box_mask(boxes: Sequence[Box], shape: tuple[int, int]) -> np.ndarray:
    """bool (H, W): union of the boxes' pixels."""
    mask = np.zeros(shape, dtype=bool)
    for box in boxes:
        r0, r1, c0, c1 = _box_bounds(box, shape)
        mask[r0:r1, c0:c1] = True
    return mask


def pointing_game(heatmap, boxes: Sequence[Box], tolerance: float = 0.0) -> bool:
    """True when a maximal pixel of ``heatmap`` (H, W) is inside a box or within ``tolerance``
    pixels of one; False for a constant heatmap or no boxes."""
    heat = _as_map(heatmap)
    if not len(boxes) or np.ptp(heat) == 0:
        return False
    rows, cols = np.nonzero(heat == heat.max())
    for box in boxes:
        r0, r1, c0, c1 = _box_bounds(box, heat.shape)
        if r1 <= r0 or c1 <= c0:
            continue  # box entirely outside the image
        dr = np.maximum(np.maximum(r0 - rows, rows - (r1 - 1)), 0)
        dc = np.maximum(np.maximum(c0 - cols, cols - (c1 - 1)), 0)
        if np.any(np.hypot(dr, dc) <= tolerance):
            return True
    return False


def _within(boxes: Sequence[Box], shape: tuple[int, int], tolerance: float) -> np.ndarray:
    """bool (H, W): pixels inside a box or within ``tolerance`` pixels (Euclidean) of one."""
    mask = box_mask(boxes, shape)
    if tolerance <= 0 or not mask.any():
        return mask
    return distance_transform_edt(~mask) <= tolerance


def pointing_share(heatmap, boxes: Sequence[Box], tolerance: float = 0.0) -> float:
    """Share in [0, 1] of the maximal pixels of ``heatmap`` (H, W) that lie inside a box or
    within ``tolerance`` pixels of one: the pointing game with ties broken at random (1.0 or 0.0
    for a map with a single maximum; a random point's chance for a constant map). 0.0 without
    boxes."""
    heat = _as_map(heatmap)
    if not len(boxes):
        return 0.0
    top = heat == heat.max()
    return float(_within(boxes, heat.shape, tolerance)[top].mean())


def energy_inside(heatmap, boxes: Sequence[Box]) -> float:
    """Fraction of the total (non-negative) heatmap mass inside the union of boxes, in [0, 1];
    NaN for an all-zero heatmap. Negative values are an error (maps here are in [0, 1])."""
    heat = _as_map(heatmap)
    if heat.min() < 0:
        raise ValueError("energy_inside expects a non-negative heatmap")
    total = heat.sum()
    if total == 0:
        return float("nan")
    return float(heat[box_mask(boxes, heat.shape)].sum() / total)


def binarize(heatmap, method: str = "otsu", k: float = 0.15,
             threshold: float | None = None) -> np.ndarray:
    """bool (H, W): ``heatmap > threshold_otsu(heatmap)``, exactly the ``round(k * H * W)``
    highest pixels for ``method="top_k"`` (ties broken by position), or, for
    ``method="threshold"``, the pixels of the min-max normalised map at or above ``threshold``.
    A constant map gives an empty mask under Otsu and a threshold."""
    heat = _as_map(heatmap)
    if method == "threshold":
        if threshold is None or not 0 <= threshold <= 1:
            raise ValueError(f"threshold must be in [0, 1], got {threshold}")
        span = np.ptp(heat)
        if span == 0:
            return np.zeros(heat.shape, dtype=bool)
        return (heat - heat.min()) / span >= threshold
    if method == "otsu":
        if np.ptp(heat) == 0:
            return np.zeros(heat.shape, dtype=bool)
        return heat > threshold_otsu(heat)
    if method == "top_k":
        if not 0 < k <= 1:
            raise ValueError(f"k must be a fraction in (0, 1], got {k}")
        n = max(1, round(k * heat.size))
        flat = np.zeros(heat.size, dtype=bool)
        flat[np.argsort(-heat.ravel(), kind="stable")[:n]] = True
        return flat.reshape(heat.shape)
    raise ValueError(f"method must be 'otsu', 'top_k' or 'threshold', got {method!r}")


def iou_thresholded(heatmap, boxes: Sequence[Box], method: str = "otsu", k: float = 0.15,
                    threshold: float | None = None) -> float:
    """IoU in [0, 1] of ``binarize(heatmap, method, k, threshold)`` with the union box mask;
    NaN when both are empty."""
    pred = binarize(heatmap, method, k, threshold)
    truth = box_mask(boxes, pred.shape)
    union = np.logical_or(pred, truth).sum()
    if union == 0:
        return float("nan")
    return float(np.logical_and(pred, truth).sum() / union)


def box_auprc(heatmap, boxes: Sequence[Box]) -> float:
    """Average precision of ``heatmap`` (H, W) as a pixel-wise score for "inside a box" (the
    union of ``boxes``): the area under the precision-recall curve, free of any threshold. A random
    map scores about the box-area fraction (a little above it on small maps, a known bias of
    average precision). NaN when the boxes cover no pixel or every pixel."""
    heat = _as_map(heatmap)
    truth = box_mask(boxes, heat.shape).ravel()
    if truth.all() or not truth.any():
        return float("nan")
    return float(average_precision_score(truth, heat.ravel()))


THRESHOLD_GRID = tuple(np.round(np.arange(0.2, 0.81, 0.05), 2))  # Saporta et al.: 0.2 to 0.8


def tune_threshold(maps: Sequence, boxes: Sequence[Sequence[Box]],
                   grid: Sequence[float] = THRESHOLD_GRID) -> float:
    """The threshold of ``grid`` with the highest mean IoU (``iou_thresholded(..., "threshold")``)
    of ``maps`` (each (H, W)) against their ``boxes``; ties go to the lowest threshold. Fit it on
    images other than those it is used on (validation, or cross-fitting)."""
    if len(maps) != len(boxes) or not len(maps):
        raise ValueError(f"need as many box lists as maps (got {len(maps)} maps, {len(boxes)} box lists)")
    means = [np.nanmean([iou_thresholded(m, b, "threshold", threshold=t) for m, b in zip(maps, boxes)])
             for t in grid]
    return float(grid[int(np.nanargmax(means))])
