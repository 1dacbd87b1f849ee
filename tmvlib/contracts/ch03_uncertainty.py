"""Chapter 03, uncertainty: MC dropout, a last-blocks ensemble (and its diversity against the
shared-views design) and four calibrations (none, temperature,
Platt, isotonic), calibrated, ranked and moved to a clinical prevalence."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .base import N_BOOT, RUN_ID, SEED, param

CHAPTER = "03_uncertainty"


@dataclass(frozen=True)
class Params:
    """Parameters of chapter 03 (``params/default/03_uncertainty.yaml`` lists the same defaults)."""

    run_id: str = param("default", RUN_ID)
    mc_samples: int = param(30, "T, MC-dropout passes")
    ensemble_members: int = param(5, "M, including the chapter-02 model as member 0")
    fold_ensemble_members: int = param(5, "M of every fold model's ensemble in the cross-fitted evaluation "
                                          "(the fold model as member 0; fold 0's are the first of the deployed "
                                          "ensemble's); below ensemble_members, K ensembles cost less")
    ensemble_bagging: bool = param(False, "members m >= 1 train on a patient-level bootstrap resample "
                                          "of the training set (bagging)")
    diversity_reference: bool = param(False, "also train the shared-views ensemble (M - 1 more members) and "
                                             "compare the members' diversity with it (the diversity profile: "
                                             "make book PROFILE=diversity)")
    diversity_cam_images: int | None = param(None, "NIH test images whose member Grad-CAMs are compared "
                                                   "(null: all)")
    metric_size: int = param(112, "side of the Grad-CAMs compared between members (as in chapter 06)")
    spearman_grid: int = param(28, "grid of the Spearman agreement of member Grad-CAMs (as in chapter 06)")
    ece_bins: int = param(10, "equal-mass bins of the secondary binned ECE (about 24 images a bin "
                              "at 240 images; the headline smooth ECE has no bins)")
    clinical_prevalence: float = param(
        0.05, "illustrative pneumonia prevalence among radiographs read in practice, for the "
              "prior-shift correction (Saerens et al. 2002); NIH ChestX-ray14 labels Pneumonia on "
              "1.3% of its images (1,431 of 112,120; Wang et al. 2017)")
    coverages: list[float] = param([0.8, 0.9], "selective prediction operating points")
    n_boot: int = param(1000, N_BOOT)
    seed: int = param(0, SEED)
    executor: Literal["auto", "local", "ray"] = param(
        "auto", 'where the ensemble members train: "local" (one after another in this process), "ray" (one Ray '
                'task each, on RAY_ADDRESS\'s cluster or a local Ray), "auto" ("ray" when RAY_ADDRESS is set)')
    member_cpus: int = param(1, "CPUs (and torch threads) per member trained as a Ray task; members equal "
                                "locally trained ones when this equals the local run's threads")
    member_gpus: float = param(0.0, "GPUs per member trained as a Ray task (1 on a GPU cluster)")


READS_PARAMS: dict[str, tuple[str, ...]] = {
    "02_baseline": ("max_images_per_split", "selection_share"),  # the same image subsets and fold roles as chapter 02
}
# 01: splits; 02: baseline.pt, baseline_predictions.parquet, baseline_threshold.txt (the decision
# threshold, tmvlib.artifacts.decision_threshold)
READS_CHAPTERS: tuple[str, ...] = ("01_data", "02_baseline")
