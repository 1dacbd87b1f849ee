"""XrayClassifier: shapes, dropout, Grad-CAM target, stage freezing, input conversion, bf16."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import skimage.data
import timm
import torch
import torch.nn.functional as F
from torch import nn

from tmvlib.models import BACKBONES, build_classifier, get_backbone, gray_to_input


@pytest.fixture(scope="module")
def lite0():
    return build_classifier("efficientnet_lite0", dropout=0.3)


def _camera_batch(info, size=64) -> torch.Tensor:
    g = skimage.data.camera()  # 512x512 uint8 grayscale
    x = gray_to_input(torch.from_numpy(np.stack([g, g[::-1].copy()])), info)
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True)


def test_forward_shape_and_parts(lite0):
    model, info = lite0
    x = torch.randn(3, 3, 96, 96)
    with torch.no_grad():
        out = model(x)
        assert out.shape == (3,) and out.dtype == torch.float32
        feats = model.features(x)
        assert feats.shape == (3, 1280)
        torch.testing.assert_close(model.head(feats), out)
    drops = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    assert len(drops) == 1 and drops[0].p == 0.3  # only the head's: MC dropout samples just it
    assert info.pretrained and not model.training


@pytest.mark.parametrize("name", ["efficientnet_lite0", "resnet50"])
def test_cam_target_gives_feature_map(name):
    model, _ = build_classifier(name, weights="auto" if name == "efficientnet_lite0" else "none")
    assert model.get_submodule(model.cam_target_name) is model.cam_target_layer
    seen = []
    handle = model.cam_target_layer.register_forward_hook(lambda m, i, o: seen.append(o))
    with torch.no_grad():
        model(torch.randn(2, 3, 64, 64))
    handle.remove()
    assert len(seen) == 1 and seen[0].shape == (2, get_backbone(name).feature_dim, 2, 2)


def test_cam_map_is_pooled_map(lite0):
    model, _ = lite0
    seen = []
    handle = model.cam_target_layer.register_forward_hook(lambda m, i, o: seen.append(o))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        feats = model.features(x)
    handle.remove()
    torch.testing.assert_close(seen[0].mean((2, 3)), feats)


def test_freeze_stages():
    model, _ = build_classifier("efficientnet_lite0", frozen_stages=3)
    frozen = ("conv_stem.", "bn1.", "blocks.0.", "blocks.1.")  # stem + first 2 blocks
    for name, p in model.trunk.named_parameters():
        assert p.requires_grad != name.startswith(frozen), name
    assert all(p.requires_grad for p in model.fc.parameters())
    model.train()
    assert not model.trunk.bn1.training and not model.trunk.blocks[1].training
    assert model.trunk.blocks[2].training and model.dropout.training
    stem_stats = model.trunk.bn1.running_mean.clone()
    model(torch.randn(2, 3, 64, 64))
    assert torch.equal(model.trunk.bn1.running_mean, stem_stats)  # frozen BN keeps its stats
    model.freeze_stages(0)
    assert all(p.requires_grad for p in model.parameters()) and model.trunk.bn1.training
    model.freeze_stages(len(model.spec.stages))
    assert not any(p.requires_grad for p in model.trunk.parameters())
    with pytest.raises(ValueError, match="0..9"):
        model.freeze_stages(10)


@pytest.mark.parametrize("name", list(BACKBONES))
def test_registry_matches_timm(name):
    spec = get_backbone(name)
    trunk = timm.create_model(spec.timm_name, pretrained=False, num_classes=0, global_pool="")
    assert trunk.num_features == spec.feature_dim
    trunk.get_submodule(spec.cam_layer)
    staged = {p for stage in spec.stages for path in stage
              for p, _ in trunk.get_submodule(path).named_parameters(prefix=path)}
    assert staged == {p for p, _ in trunk.named_parameters()}  # stages cover the whole trunk
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():  # and, applied in order, they are the trunk's forward pass
        h = x
        for path in (p for stage in spec.stages for p in stage):
            h = trunk.eval().get_submodule(path)(h)
        torch.testing.assert_close(h, trunk.forward_features(x))
    tag = spec.hub_tag or "in1k"  # the lite ports use TF-lite preprocessing, as timm's tf_ cfg
    cfg = timm.models.get_pretrained_cfg(f"{spec.timm_name}.{tag}")
    assert (tuple(cfg.mean), tuple(cfg.std), cfg.input_size[-1]) == (
        spec.mean, spec.std, spec.input_size)


def test_gray_to_input(lite0):
    _, info = lite0  # mean = std = 0.5: 0 -> -1, 255 -> +1
    g = torch.tensor([[[0, 255], [51, 102]]], dtype=torch.uint8)
    x = gray_to_input(g, info)
    assert x.shape == (1, 3, 2, 2) and x.dtype == torch.float32
    torch.testing.assert_close(x[0, :, 0, 0], torch.full((3,), -1.0))
    torch.testing.assert_close(x[0, :, 0, 1], torch.full((3,), 1.0))
    torch.testing.assert_close(gray_to_input(g.numpy()[:, None], info), x)  # (B,1,H,W), numpy
    imnet = gray_to_input(g, get_backbone("resnet50"))
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    torch.testing.assert_close(imnet[0, :, 0, 1], (1 - mean) / std)
    with pytest.raises(TypeError, match="uint8"):
        gray_to_input(g.float(), info)
    with pytest.raises(ValueError):
        gray_to_input(torch.zeros(1, 3, 2, 2, dtype=torch.uint8), info)


def test_classifier_checkpoint_restores_head_and_trunk(tmp_path):
    model, _ = build_classifier("efficientnet_lite0", weights="none")
    with torch.no_grad():
        model.fc.weight.normal_()
    path = tmp_path / "clf.pt"
    torch.save(model.state_dict(), path)
    loaded, info = build_classifier("efficientnet_lite0", checkpoint=path)
    assert info.source == "checkpoint"
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(loaded(x), model.eval()(x))


def test_bf16_channels_last_close_to_fp32(lite0):
    model, info = copy.deepcopy(lite0[0]), lite0[1]
    gen = torch.Generator().manual_seed(0)  # fixed head (default init scale) so the check is stable
    with torch.no_grad():
        model.fc.weight.copy_(torch.randn(model.fc.weight.shape, generator=gen) / 1280 ** 0.5)
        model.fc.bias.zero_()
    x = _camera_batch(info)
    with torch.no_grad():
        ref_logits, ref_feats = model(x), model.features(x)
        model_cl = model.to(memory_format=torch.channels_last)
        x_cl = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits, feats = model_cl(x_cl), model_cl.features(x_cl)
    assert logits.shape == (2,)
    # bf16 keeps ~3 significant digits; through ~50 layers that is a few % (loose on purpose).
    assert F.cosine_similarity(feats.float(), ref_feats).min() > 0.97
    torch.testing.assert_close(logits.float(), ref_logits, atol=0.15, rtol=0.1)
