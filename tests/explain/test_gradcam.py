"""Grad-CAM via captum, and the closed-form MC-dropout Grad-CAM against T naive captum runs."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from tmvlib.explain import gradcam, mc_dropout_gradcam
from tmvlib.models.dropout_masks import keep_masks
from tmvlib.explain.base import capture_output, upsample


class FixedMaskDropout(nn.Module):
    """Dropout with a given keep-mask (C,): what nn.Dropout does in train mode for one draw."""

    def __init__(self, mask: torch.Tensor, p: float):
        super().__init__()
        self.register_buffer("mask", mask)
        self.p = p

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features * self.mask / (1 - self.p)


def manual_gradcam(model, x):
    """Textbook Grad-CAM with autograd, no captum: (H,W) float numpy in [0, 1]."""
    with capture_output(model.cam_target_layer) as store:
        logit = model(x.clone().requires_grad_(True))[0]
    acts = store["out"]
    grads, = torch.autograd.grad(logit, acts)
    cam = torch.relu((grads.mean((2, 3), keepdim=True) * acts).sum(1))[0].detach()
    cam = upsample(cam, tuple(x.shape[-2:]))
    return ((cam - cam.min()) / (cam.max() - cam.min())).numpy()


def test_gradcam_shape_range_and_matches_manual(lite0, xray_input):
    model, _ = lite0
    x = xray_input(64)
    heat = gradcam(model, x)
    assert heat.shape == (1, 64, 64) and heat.dtype == np.float32
    assert heat.min() == 0.0 and heat.max() == pytest.approx(1.0)
    np.testing.assert_allclose(heat[0], manual_gradcam(model, x), atol=1e-5)


def test_gradcam_works_with_frozen_trunk_and_keeps_mode(xray_input):
    from tmvlib.models import build_classifier

    torch.manual_seed(1)
    model, _ = build_classifier("efficientnet_lite0", frozen_stages=9)  # nothing in the trunk trains
    model.train()
    heat = gradcam(model, xray_input(64))
    assert model.training and np.isfinite(heat).all() and heat.max() > 0


def naive_mc_gradcam(model, x, masks):
    """T separate captum Grad-CAMs, each with the model's dropout fixed to one mask."""
    maps = []
    for mask in masks:
        sample = copy.deepcopy(model).eval()
        sample.dropout = FixedMaskDropout(mask, model.dropout.p)
        maps.append(gradcam(sample, x)[0])
    return np.stack(maps)


def test_mc_dropout_gradcam_equals_naive_per_sample_gradcam(lite0, xray_input):
    model, _ = lite0
    x = xray_input(64, seed=3)
    T, seed = 6, 11
    fast = mc_dropout_gradcam(model, x, "img", T=T, seed=seed)
    masks = keep_masks(["img"], T, model.fc.in_features, model.dropout.p, seed)[0].float()
    assert fast.shape == (T, 64, 64) and fast.dtype == np.float32
    np.testing.assert_allclose(fast, naive_mc_gradcam(model, x, masks), atol=1e-5)
    assert not np.allclose(fast[0], fast[1])  # the masks really differ


def test_mc_dropout_is_seeded_and_reduces_to_gradcam_without_dropout(lite0, xray_input):
    model, _ = lite0
    x = xray_input(64)
    a = mc_dropout_gradcam(model, x, "img", T=4, seed=5)
    np.testing.assert_array_equal(a, mc_dropout_gradcam(model, x, "img", T=4, seed=5))
    assert not np.array_equal(a, mc_dropout_gradcam(model, x, "img", T=4, seed=6))
    assert not np.array_equal(a, mc_dropout_gradcam(model, x, "other", T=4, seed=5))
    no_drop = copy.deepcopy(model)
    no_drop.dropout.p = 0.0
    np.testing.assert_allclose(mc_dropout_gradcam(no_drop, x, "img", T=3)[2], gradcam(model, x)[0],
                               atol=1e-5)
