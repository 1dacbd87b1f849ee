"""Cascading randomisation: steps, determinism, the model left untouched."""
from __future__ import annotations

import numpy as np
import torch

from tmvlib.explain import (
    cascading_randomization,
    gradcam,
    map_similarity,
    randomization_steps,
)


def explain(model, x):
    return gradcam(model, x)[0]


def test_cascade_rows_and_similarity(lite0, xray_input):
    model, _ = lite0
    x = xray_input(64)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    table = cascading_randomization(model, x, explain, seed=0)
    assert list(table.columns) == ["step", "layer", "layers randomised", "spearman", "ssim"]
    assert len(table) == 1 + 1 + len(model.spec.stages)  # trained, fc, 9 trunk stages
    assert table["layer"].tolist()[:3] == ["none", "fc", "conv_head+bn2"]
    assert table["layer"].iloc[-1] == "conv_stem+bn1"
    assert table["layers randomised"].iloc[2] == "fc > conv_head+bn2"
    assert np.isclose(table.loc[0, "spearman"], 1.0) and np.isclose(table.loc[0, "ssim"], 1.0)
    # a randomised head and head conv must change a Grad-CAM map of the positive logit
    assert table.loc[2:, "spearman"].abs().max() < 0.9
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # deep copy only
    again = cascading_randomization(model, x, explain, seed=0)
    np.testing.assert_allclose(again[["spearman", "ssim"]].to_numpy(dtype=float),
                               table[["spearman", "ssim"]].to_numpy(dtype=float), equal_nan=True)


def test_steps_order_and_similarity_helper(lite0):
    model, _ = lite0
    names = [name for name, _ in randomization_steps(model)]
    assert names[0] == "fc" and names[1] == "conv_head+bn2" and names[2] == "blocks.6"
    a = np.linspace(0, 1, 64 * 64).reshape(64, 64)
    assert np.allclose(map_similarity(a, a), (1.0, 1.0))
    rho, _ = map_similarity(a, a[::-1])
    assert rho < 0
    assert np.isnan(map_similarity(a, np.zeros_like(a))[0])


def test_cascade_evaluates_only_the_named_steps(lite0, xray_input):
    model, _ = lite0
    x = xray_input(64)
    full = cascading_randomization(model, x, explain, seed=0)
    some = cascading_randomization(model, x, explain, seed=0, evaluate=["fc", "blocks.6"])
    assert some["layer"].tolist() == ["none", "fc", "blocks.6"]
    # the cascade still randomised conv_head+bn2 before blocks.6: same maps as the full run
    np.testing.assert_allclose(some.set_index("layer")[["spearman", "ssim"]].to_numpy(dtype=float),
                               full.set_index("layer").loc[["none", "fc", "blocks.6"], ["spearman", "ssim"]]
                               .to_numpy(dtype=float), equal_nan=True)
    import pytest
    with pytest.raises(ValueError, match="unknown randomisation steps"):
        cascading_randomization(model, x, explain, evaluate=["blocks.99"])


def test_sanity_steps_come_from_the_backbone_unless_named():
    from tmvlib.explain.sanity import randomization_steps, resolve_sanity_steps
    from tmvlib.models import build_classifier

    for backbone in ("efficientnet_lite0", "resnet50"):
        model, _ = build_classifier(backbone, weights="none")
        names = [name for name, _ in randomization_steps(model)]
        chosen = resolve_sanity_steps(model)
        assert chosen[0] == "fc" and chosen[-1] == names[-1] and set(chosen) <= set(names)
        assert resolve_sanity_steps(model, "all") is None
        assert resolve_sanity_steps(model, ["fc"]) == ["fc"]
