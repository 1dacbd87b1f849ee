"""Faithfulness of a heatmap to the model: deletion and insertion curves (Petsiuk, Das & Saenko
2018, "RISE: Randomized Input Sampling for Explanation of Black-box Models", BMVC, section 4.1).

Deletion replaces the pixels of the model input with a baseline in order of decreasing saliency
and follows the explained score as more of the image is removed: a faithful map removes what the
model relies on first, so the score falls fast (a low area under the curve). Insertion starts
from the baseline and puts the pixels back in the same order: the score should rise fast (a high
area). Both need only forward passes, batched here (``steps + 1`` inputs per image and curve).

The explained score is ``score_fn(x)``: for this project's single-logit classifier, the
probability of the positive class, the quantity Grad-CAM and Score-CAM explain. **Ties** in the
map are broken at random and the curves averaged over ``tie_orders`` seeded orders. A post-ReLU
CAM has large exact-zero areas; ordered by position (row-major), its tail would sweep the image
top to bottom while a smooth map without ties would not, a method-dependent artefact inside any
paired difference. A map without ties has one order, computed once.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

ScoreFn = Callable[[torch.Tensor], torch.Tensor]


def saliency_order(heatmap, seed: int | None = None) -> np.ndarray:
    """Flat pixel indices of ``heatmap`` (H, W) from most to least salient; ties by position
    (``seed`` None) or in a random order drawn with ``seed``."""
    heat = np.asarray(heatmap, dtype=np.float64)
    if heat.ndim != 2 or not np.isfinite(heat).all():
        raise ValueError(f"heatmap must be a finite (H, W) map, got shape {heat.shape}")
    if seed is None:
        return np.argsort(-heat.ravel(), kind="stable")
    jitter = np.random.default_rng(seed).permutation(heat.size)
    return np.lexsort((jitter, -heat.ravel()))  # by saliency, ties by the random draw


def has_ties(heatmap) -> bool:
    """True when two pixels of ``heatmap`` share a value (their order is then a choice)."""
    flat = np.asarray(heatmap).ravel()
    return len(np.unique(flat)) < flat.size


def perturbation_curves(score_fn: ScoreFn, x: torch.Tensor, heatmap, baseline: torch.Tensor,
                        steps: int = 20, batch_size: int = 21, tie_orders: int = 3,
                        seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Deletion and insertion curves of one image, averaged over ``tie_orders`` random orders of
    the map's tied pixels (seeds ``seed, seed + 1, ...``; one order when the map has no ties).

    Args:
        score_fn: model inputs ``(B, C, H, W)`` -> explained scores ``(B,)`` (e.g. the positive
            class's probability); called under ``torch.no_grad``.
        x: the model input ``(C, H, W)``; heatmap: ``(H, W)`` at the same size.
        baseline: what removed pixels become, ``(C, H, W)`` (e.g. a blurred copy of ``x``, or the
            per-channel mean).
        steps: the curve has ``steps + 1`` points, after removing (inserting) ``0, 1/steps, ..., 1``
            of the pixels.
        tie_orders: random tie orders averaged (0: ties by position, the earlier behaviour).
    Returns:
        ``(deletion, insertion)``, each ``(steps + 1,)`` scores; ``deletion[0]`` is the score of
        ``x`` and ``insertion[0]`` that of the baseline.
    """
    if x.shape != baseline.shape or x.ndim != 3:
        raise ValueError(f"x and baseline must both be (C, H, W), got {tuple(x.shape)} and {tuple(baseline.shape)}")
    if tuple(np.shape(heatmap)) != tuple(x.shape[1:]):
        raise ValueError(f"heatmap {np.shape(heatmap)} does not match the input's {tuple(x.shape[1:])}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    seeds = [None] if tie_orders < 1 or not has_ties(heatmap) else [seed + k for k in range(tie_orders)]
    curves = [_curves(score_fn, x, saliency_order(heatmap, s), baseline, steps, batch_size) for s in seeds]
    return tuple(np.mean([c[i] for c in curves], axis=0) for i in (0, 1))


def _curves(score_fn: ScoreFn, x: torch.Tensor, flat_order: np.ndarray, baseline: torch.Tensor, steps: int,
            batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    order = torch.from_numpy(flat_order)
    n_pixels = order.numel()
    counts = [round(k * n_pixels / steps) for k in range(steps + 1)]
    rank = torch.empty(n_pixels, dtype=torch.long)
    rank[order] = torch.arange(n_pixels)
    rank = rank.view(1, *x.shape[1:])  # a pixel's position in the order, broadcast over channels
    curves = []
    for start, end in ((x, baseline), (baseline, x)):  # deletion, then insertion
        scores = []
        for first in range(0, len(counts), batch_size):
            chunk = counts[first:first + batch_size]
            moved = torch.stack([rank < c for c in chunk]).to(x.dtype)  # (b, 1, H, W): 1 = changed
            batch = start.unsqueeze(0) * (1 - moved) + end.unsqueeze(0) * moved
            with torch.no_grad():
                scores.append(score_fn(batch).detach().float().reshape(-1).cpu())
        curves.append(torch.cat(scores).numpy().astype(np.float64))
    return curves[0], curves[1]


def curve_auc(curve) -> float:
    """Area under a deletion or insertion curve sampled at evenly spaced fractions of ``[0, 1]``
    (trapezoidal rule); in ``[0, 1]`` for scores in ``[0, 1]``."""
    curve = np.asarray(curve, dtype=np.float64)
    if curve.ndim != 1 or len(curve) < 2:
        raise ValueError(f"a curve needs at least two points, got shape {curve.shape}")
    return float(np.trapezoid(curve, dx=1.0 / (len(curve) - 1)))


def blurred_baseline(x: torch.Tensor, sigma: float = 10.0) -> torch.Tensor:
    """A heavily blurred copy of ``x`` ``(C, H, W)`` or ``(B, C, H, W)`` (Gaussian, ``sigma`` pixels,
    kernel ``2 * ceil(3 sigma) + 1`` clipped to the image): the "removed" pixels of the curves
    keep the image's local brightness but lose its detail, as in Petsiuk et al.'s insertion
    metric, rather than becoming a flat colour the model never saw in training."""
    from torchvision.transforms.functional import gaussian_blur

    size = min(2 * int(np.ceil(3 * sigma)) + 1, 2 * (min(x.shape[-2:]) // 2) - 1)
    return gaussian_blur(x, [size, size], [sigma, sigma])
