"""Chapter 06, stability: explanations under MC dropout, ensemble members and test-time augmentation."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .base import EXECUTOR, N_BOOT, RUN_ID, SHARD_SIZE, param

CHAPTER = "06_stability"


@dataclass(frozen=True)
class Params:
    """Parameters of chapter 06 (``params/default/06_stability.yaml`` lists the same defaults)."""

    run_id: str = param("default", RUN_ID)
    mc_samples: int = param(20, "T, MC-dropout masks per image")
    tta_count: int = param(6, "random TTA perturbations per image")
    tta_rotation: float = param(5.0, "degrees, uniform in [-r, r]")
    tta_translate: float = param(0.04, "fraction of the side, uniform in [-t, t] per axis")
    tta_scale: float = param(0.05, "1 + uniform in [-s, s]")
    tta_brightness: float = param(0.05, "additive, [0, 1] intensity units")
    tta_contrast: float = param(0.10, "1 + uniform in [-c, c], about the image mean")
    tta_gamma: float = param(0.10, "exp(uniform in [-g, g])")
    tta_noise: float = param(0.01, "Gaussian sigma, [0, 1] intensity units")
    top_k: float = param(0.15, "top-k fraction for IoU / Dice")
    metric_size: int = param(112, "maps are compared at this size (CAMs come from a 7x7 grid)")
    spearman_grid: int = param(28, "Spearman over a grid x grid average-pooled map")
    scorecam_tta: int = param(2, "Score-CAM (fast top-k path) under this many TTA perturbations, "
                                 "curated images")
    engine: Literal["auto", "torch", "openvino", "onnxruntime"] = param("auto", "forward engine of Score-CAM's scoring passes: auto (the fastest measured here), torch, openvino, onnxruntime")
    scorecam_top_k: int = param(128, "channels of the fast top-k Score-CAM path")
    batch_size: int = param(16, "images per forward pass")
    fold_sources: list[Literal["MC dropout", "ensemble", "TTA"]] = param(
        ["TTA"], "stability sources measured under every fold model for the pooled (cross-fitted) verdicts, "
                 "which read TTA only; MC dropout and ensemble add their pooled columns at about three times "
                 "the cost")
    n_boot: int = param(1000, N_BOOT)
    seed: int = param(0, "seed of the MC-dropout masks and TTA perturbations")
    executor: Literal["auto", "local", "ray"] = param("auto", EXECUTOR + " (here the stability under every "
                                                      "source, set by set)")
    shard_size: int = param(256, SHARD_SIZE + "; a multiple of batch_size keeps the batches")


READS_PARAMS: dict[str, tuple[str, ...]] = {
    "03_uncertainty": ("ensemble_members", "fold_ensemble_members"),  # tmvlib.artifacts.(fold_)ensemble_checkpoints
    "04_gradcam": ("external_images",),  # the same external images as chapter 04
}
# 01: splits; 02: predictions, threshold; 03: ensemble checkpoints; 04: its params
READS_CHAPTERS: tuple[str, ...] = ("01_data", "02_baseline", "03_uncertainty", "04_gradcam")
