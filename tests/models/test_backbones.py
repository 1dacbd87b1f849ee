"""The backbone registry: every entry describes the timm model it builds (stages, CAM layer,
feature width, sanity steps), and the factories return real weights or say why not."""
import pytest
import torch

from tmvlib.explain.sanity import randomization_steps
from tmvlib.models import (BACKBONES, UnknownBackboneError, build_classifier, efficientnet_lite0,
                           get_backbone, list_backbones)


def test_unknown_backbone_lists_the_supported_names():
    with pytest.raises(UnknownBackboneError, match="supported: efficientnet_lite0"):
        get_backbone("resnet5O")
    assert list_backbones() == list(BACKBONES)


@pytest.mark.parametrize("name", list(BACKBONES))
def test_spec_matches_the_model_it_builds(name):
    spec = get_backbone(name)
    model, _ = build_classifier(name, weights="none")
    model.eval()
    for stage in spec.stages:  # every stage path exists in the trunk
        for path in stage:
            model.trunk.get_submodule(path)
    model.trunk.get_submodule(spec.cam_layer)
    with torch.no_grad():
        features = model.trunk.forward_features(torch.zeros(1, 3, 64, 64))
    assert features.shape[1] == spec.feature_dim
    names = [step for step, _ in randomization_steps(model)]
    assert spec.sanity_steps and set(spec.sanity_steps) <= set(names)
    assert spec.sanity_steps[0] == "fc" and spec.sanity_steps[-1] == names[-1]


def test_factory_returns_the_packaged_imagenet_weights():
    trunk, info = efficientnet_lite0()
    assert info.pretrained and info.sha256 and info.source != "none"
    assert isinstance(trunk, torch.nn.Module)
