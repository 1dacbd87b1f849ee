"""Explanations of the X-ray classifier: CAM methods, localisation checks against radiologist
boxes, sanity checks (cascading randomisation), region energies and overlays.

Heatmaps are float32 numpy arrays at input resolution in [0, 1]; see ``base`` for conventions.
"""
from .base import (
    SingleLogit,
    capture_output,
    layer_activations,
    normalize_maps,
    upsample,
)
from .gradcam import gradcam, mc_dropout_cams, mc_dropout_gradcam
from .faithfulness import curve_auc, perturbation_curves
from .localization import (
    binarize,
    box_auprc,
    box_mask,
    energy_inside,
    iou_thresholded,
    pointing_game,
)
from .overlay import overlay
from .regions import energy_by_region, region_masks
from .sanity import cascading_randomization, map_similarity, randomization_steps
from .scorecam import ScoreCAM, score_cam

__all__ = [
    "ScoreCAM", "SingleLogit", "binarize", "box_auprc", "box_mask", "capture_output", "curve_auc",
    "cascading_randomization", "energy_by_region", "energy_inside", "gradcam",
    "iou_thresholded", "layer_activations", "map_similarity", "mc_dropout_cams", "mc_dropout_gradcam",
    "normalize_maps", "overlay", "perturbation_curves", "pointing_game", "randomization_steps", "region_masks",
    "score_cam", "upsample",
]
