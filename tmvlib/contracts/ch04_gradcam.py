"""Chapter 04, Grad-CAM: localisation against radiologist boxes, shortcut check, sanity check."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .base import EXECUTOR, N_BOOT, RUN_ID, SEED, SHARD_SIZE, param

CHAPTER = "04_gradcam"


@dataclass(frozen=True)
class Params:
    """Parameters of chapter 04 (``params/default/04_gradcam.yaml`` lists the same defaults)."""

    run_id: str = param("default", RUN_ID)
    external_images: int = param(120, "Kermany images (whole patients, deterministic) for the shortcut check")
    pointing_tolerance: float = param(15.0, "pixels at 224 px (scaled to the input) a pointing-game "
                                            "maximum may lie outside the box (Zhang et al. 2018: 15)")
    threshold_folds: int = param(2, "patient folds for cross-fitting the IoU threshold on the boxed images")
    coverages: list[float] = param([0.25, 0.5, 0.75, 1.0], "shares of the most confident boxed images "
                                                            "for localisation at coverage")
    sanity_images: int = param(16, "boxed images (one per patient, salted-hash order) in the randomisation checks")
    sanity_min_maps: int = param(5, "a randomisation step resting on fewer non-constant randomised maps is "
                                    "undetermined, not a pass or a fail")
    sanity_threshold: float = param(0.5, "pass: median |Spearman| with the trained map below this "
                                         "after randomising")
    batch_size: int = param(16, "images per forward/backward pass")
    n_boot: int = param(1000, N_BOOT)
    seed: int = param(0, SEED)
    executor: Literal["auto", "local", "ray"] = param("auto", EXECUTOR + " (here the Grad-CAM maps)")
    shard_size: int = param(256, SHARD_SIZE + "; a multiple of batch_size keeps the batches")


READS_PARAMS: dict[str, tuple[str, ...]] = {
    "01_data": ("data_root",),  # tmvlib.artifacts.radiologist_boxes
    "02_baseline": ("max_images_per_split", "selection_share"),  # the training images of the permuted-label model
}
# 01: splits, radiologist boxes; 02: baseline.pt (and its training recipe), predictions, threshold
READS_CHAPTERS: tuple[str, ...] = ("01_data", "02_baseline")
