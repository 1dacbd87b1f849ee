"""Chapter 09, replication: the report's headline findings for 3 seeds x 3 offline backbones."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .base import N_BOOT, RUN_ID, SEED, SHARD_SIZE, param

CHAPTER = "09_replication"


@dataclass(frozen=True)
class Params:
    """Parameters of chapter 09 (``params/default/09_replication.yaml`` lists the same defaults)."""

    run_id: str = param("default", RUN_ID)
    backbones: list[str] = param(["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"],
                                 "backbones replicated (registry names; offline packaged weights, or "
                                 "hub ones with the baseline's weights: hub)")
    seeds: list[int] = param([0, 1, 2], "training seeds replicated (everything trainable and the augmented views)")
    image_size: int | None = param(None, "input side of every replicate (null: each backbone's native size, "
                                         "224/240/260 px for Lite0/1/2)")
    tta_count: int = param(2, "TTA perturbations per image for the instability (fewer than chapter 06's)")
    n_boot: int = param(1000, N_BOOT)
    seed: int = param(0, SEED)
    executor: Literal["auto", "local", "ray"] = param(
        "auto", 'where the replicates train and their TTA instability runs: "local" (this process), "ray" (each '
                'replicate still to train one Ray task, then each TTA stage shard by shard, on RAY_ADDRESS\'s '
                'cluster or a local Ray), "auto" ("ray" when RAY_ADDRESS is set)')
    replicate_cpus: int = param(1, "CPUs (and torch threads) per replicate trained as a Ray task; replicates equal "
                                   "locally trained ones when this equals the local run's threads")
    replicate_gpus: float = param(0.0, "GPUs per replicate trained as a Ray task (1 on a GPU cluster)")
    shard_size: int = param(256, SHARD_SIZE + "; a multiple of chapter 06's batch_size keeps the batches")


READS_PARAMS: dict[str, tuple[str, ...]] = {
    "02_baseline": ("max_images_per_split", "threshold_rule", "selection_share"),  # the same images and rules
    "06_stability": ("tta_count", "tta_rotation", "tta_translate", "tta_scale", "tta_brightness", "tta_contrast",
                     "tta_gamma", "tta_noise", "top_k", "metric_size", "spearman_grid", "batch_size", "seed"),
    "07_trust_failures": ("uncertainty_quantile", "instability_quantile", "max_flip_rate"),
}
# 01: splits; 02: the baseline's training recipe (its checkpoint record) and checkpoint (reused as
# the replicate with its backbone, seed and size); 06, 07: their params
READS_CHAPTERS: tuple[str, ...] = ("01_data", "02_baseline", "06_stability", "07_trust_failures")
