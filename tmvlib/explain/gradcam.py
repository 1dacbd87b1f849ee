"""Grad-CAM (Selvaraju et al. 2017, "Grad-CAM: Visual Explanations from Deep Networks via
Gradient-based Localization") with captum, and Grad-CAM under MC-dropout masks.

Grad-CAM of the positive logit y at the target layer A (C,h,w):
``L = ReLU(sum_c alpha_c A_c)``, ``alpha_c = mean_ij dy/dA_cij``; upsampled bilinearly to the
input and min-max normalised to [0, 1] (see ``base``).

MC-dropout Grad-CAM: the classifier's only dropout sits in the head, after global average
pooling: ``y = w . (m / (1-p) * GAP(A)) + b`` for a keep-mask m in {0,1}^C. Hence
``dy/dA_cij = w_c m_c / ((1-p) h w)`` is spatially constant and ``alpha_c`` equals it: each
dropout sample only re-weights the same activations. One forward pass (BatchNorm in eval mode,
as MC dropout prescribes) plus a (T,C) x (C,hw) product gives all T maps, instead of T
forward/backward passes. ``tests/explain/test_gradcam.py`` checks equality with T separate
captum Grad-CAMs under the same masks.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from captum.attr import LayerAttribution, LayerGradCam
from torch import nn

from ..models.dropout_masks import keep_masks
from .base import (
    SingleLogit,
    as_batch,
    evaluating,
    layer_activations,
    normalize_maps,
    resolve_layer,
    to_heatmaps,
)


def gradcam(model: nn.Module, x: torch.Tensor, layer: nn.Module | str | None = None,
            normalize: bool = True) -> np.ndarray:
    """Grad-CAM of the positive logit with captum's ``LayerGradCam`` (relu_attributions=True).

    model: ``forward(x) -> (B,)`` logits, run in eval mode (restored afterwards); x: (3,H,W) or
    (B,3,H,W) normalised input; layer: target layer (default ``model.cam_target_layer``).
    Returns float32 (B,H,W): the layer map upsampled with ``LayerAttribution.interpolate``
    (bilinear) and, if ``normalize``, min-max scaled to [0, 1] per image.
    """
    x = as_batch(x)
    with evaluating(model):
        # The single-logit wrapper gives captum an output (B,1) and target 0; input grads make
        # the target layer differentiable even when the whole trunk is frozen.
        cam = LayerGradCam(SingleLogit(model), resolve_layer(model, layer))
        attr = cam.attribute(x.detach().clone().requires_grad_(True), target=0,
                             relu_attributions=True)
        maps = LayerAttribution.interpolate(attr.detach(), tuple(x.shape[-2:]),
                                            interpolate_mode="bilinear")[:, 0]
    if normalize:
        maps = normalize_maps(maps)
    return maps.float().cpu().numpy()


def _dropout_head(model: nn.Module) -> tuple[torch.Tensor, float]:
    """(fc weight (C,), dropout p) after checking the head is GAP -> Dropout -> Linear(C, 1),
    which the closed-form gradient assumes."""
    pool, drop, fc = (getattr(model, n, None) for n in ("pool", "dropout", "fc"))
    if not (isinstance(pool, nn.AdaptiveAvgPool2d) and isinstance(drop, nn.Dropout)
            and isinstance(fc, nn.Linear) and fc.out_features == 1):
        raise TypeError("mc_dropout_gradcam needs a head pool=AdaptiveAvgPool2d(1) -> "
                        "dropout=nn.Dropout -> fc=Linear(C, 1) (XrayClassifier)")
    return fc.weight.detach()[0].float(), float(drop.p)


def mc_dropout_cams(model: nn.Module, acts: torch.Tensor, T: int, seed: int, image_ids: Sequence[str]
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Closed-form Grad-CAM and logits under T MC-dropout masks for target-layer activations
    ``acts`` (B,C,h,w) of the eval-mode model (the map the head pools).

    Masks: image ``b`` gets :func:`tmvlib.models.dropout_masks.keep_masks` of ``(seed,
    image_ids[b])``, the masks chapter 03 applies to its pooled features; sample t weights
    channel c by ``alpha_btc = w_c m_btc / (1-p)``. Returns (raw CAMs (B,T,h,w) =
    ``ReLU(sum_c alpha_btc A_bc) / (h w)``, logits (B,T) = ``alpha_bt . GAP(A_b) + b``)."""
    weight, p = _dropout_head(model)
    acts = acts.float()
    batch, channels, h, w = acts.shape
    if len(image_ids) != batch:
        raise ValueError(f"{len(image_ids)} image ids for a batch of {batch}")
    masks = keep_masks(list(image_ids), T, channels, p, seed).float()          # (B, T, C)
    alpha = masks * weight / (1.0 - p) if p < 1 else torch.zeros_like(masks)  # p = 1: zero maps
    logits = torch.einsum("bc,btc->bt", acts.mean((2, 3)), alpha) + model.fc.bias.detach().float()[0]
    cams = torch.relu(torch.einsum("btc,bchw->bthw", alpha / (h * w), acts))
    return cams, logits


def mc_dropout_gradcam(model: nn.Module, x: torch.Tensor, image_id: str, T: int = 30, seed: int = 0,
                       normalize: bool = True) -> np.ndarray:
    """Grad-CAM of one image under T MC-dropout masks (dropout on, BatchNorm in eval).

    x: (3,H,W) or (1,3,H,W). Masks: :func:`tmvlib.models.dropout_masks.keep_masks` of ``(seed,
    image_id)``, as chapter 03 and the card draw them for this image. One forward
    gives A (C,h,w) at ``model.cam_target_layer`` (the map the head pools); sample t has channel
    weights ``alpha_tc = w_c m_tc / ((1-p) h w)`` (the spatial mean of dy/dA, exact for this
    head). Returns float32 (T,H,W): ``ReLU(sum_c alpha_tc A_c)`` upsampled bilinearly and, if
    ``normalize``, min-max scaled to [0, 1] per sample (an all-zero map stays zero).
    """
    x = as_batch(x)
    if x.shape[0] != 1:
        raise ValueError(f"mc_dropout_gradcam explains one image, got a batch of {x.shape[0]}")
    weight, _ = _dropout_head(model)
    logits, acts = layer_activations(model, x)  # eval mode: BatchNorm uses running statistics
    pooled_logit = float(acts[0].float().mean((1, 2)) @ weight + model.fc.bias.detach().float()[0])
    if abs(pooled_logit - float(logits[0])) > 1e-3 * max(1.0, abs(float(logits[0]))):
        raise ValueError("model.cam_target_layer is not the map the head pools; the closed-form "
                         "MC-dropout gradient does not apply")
    cams, _ = mc_dropout_cams(model, acts, T, seed, [image_id])
    return to_heatmaps(cams[0], tuple(x.shape[-2:]), normalize)
