"""Chapter 08, trust card: one card per radiograph (tmvlib.card.TrustCardPredictor, ``tmv predict``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .base import EXECUTOR, N_BOOT, RUN_ID, SEED, SHARD_SIZE, param
from .ch07_trust_failures import TTA

CHAPTER = "08_trust_card"


@dataclass(frozen=True)
class Params:
    """Parameters of chapter 08 (``params/default/08_trust_card.yaml`` lists the same defaults)."""

    run_id: str = param("default", RUN_ID)
    reference_k: int = param(10, "k-th nearest training image for the feature distance (Sun et al. 2022)")
    reference_quantile: float = param(0.95, "validation quantile of that distance above which an "
                                            "image is flagged")
    n_reproduce: int = param(3, "NIH test images whose card is compared with chapter 06's trust scores")
    engine: Literal["auto", "torch", "openvino", "onnxruntime"] = param("auto", "forward engine of Score-CAM's scoring passes: auto (the fastest measured here), torch, openvino, onnxruntime")
    scorecam_top_k: int | None = param(None, "None: exact Score-CAM on the cards (as chapter 05); "
                                             "an int: the fast top-k path")
    n_boot: int = param(1000, N_BOOT)
    seed: int = param(0, SEED)
    executor: Literal["auto", "local", "ray"] = param("auto", EXECUTOR + " (here the input statistics and "
                                                      "features of training, validation, test and external images)")
    shard_size: int = param(256, SHARD_SIZE + "; a multiple of the card's batch size (8) keeps the batches")


# What tmvlib.card.predictor.TrustCardPredictor reads (it repeats chapters 03, 06 and 07 per image).
READS_PARAMS: dict[str, tuple[str, ...]] = {
    "01_data": ("positive",),
    "03_uncertainty": ("ensemble_members", "mc_samples", "seed"),  # ensemble_checkpoints; MC dropout
    "06_stability": (*TTA, "mc_samples", "metric_size", "top_k", "spearman_grid", "seed"),
    "07_trust_failures": ("uncertainty_score", "instability_score", "uncertainty_quantile",
                          "instability_quantile", "max_flip_rate", "n_boot", "seed"),
}
# 01: splits, positive; 02: baseline.pt, predictions, threshold; 03: ensemble, temperatures.json;
# 06: trust_scores.parquet; 07: trust_quadrants.parquet, failure_modes_val.parquet
READS_CHAPTERS: tuple[str, ...] = ("01_data", "02_baseline", "03_uncertainty", "06_stability",
                                   "07_trust_failures")
