"""Model and data randomisation: steps, batching, determinism, the model left untouched."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
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
    assert list(table.columns) == ["step", "layer", "layers randomised", "image", "spearman", "ssim", "test"]
    assert set(table["test"]) == {"cascading"}
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


def test_independent_randomization_changes_one_stage_at_a_time(lite0, xray_input):
    from tmvlib.explain.sanity import independent_randomization, resolve_independent_steps, target_stage

    model, _ = lite0
    x = xray_input(64)
    reference = explain(model, x)
    table = independent_randomization(model, x, explain, seed=0, evaluate=["fc", "blocks.6"], reference=reference)
    assert table["layer"].tolist() == ["fc", "blocks.6"] and set(table["test"]) == {"independent"}
    assert table["layers randomised"].tolist() == ["fc", "blocks.6"]  # alone, not cumulative
    # randomising fc alone re-weights Grad-CAM's channels completely: the map changes
    assert abs(table.loc[0, "spearman"]) < 0.9
    # the cascade's first step is the same model as fc randomised alone (same seed per step)
    cascade = cascading_randomization(model, x, explain, seed=0, evaluate=["fc"], reference=reference)
    assert cascade.loc[1, "spearman"] == table.loc[0, "spearman"]
    assert target_stage(model) == "conv_head+bn2"
    assert resolve_independent_steps(model) == ["conv_head+bn2"]
    assert resolve_independent_steps(model, "all") is None


def test_data_randomization_compares_two_models(lite0, xray_input):
    import copy

    from tmvlib.explain.sanity import data_randomization, randomize_

    model, _ = lite0
    x = xray_input(64)
    same = data_randomization(model, model, x, explain)
    assert same.loc[0, "spearman"] == pytest.approx(1.0) and same.loc[0, "test"] == "data"
    other = copy.deepcopy(model)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        randomize_(other.fc)
    rho = data_randomization(model, other, x, explain).loc[0, "spearman"]
    assert np.isnan(rho) or rho < 0.99  # NaN: the random head's map is constant


def test_each_randomised_model_explains_the_whole_batch_once(lite0, xray_input):
    from tmvlib.explain.sanity import independent_randomization, randomized_copy, similarity_rows

    model, _ = lite0
    x = torch.cat([xray_input(64), xray_input(64).flip(-1)])
    calls = []

    def counting(m, xb):
        calls.append(len(xb))
        return gradcam(m, xb)

    table = cascading_randomization(model, x, counting, seed=0, evaluate=["fc", "blocks.6"])
    assert calls == [2, 2, 2]  # trained, fc, blocks.6: one call per model, both images
    assert table["image"].tolist() == [0, 1, 0, 1, 0, 1]
    single = cascading_randomization(model, x[1:], explain, seed=0, evaluate=["fc", "blocks.6"])
    np.testing.assert_allclose(table[table["image"] == 1]["spearman"].to_numpy(dtype=float),
                               single["spearman"].to_numpy(dtype=float), atol=1e-3)  # batched kernels round differently
    # the independent fc step and the cascade's first step are the same model
    head = randomized_copy(model, "fc", seed=0)
    reference = gradcam(model, x)
    rows = similarity_rows(reference, gradcam(head, x), "cascading", 1, "fc", "fc")
    np.testing.assert_allclose(rows["spearman"].to_numpy(dtype=float),
                               table[table["layer"] == "fc"]["spearman"].to_numpy(dtype=float), atol=1e-6)
    alone = independent_randomization(model, x, gradcam, seed=0, evaluate=["fc"], reference=reference)
    np.testing.assert_allclose(alone["spearman"].to_numpy(dtype=float), rows["spearman"].to_numpy(dtype=float))


def test_sanity_rows_use_given_head_maps_for_the_first_step(lite0, xray_input):
    """tmvlib.tables.explanation.sanity_rows (here for the explain fixtures)."""
    import torch

    from tmvlib.explain import gradcam
    from tmvlib.explain.sanity import randomized_copy
    from tmvlib.tables.explanation import sanity_rows

    model, _ = lite0
    x = torch.cat([xray_input(64), xray_input(64).flip(-1)])
    head = gradcam(randomized_copy(model, "fc", seed=0), x)
    full = sanity_rows(model, x, ["a", "b"], gradcam, evaluate=["fc", "blocks.6"])
    given = sanity_rows(model, x, ["a", "b"], gradcam, evaluate=["fc", "blocks.6"], random_head_maps=head)
    cols = ["test", "step", "layer", "image_id"]
    pd.testing.assert_frame_equal(full[cols], given[cols])
    np.testing.assert_allclose(full["spearman"].to_numpy(dtype=float), given["spearman"].to_numpy(dtype=float),
                               atol=1e-6)
