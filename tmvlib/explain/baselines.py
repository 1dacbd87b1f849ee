"""Baseline maps that know where the lungs are, the references a saliency map must beat.

A radiologist's pneumonia box always lies in a lung, and any CAM of a chest radiograph has a
central, lung-shaped prior, so "better than a random point" is too easy a bar. Three baselines,
each an (H, W) map in [0, 1] scored by the same localisation metrics as a method's map:

- ``prior_from_mean``: the mean of one method's maps over training images, min-max normalised: where
  the method puts heat on any radiograph, whatever the image shows. A map that localises a
  finding must beat its own prior on the same image (the paired excess of chapters 04-05; with
  two methods each has its prior, named by :func:`prior_name`).
- ``lung_field_map``: uniform inside the lung-field proxy of ``tmvlib.explain.regions`` (a fixed
  rectangle minus the mediastinum strip, not a segmentation), zero outside.
- ``uniform_map``: constant; its pointing-game share is a random point's chance, its energy the
  boxes' share of the image.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .regions import region_masks


def prior_from_mean(mean) -> np.ndarray:
    """The prior map: float32 (H, W) in [0, 1], the pixel-wise mean (H, W) of one method's maps
    over training images, min-max normalised (all zeros if the mean is constant). The mean comes
    from per-shard sums (:meth:`tmvlib.stages.MapStage.mean_map`), so the maps need not be kept."""
    mean = np.asarray(mean, dtype=np.float64)
    if mean.ndim != 2:
        raise ValueError(f"mean must be an (H, W) map, got shape {mean.shape}")
    span = np.ptp(mean)
    return ((mean - mean.min()) / span if span > 0 else np.zeros_like(mean)).astype(np.float32)


def lung_field_map(shape: tuple[int, int]) -> np.ndarray:
    """float32 (H, W): 1 inside the lung-field proxy (``region_masks(shape)["lung_proxy"]``), 0
    elsewhere."""
    return region_masks(shape)["lung_proxy"].astype(np.float32)


def uniform_map(shape: tuple[int, int]) -> np.ndarray:
    """float32 (H, W) of ones: no preference for any pixel."""
    return np.ones(shape, dtype=np.float32)


def prior_name(method: str | None = None) -> str:
    """The printed name of a prior map: "prior map" where one method is explained (chapter 04),
    "prior map (<method>)" for one method's own prior where several are (chapter 05)."""
    return "prior map" if method is None else f"prior map ({method})"


def baseline_maps(prior: np.ndarray | Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The baselines at the prior's shape, keyed by the names the chapters print.

    Args:
        prior: one (H, W) prior map ("prior map"), or method -> that method's own (H, W) prior
            ("prior map (<method>)" each; all of one shape).
    Returns:
        name -> (H, W) map: the prior map(s), "lung field (uniform)", "random point (uniform map)".
    """
    priors = {prior_name(): prior} if not isinstance(prior, Mapping) else {
        prior_name(method): m for method, m in prior.items()}
    shapes = {tuple(np.shape(m)) for m in priors.values()}
    if len(shapes) != 1:
        raise ValueError(f"the prior maps differ in shape: {sorted(shapes)}")
    shape = shapes.pop()
    return {**priors, "lung field (uniform)": lung_field_map(shape), "random point (uniform map)": uniform_map(shape)}
