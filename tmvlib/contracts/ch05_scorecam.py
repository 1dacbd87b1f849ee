"""Chapter 05, Score-CAM: the same checks as chapter 04, and agreement with Grad-CAM."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .base import EXECUTOR, N_BOOT, RUN_ID, SEED, SHARD_SIZE, param

CHAPTER = "05_scorecam"


@dataclass(frozen=True)
class Params:
    """Parameters of chapter 05 (``params/default/05_scorecam.yaml`` lists the same defaults)."""

    run_id: str = param("default", RUN_ID)
    score: Literal["prob", "logit"] = param(
        "prob", 'Score-CAM score: "prob" (the paper\'s increase of confidence) or "logit"')
    weighting: Literal["cic", "softmax"] = param(
        "cic", '"cic" (the paper\'s linear weights) or "softmax" (pytorch-grad-cam\'s)')
    batch_size: int = param(8, "masked inputs per forward pass")
    sanity_images: int = param(16, "boxed images in the randomisation checks (the rule of chapter 04)")
    independent_steps: list[str] | Literal["all"] | None = param(
        None, "steps randomised one at a time; None: the stage holding the CAM target layer "
              "(tmvlib.explain.sanity.target_stage); \"all\": every step")
    top_k: float = param(0.15, "IoU of the top-k fraction of pixels when the two methods' maps are compared")
    faithfulness_steps: int = param(10, "points - 1 of each deletion / insertion curve")
    engine: Literal["auto", "torch", "openvino", "onnxruntime"] = param("auto", "forward engine of Score-CAM's scoring passes: auto (the fastest measured here), torch, openvino, onnxruntime")
    scorecam_top_k: int = param(128, "channels scored by the top-k fast path whose fidelity is measured "
                                     "(chapters 06-07 use theirs); also the path of Score-CAM's own prior map")
    prior_images: int = param(200, "training images (whole patients, a seeded sample) whose mean top-k "
                                   "Score-CAM is Score-CAM's own prior map")
    prior_exact: int = param(20, "of those, images (whole patients) also mapped by exact Score-CAM, to measure "
                                 "the top-k path's fidelity on the prior's own images")
    sanity_min_maps: int = param(5, "a randomisation step resting on fewer non-constant randomised maps is "
                                    "undetermined, not a pass or a fail")
    sanity_threshold: float = param(0.5, "pass: median |Spearman| with the trained map below this "
                                         "after randomising")
    n_boot: int = param(1000, N_BOOT)
    seed: int = param(0, SEED)
    sanity_steps: list[str] | Literal["all"] | None = param(
        ["fc"], "cascade steps after which to compute maps (names of "
                "tmvlib.explain.sanity.randomization_steps; the cascade always runs through every "
                "step); None: the backbone's own choice (BackboneSpec.sanity_steps); \"all\": every "
                "step. Each map costs a full Score-CAM")
    max_images: int | None = param(None, "cap on the images explained (None: every boxed image; "
                                         "the curated set is always kept)")
    executor: Literal["auto", "local", "ray"] = param("auto", EXECUTOR + " (here exact Score-CAM)")
    shard_size: int = param(32, SHARD_SIZE)


READS_PARAMS: dict[str, tuple[str, ...]] = {
    "01_data": ("data_root",),  # tmvlib.artifacts.radiologist_boxes
    "02_baseline": ("max_images_per_split", "selection_share"),  # the training images of Score-CAM's own prior
    "04_gradcam": ("pointing_tolerance", "threshold_folds"),  # the same localisation metrics as chapter 04
}
# 01: splits, boxes; 02: baseline.pt, predictions, threshold, training images; 04: Grad-CAM and its prior map, localisation and sanity tables, permuted-label model
READS_CHAPTERS: tuple[str, ...] = ("01_data", "02_baseline", "04_gradcam")
