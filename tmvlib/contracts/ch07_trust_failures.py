"""Chapter 07, trust and failures: trust quadrants, audited failure cases, subgroups, failure modes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .base import N_BOOT, RUN_ID, SEED, param
from .scores import DECISION_UNCERTAINTY, TTA_INSTABILITY

CHAPTER = "07_trust_failures"

TTA = ("tta_count", "tta_rotation", "tta_translate", "tta_scale", "tta_brightness", "tta_contrast",
       "tta_gamma", "tta_noise")


@dataclass(frozen=True)
class Params:
    """Parameters of chapter 07 (``params/default/07_trust_failures.yaml`` lists the same defaults)."""

    run_id: str = param("default", RUN_ID)
    uncertainty_score: str = param(DECISION_UNCERTAINTY, "trust_scores column, higher means less certain "
                                   "(decision uncertainty: exp(-|logit p - logit t|), measured from the threshold)")
    instability_score: str = param(TTA_INSTABILITY, "trust_scores column, higher means less stable")
    uncertainty_quantile: float = param(0.75, 'validation quantile: above it an image is "uncertain" '
                                              "(the top quarter)")
    instability_quantile: float = param(0.75, 'validation quantile: above it an explanation is "unstable"')
    max_flip_rate: float | None = param(0.5, "a prediction whose label flips under more than this share of chapter "
                                             '06\'s TTA perturbations is not "confident" (None: no such rule)')
    n_confident: int = param(2, "most confident false negatives and false positives audited (each)")
    n_unstable: int = param(3, "least stable explanations audited (by instability_score)")
    n_shifted: int = param(3, "most confident wrong external predictions audited")
    max_gallery: int = param(24, "danger-zone cases shown in the book (all are written to failure_cases/)")
    engine: Literal["auto", "torch", "openvino", "onnxruntime"] = param("auto", "forward engine of Score-CAM's scoring passes: auto (the fastest measured here), torch, openvino, onnxruntime")
    scorecam_top_k: int = param(128, "Score-CAM fast path for cases chapter 05 did not explain")
    disagreement: float = param(0.25, "Grad-CAM and Score-CAM maxima farther apart (fraction of the "
                                      'width): "disagree"')
    age_edges: list[float] = param([0, 40, 60, 200], "age bands [a, b)")
    min_class: int = param(10, "subgroup: fewer positives or negatives -> too thin to report")
    min_images: int = param(10, "failure mode: fewer images with or without it -> too thin")
    max_error: float = param(0.25, "deferral rule target: at most this share of the answered cases wrong "
                                   "(of each predicted class for the class-conditional rule)")
    target_chosen: Literal["declared", "price list"] = param(
        "price list", "how max_error was chosen: 'declared' (fixed here before the rule was calibrated) or "
                      "'price list' (picked after seeing the price list on these validation images: the formal "
                      "guarantee does not cover it, and the page and the card say so)")
    delta: float = param(0.1, "the guarantee may fail with probability at most this over the calibration "
                              "draw (0.1: 90% confidence)")
    deferral_score: str = param(DECISION_UNCERTAINTY, "the card's deferral score: a trust_scores column or "
                                                        "'combined' (chapter 06's combined score)")
    deferral_rule: Literal["marginal", "class-conditional"] = param("marginal", "the card's rule: one threshold, or "
                                                                                 "one per predicted class (Mondrian)")
    grid_size: int = param(20, "thresholds tested by Learn then Test, evenly spaced in (0, 1], fixed in advance")
    fwer: Literal["bonferroni_holm", "bonferroni"] = param("bonferroni_holm", "multiplicity correction over "
                                                                              "the thresholds")
    n_resplits: int = param(1000, "random patient-level calibration/evaluation re-splits of validation + test "
                                  "that check the guarantee")
    targets: list[float] = param([0.1, 0.15, 0.2, 0.25, 0.3], "targets of the price list (what each would cost)")
    n_certify: int = param(200, "simulated calibration sets per size when planning how many validation patients "
                                "would certify the card's target")
    batch_size: int = param(16, "images per forward pass")
    n_boot: int = param(1000, N_BOOT)
    seed: int = param(0, SEED)


READS_PARAMS: dict[str, tuple[str, ...]] = {
    "01_data": ("data_root",),  # tmvlib.artifacts.radiologist_boxes
    "06_stability": (*TTA, "seed"),  # the same TTA perturbations as chapter 06
}
# 01: splits, boxes; 02: baseline.pt, predictions, threshold; 04: Grad-CAM maps;
# 05: Score-CAM maps; 06: trust_scores.parquet (scores, peak regions)
READS_CHAPTERS: tuple[str, ...] = ("01_data", "02_baseline", "04_gradcam", "05_scorecam", "06_stability")
