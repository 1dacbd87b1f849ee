"""Chapter 04, Grad-CAM: localisation against radiologist boxes, shortcut check, sanity check."""
from __future__ import annotations

from dataclasses import dataclass

from .base import N_BOOT, RUN_ID, SEED, param

CHAPTER = "04_gradcam"


@dataclass(frozen=True)
class Params:
    """Parameters of chapter 04 (``params/default/04_gradcam.yaml`` lists the same defaults)."""

    run_id: str = param("default", RUN_ID)
    external_images: int = param(120, "Kermany images (whole patients, deterministic) for the shortcut check")
    top_k: float = param(0.15, "IoU of the top-k fraction of pixels")
    pointing_tolerance: float = param(0.0, "pixels a pointing-game maximum may lie outside the box")
    sanity_images: int = param(8, "images in the cascading-randomisation check")
    sanity_threshold: float = param(0.5, "pass: median |Spearman| with the trained map below this "
                                         "after randomising")
    batch_size: int = param(16, "images per forward/backward pass")
    n_boot: int = param(1000, N_BOOT)
    seed: int = param(0, SEED)


READS_PARAMS: dict[str, tuple[str, ...]] = {
    "01_data": ("data_root",),  # tmvlib.artifacts.radiologist_boxes
}
# 01: splits, radiologist boxes; 02: baseline.pt, predictions, threshold
READS_CHAPTERS: tuple[str, ...] = ("01_data", "02_baseline")
