"""Explanation stability: how much a heatmap changes when the input is perturbed slightly.

Maps are (H, W) arrays of non-negative heat (``tmvlib.explain`` gives [0, 1]); a perturbed map is
first brought back to the original pixel grid (``tmvlib.explain.perturbations.invert_heatmap``) and
compared only on its ``valid_mask``. Every metric takes an optional boolean ``mask`` (H, W) that
restricts the comparison to its True pixels (None: all pixels); pixels inside it must be finite.

The three views of a map's change are those of Ghorbani, Abid & Zou (2019), "Interpretation of
Neural Networks Is Fragile", AAAI: overlap of the top-k features, Spearman's rank correlation and
the shift of the centre of mass (Adebayo et al. 2018, "Sanity Checks for Saliency Maps", use the
rank correlation the same way; ``tmvlib.explain.sanity``).

- ``iou_topk`` / ``dice_topk``: overlap of the two sets of the top ``k`` fraction of valid pixels
  (top-k as ``tmvlib.explain.localization.binarize``; Ghorbani et al. report the share of the
  top-k set kept, which for equal-sized sets is the Dice). NaN when a map is constant on the
  valid pixels: its top-k set would be an artefact of pixel order.
- ``rank_correlation``: Spearman's rho over the valid pixels, optionally after average-pooling
  both maps to a coarse ``grid`` (each cell the mean of its valid pixels, cells of
  ``torch.nn.functional.adaptive_avg_pool2d``). Pooling discounts the many near-tied pixels of a
  map upsampled from a 7x7 CAM and makes the rank computation cheap. No grid by default (every
  pixel, as ``tmvlib.explain.sanity.map_similarity``). NaN when a map is constant on the valid
  pixels (or cells).
- ``com_shift``: Euclidean distance in pixels between the two maps' centres of mass (heat as
  mass, over the valid pixels); ``com_shift_pct`` divides it by the image width (x 100) so
  resolutions compare. NaN when a map has no mass on the valid pixels.

:func:`pair_metrics` computes all of them (:data:`METRICS`) for one pair of maps.

The per-image stability tables follow the test-time-augmentation protocol of the chapter: one
reference map, P perturbed maps, each compared with the reference (``stability_rows``),
summarised per image (``stability_summary``).
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr

METRICS = ("iou_topk", "dice_topk", "spearman", "com_shift_px", "com_shift_pct")


def _heat(heatmap, name: str = "heatmap") -> np.ndarray:
    heat = np.asarray(heatmap.detach().cpu() if isinstance(heatmap, torch.Tensor) else heatmap,
                      dtype=np.float64)
    if heat.ndim != 2:
        raise ValueError(f"{name} must be (H, W), got shape {heat.shape}")
    return heat


def _valid(heat: np.ndarray, mask, name: str = "heatmap") -> np.ndarray:
    """bool (H, W) of the compared pixels; raises on a misshapen mask or non-finite heat in it."""
    if mask is None:
        valid = np.ones(heat.shape, dtype=bool)
    else:
        valid = np.asarray(mask.cpu() if isinstance(mask, torch.Tensor) else mask)
        if valid.shape != heat.shape or valid.dtype != bool:
            raise ValueError(f"mask must be bool {heat.shape}, got {valid.dtype} {valid.shape}")
    n_bad = int((~np.isfinite(heat[valid])).sum())
    if n_bad:
        raise ValueError(f"{name} holds {n_bad} non-finite value(s) inside the mask")
    return valid


def _pair(a, b, mask) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a, b = _heat(a, "a"), _heat(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"maps differ in shape: {a.shape} vs {b.shape}")
    valid = _valid(a, mask, "a")
    _valid(b, valid, "b")
    return a, b, valid


def _constant(values: np.ndarray) -> bool:
    return values.size == 0 or bool(np.ptp(values) == 0)


def topk_mask(heatmap, k: float = 0.15, mask=None) -> np.ndarray:
    """bool (H, W): exactly ``max(1, round(k * n))`` highest of the ``n`` valid pixels (ties
    broken by position, row-major), the semantics of ``binarize(heatmap, "top_k", k)`` restricted
    to ``mask``. All False when no pixel is valid.

    Raises:
        ValueError: ``k`` outside (0, 1], a map that is not (H, W), a bad mask or non-finite
            heat inside it.
    """
    if not 0 < k <= 1:
        raise ValueError(f"k must be a fraction in (0, 1], got {k}")
    heat = _heat(heatmap)
    valid = _valid(heat, mask)
    index = np.flatnonzero(valid)
    out = np.zeros(heat.size, dtype=bool)
    if index.size:
        n = max(1, round(k * index.size))
        out[index[np.argsort(-heat.ravel()[index], kind="stable")[:n]]] = True
    return out.reshape(heat.shape)


def _topk_sets(a, b, k, mask) -> tuple[np.ndarray, np.ndarray] | None:
    a, b, valid = _pair(a, b, mask)
    if _constant(a[valid]) or _constant(b[valid]):
        return None
    return topk_mask(a, k, valid), topk_mask(b, k, valid)


def pool_to_grid(heatmap, grid: tuple[int, int], mask=None) -> tuple[np.ndarray, np.ndarray]:
    """Average-pool an (H, W) map to ``grid = (gh, gw)`` cells (the cells of
    ``adaptive_avg_pool2d``), each cell the mean of its valid pixels.

    Returns:
        ``(pooled (gh, gw) float64, cell_valid (gh, gw) bool)``; cells without a valid pixel are
        NaN and invalid.
    Raises:
        ValueError: a grid larger than the map or not positive.
    """
    heat = _heat(heatmap)
    valid = _valid(heat, mask)
    gh, gw = (int(g) for g in grid)
    if not (0 < gh <= heat.shape[0] and 0 < gw <= heat.shape[1]):
        raise ValueError(f"grid must be within 1..{heat.shape}, got {grid}")
    weight = torch.from_numpy(valid.astype(np.float64))[None, None]
    mass = torch.from_numpy(np.where(valid, heat, 0.0))[None, None]
    share = F.adaptive_avg_pool2d(weight, (gh, gw))[0, 0].numpy()
    total = F.adaptive_avg_pool2d(mass, (gh, gw))[0, 0].numpy()
    cell_valid = share > 0
    pooled = np.full((gh, gw), np.nan)
    pooled[cell_valid] = total[cell_valid] / share[cell_valid]
    return pooled, cell_valid


def rank_correlation(a, b, mask=None, grid: tuple[int, int] | None = None) -> float:
    """Spearman's rho of two (H, W) maps over the valid pixels, or over the valid cells of
    :func:`pool_to_grid` when ``grid = (gh, gw)`` is given (both maps pooled the same way).

    Returns:
        rho in [-1, 1]; NaN when either map is constant on the compared pixels / cells or fewer
        than two are valid. Cost: a sort of the ``H * W`` (or ``gh * gw``) values.
    """
    a, b, valid = _pair(a, b, mask)
    if grid is not None:
        (a, cells), (b, _) = pool_to_grid(a, grid, valid), pool_to_grid(b, grid, valid)
        valid = cells
    va, vb = a[valid], b[valid]
    if va.size < 2 or _constant(va) or _constant(vb):
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(spearmanr(va, vb).statistic)


def center_of_mass(heatmap, mask=None) -> tuple[float, float]:
    """``(row, col)`` in pixel indices of the heat-weighted mean position over the valid pixels;
    ``(nan, nan)`` when the heat sums to 0 there.

    Raises:
        ValueError: negative heat inside the mask (the heat is used as mass).
    """
    heat = _heat(heatmap)
    valid = _valid(heat, mask)
    mass = np.where(valid, heat, 0.0)
    if mass.min() < 0:
        raise ValueError("center_of_mass expects non-negative heat")
    total = mass.sum()
    if total == 0:
        return float("nan"), float("nan")
    rows, cols = np.indices(heat.shape)
    return float((rows * mass).sum() / total), float((cols * mass).sum() / total)


def com_shift(a, b, mask=None) -> float:
    """Euclidean distance in pixels between the centres of mass of two (H, W) maps over the
    same valid pixels; NaN when either has no mass there."""
    a, b, valid = _pair(a, b, mask)
    (ra, ca), (rb, cb) = center_of_mass(a, valid), center_of_mass(b, valid)
    return float(np.hypot(ra - rb, ca - cb))


def pair_metrics(a, b, mask=None, k: float = 0.15,
                 grid: tuple[int, int] | None = None) -> dict[str, float]:
    """All of ``METRICS`` for one pair of (H, W) maps on the same valid pixels, plus
    ``valid_fraction`` (share of the image compared)."""
    a, b, valid = _pair(a, b, mask)
    shift = com_shift(a, b, valid)
    sets = _topk_sets(a, b, k, valid)  # once for both overlaps: the sort is the costly part
    iou = dice = float("nan")
    if sets is not None:
        both, either = np.logical_and(*sets).sum(), np.logical_or(*sets).sum()
        iou, dice = float(both / either), float(2 * both / (sets[0].sum() + sets[1].sum()))
    return {"iou_topk": iou, "dice_topk": dice,
            "spearman": rank_correlation(a, b, valid, grid), "com_shift_px": shift,
            "com_shift_pct": 100.0 * shift / a.shape[1], "valid_fraction": float(valid.mean())}


def _stack(maps, name: str) -> np.ndarray:
    stack = np.asarray(maps.detach().cpu() if isinstance(maps, torch.Tensor) else maps)
    if stack.ndim != 3:
        raise ValueError(f"{name} must be (P, H, W), got shape {stack.shape}")
    return stack


def _masks(valid_masks, count: int, shape: tuple[int, int]) -> list:
    if valid_masks is None:
        return [None] * count
    masks = np.asarray(valid_masks.cpu() if isinstance(valid_masks, torch.Tensor)
                       else valid_masks)
    if masks.shape == shape:
        return [masks] * count
    if masks.shape != (count, *shape):
        raise ValueError(f"valid_masks must be {shape} or {(count, *shape)}, got {masks.shape}")
    return list(masks)


def _names(names, count: int) -> list[str]:
    if names is None:
        return [str(i) for i in range(count)]
    if len(names) != count:
        raise ValueError(f"{len(names)} names for {count} perturbed maps")
    return [str(n) for n in names]


def stability_rows(reference, perturbed, valid_masks=None, label_flipped=None, k: float = 0.15,
                   grid: tuple[int, int] | None = None,
                   names: Sequence[str] | None = None) -> pd.DataFrame:
    """Each perturbed map against the reference map of the same image.

    Args:
        reference: (H, W) map of the unperturbed image.
        perturbed: (P, H, W) maps of the perturbed images, already in the original frame.
        valid_masks: (P, H, W) or (H, W) bool (``invert_heatmap``'s masks), None = all pixels.
        label_flipped: (P,) bool, whether the predicted label changed under each perturbation;
            None: unknown (stored as missing; the summary's ``flip_rate`` and ``*_kept`` are then
            NaN).
        k: top-k fraction for the overlaps. grid: pooling grid of the Spearman (None: pixels).
        names: (P,) perturbation names; None: "0".."P-1".

    Returns:
        DataFrame with P rows: ``perturbation, iou_topk, dice_topk, spearman, com_shift_px,
        com_shift_pct, valid_fraction, label_flipped`` (nullable boolean). Add ``image_id``
        and ``source`` (e.g. "tta", "single-factor") before :func:`stability_summary`.
    """
    ref = _heat(reference, "reference")
    stack = _stack(perturbed, "perturbed")
    if stack.shape[1:] != ref.shape:
        raise ValueError(f"perturbed maps {stack.shape[1:]} differ from the reference {ref.shape}")
    count = len(stack)
    masks = _masks(valid_masks, count, ref.shape)
    if label_flipped is None:
        flipped = pd.array([pd.NA] * count, dtype="boolean")
    else:
        flipped = pd.array(np.asarray(label_flipped, dtype=bool), dtype="boolean")
        if len(flipped) != count:
            raise ValueError(f"{len(flipped)} label_flipped values for {count} perturbed maps")
    rows = [{"perturbation": name, **pair_metrics(ref, m, v, k, grid)}
            for name, m, v in zip(_names(names, count), stack, masks)]
    frame = pd.DataFrame(rows, columns=["perturbation", *METRICS, "valid_fraction"])
    frame["label_flipped"] = flipped
    return frame


def stability_summary(rows: pd.DataFrame,
                      by: Sequence[str] = ("image_id", "source")) -> pd.DataFrame:
    """Per image and perturbation source: mean stability over its perturbations.

    Columns (besides ``by``): ``n_perturbations`` (rows), ``flip_rate`` (share of perturbations
    that changed the predicted label, over those with a known flag; NaN when none is known);
    the mean of each metric of ``METRICS`` present in ``rows`` over all perturbations and, as
    ``<metric>_kept``, over only those that kept the predicted label (NaN when every
    perturbation flipped or none is known); ``instability = 1 - mean spearman`` and
    ``instability_iou = 1 - mean iou_topk`` (unconditional means).

    Choice of the instability score: 1 - Spearman uses every pixel's rank, so it responds to a
    map that reorganises without moving its peak, and does not depend on a top-k cut-off;
    1 - IoU watches only the hot region. 0 is perfectly stable for both; ``instability`` lies in
    [0, 2] (above 1: the ranks reverse), ``instability_iou`` in [0, 1].
    The unconditional means are the headline because every map explains the same output (the
    positive logit) whether or not the thresholded label flipped; ``*_kept`` separates "the
    map moved" from "the decision moved". NaN metric values (constant maps) are left out of the
    means, not counted as zero.

    Raises:
        KeyError: a column of ``by`` is missing.
    """
    by = list(by)
    missing = [c for c in by if c not in rows.columns]
    if missing:
        raise KeyError(f"stability rows lack the grouping column(s) {missing}")
    metrics = [m for m in METRICS if m in rows.columns]
    frame = rows.copy()
    if "label_flipped" in frame.columns:
        flag = frame["label_flipped"].astype("boolean")
        frame["_flip"] = flag.astype("Float64").astype(float)  # NA -> NaN
    else:
        frame["_flip"] = np.nan
    frame[metrics] = frame[metrics].astype(float)
    if not by:
        frame["_all"] = "all"
        by = ["_all"]
    groups = frame.groupby(by, sort=False, dropna=False)
    out = groups[metrics].mean()
    out.insert(0, "flip_rate", groups["_flip"].mean())
    out.insert(0, "n_perturbations", groups.size())
    kept = (frame[frame["_flip"] == 0].groupby(by, sort=False, dropna=False)[metrics].mean()
            .reindex(out.index))
    out = out.join(kept.add_suffix("_kept"))
    if "spearman" in metrics:
        out["instability"] = 1.0 - out["spearman"]
    if "iou_topk" in metrics:
        out["instability_iou"] = 1.0 - out["iou_topk"]
    out = out.reset_index()
    return out.drop(columns="_all") if "_all" in out.columns else out
