"""Perturbed Grad-CAMs for the stability chapter: equal to the single-image methods, inverted
to the original frame, flips counted against the reference label."""
from __future__ import annotations

import numpy as np
import torch

from tmvlib.explain import gradcam, mc_dropout_gradcam
from tmvlib.explain.perturbations import Perturbation
from tmvlib.explain.stability import (StabilityProtocol, ensemble_maps, mc_dropout_maps, reduce_maps, reduce_masks,
                                      stability_against_reference, tta_maps)
from tmvlib.models import gray_to_input


def _images(n=2, size=64):
    """uint8 (n,1,size,size) radiograph-like images (noise + two darker lung fields)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / size
    base = 0.75 - 0.35 * (np.exp(-((xx - 0.3) ** 2 / 0.02 + (yy - 0.5) ** 2 / 0.08))
                          + np.exp(-((xx - 0.7) ** 2 / 0.02 + (yy - 0.5) ** 2 / 0.08)))
    stack = [np.clip(base + rng.normal(0, 0.05, base.shape), 0, 1) for _ in range(n)]
    return torch.from_numpy((np.stack(stack)[:, None] * 255).astype(np.uint8))


def test_mc_dropout_maps_equal_the_single_image_method(lite0):
    model, info = lite0
    images = _images()
    got = mc_dropout_maps(model, images, info, samples=4, seed=3, metric_size=64, image_ids=["a", "b"],
                          batch_size=1)
    assert got.maps.shape == (2, 4, 64, 64) and got.probs.shape == (2, 4) and got.valid is None
    for i in range(2):
        ref = mc_dropout_gradcam(model, gray_to_input(images[i:i + 1], info), ["a", "b"][i], T=4, seed=3)
        np.testing.assert_allclose(got.maps[i], ref, atol=1e-4)
    # the closed-form logits equal the head applied to the same masks
    assert np.all((got.probs > 0) & (got.probs < 1))


def test_ensemble_maps_are_each_members_gradcam(lite0):
    model, info = lite0
    images = _images(1)
    got = ensemble_maps([model], images, info, metric_size=32)
    ref = reduce_maps(gradcam(model, gray_to_input(images, info)), 32)
    np.testing.assert_allclose(got.maps[:, 0], ref, atol=1e-6)
    with torch.inference_mode():
        p = torch.sigmoid(model(gray_to_input(images, info))).numpy()
    np.testing.assert_allclose(got.probs[:, 0], p, atol=1e-6)
    assert got.names == ["member1"]


def test_identity_tta_gives_the_reference_map_and_no_flip(lite0):
    model, info = lite0
    images = _images(2)
    ident = Perturbation("identity")
    got = tta_maps(model, images, info, [ident], metric_size=64)
    ref = gradcam(model, gray_to_input(images, info))
    np.testing.assert_allclose(got.maps[:, 0], ref, atol=1e-5)
    assert got.valid.all()
    rows = stability_against_reference(ref, got, got.probs[:, 0], 0.5, ["a", "b"])
    np.testing.assert_allclose(rows["spearman"], 1.0)
    assert not rows["label_flipped"].any()
    # a threshold between the two probabilities flips exactly the images that cross it
    assert got.probs[0, 0] != got.probs[1, 0]
    flipped = stability_against_reference(ref, got, np.array([1.0, 1.0]), float(got.probs[:, 0].mean()),
                                          ["a", "b"])
    assert flipped["label_flipped"].sum() == 1


def test_reduce_helpers():
    maps = np.arange(16, dtype=np.float32).reshape(1, 4, 4)
    np.testing.assert_allclose(reduce_maps(maps, 2)[0], [[2.5, 4.5], [10.5, 12.5]])
    mask = np.ones((4, 4), bool)
    mask[0, 0] = False
    assert reduce_masks(mask, 2).tolist() == [[False, True], [True, True]]


def test_stability_by_source_runs_the_three_sources_against_one_reference(lite0):
    from tmvlib.explain.stability import stability_by_source

    model, info = lite0
    images = _images(2)
    ident = Perturbation("identity")
    got = stability_by_source(model, [model], images, info, np.array([0.2, 0.9]), 0.5, ["a", "b"],
                              StabilityProtocol([ident], 32, 0.15, (8, 8), mc_samples=3, seed=0, batch_size=2))
    np.testing.assert_allclose(got.maps, gradcam(model, gray_to_input(images, info)), atol=1e-5)
    assert got.reference.shape == (2, 32, 32) and set(got.sources) == {"MC dropout", "ensemble", "TTA"}
    counts = got.rows.groupby(["source", "image_id"]).size()
    assert counts["MC dropout"].tolist() == [3, 3] and counts["TTA"].tolist() == [1, 1]
    # the ensemble "member" is the model itself and the TTA copy the identity: perfectly stable
    same = got.rows[got.rows["source"].isin(["ensemble", "TTA"])]
    np.testing.assert_allclose(same["spearman"], 1.0, atol=1e-6)


def test_perturbed_maps_by_name_and_spread():
    from tmvlib.explain.geometry import tta_spread
    from tmvlib.explain.stability import PerturbedMaps, tta_spread_maps

    rng = np.random.default_rng(0)
    maps = rng.random((2, 3, 8, 8)).astype(np.float32)
    valid = np.ones((3, 8, 8), bool)
    valid[0, 0, 0] = False
    perturbed = PerturbedMaps(maps, valid, rng.random((2, 3)), ["p0", "p1", "p2"])
    by_name = perturbed.by_name()
    assert list(by_name) == ["p0", "p1", "p2"] and np.array_equal(by_name["p1"], maps[:, 1])
    spread = tta_spread_maps(perturbed)
    assert spread.shape == (2, 8, 8)
    np.testing.assert_array_equal(spread[1], tta_spread(maps[1], valid))
    empty = PerturbedMaps(np.zeros((0, 3, 8, 8), np.float32), valid, np.zeros((0, 3)), ["p0", "p1", "p2"])
    assert tta_spread_maps(empty).shape == (0, 8, 8)


def test_reduce_images_to_uint8_thumbnails():
    from tmvlib.explain.stability import reduce_images

    images = _images(2, size=64)
    got = reduce_images(images, 16)
    assert got.dtype == np.uint8 and got.shape == (2, 16, 16)
    np.testing.assert_array_equal(got, reduce_maps(images[:, 0].float().numpy(), 16).round().astype(np.uint8))


def test_method_tta_stability_compares_scorecam_and_gradcam(lite0):
    from tmvlib.explain.stability import method_tta_stability

    model, info = lite0
    images = _images(1)
    reference = reduce_maps(gradcam(model, gray_to_input(images, info)), 32)
    rows = method_tta_stability(model, images, info, reference, np.array([0.7]), 0.5, ["a"],
                                StabilityProtocol([Perturbation("identity")], 32, 0.15, (8, 8)), scorecam_top_k=4)
    assert rows["method"].tolist() == ["Score-CAM (top-k)", "Grad-CAM"] and rows.index.tolist() == [0, 0]
    # the identity perturbation reproduces both reference maps
    np.testing.assert_allclose(rows["spearman"], 1.0, atol=1e-5)


def test_perturbed_probabilities_are_the_tta_forward_without_maps(lite0):
    from tmvlib.explain.perturbations import single_factor_perturbations
    from tmvlib.explain.stability import perturbed_probabilities

    model, info = lite0
    images = _images(3)
    factors = single_factor_perturbations(both_signs=False)[:2]
    probs = perturbed_probabilities(model, images, info, factors, batch_size=2)
    assert probs.shape == (3, 2) and probs.dtype == np.float32
    np.testing.assert_allclose(probs, tta_maps(model, images, info, factors, metric_size=16).probs, atol=1e-6)



def test_tta_stability_is_the_tta_source_of_stability_by_source(lite0):
    from tmvlib.explain.perturbations import tta_perturbations
    from tmvlib.explain.similarity import stability_summary
    from tmvlib.explain.stability import stability_by_source, tta_stability

    model, info = lite0
    images = _images(2)
    perts = tta_perturbations(2, seed=0)
    protocol = StabilityProtocol(perts, 32, 0.15, (8, 8), mc_samples=2, seed=0, batch_size=2)
    got = tta_stability(model, images, info, np.array([0.2, 0.9]), 0.5, ["a", "b"], protocol)
    full = stability_by_source(model, [model], images, info, np.array([0.2, 0.9]), 0.5, ["a", "b"], protocol)
    want = stability_summary(full.rows[full.rows["source"] == "TTA"], by=["image_id"])
    np.testing.assert_allclose(got["instability"], want["instability"], atol=1e-6)
    np.testing.assert_allclose(got["flip_rate"], want["flip_rate"])
    assert list(got["image_id"]) == ["a", "b"]


def test_a_source_measured_alone_equals_its_part_of_every_source(lite0):
    """Chapter 06's fold models measure TTA alone: the same rows, reference maps and perturbed
    probabilities as the TTA part of a run of every source, and StabilityBySet.of_sources gives
    that part of a stored run."""
    import pandas as pd
    import pytest

    from tmvlib.explain.perturbations import tta_perturbations
    from tmvlib.explain.stability import StabilityBySet, check_sources, stability_by_source

    model, info = lite0
    images = _images(3)
    protocol = StabilityProtocol(tta_perturbations(2, seed=0), 32, 0.15, (8, 8), mc_samples=2, seed=0, batch_size=2)
    args = (images, info, np.array([0.2, 0.9, 0.6]), 0.5, ["a", "b", "c"], protocol)
    full = stability_by_source(model, [model], *args)
    alone = stability_by_source(model, [], *args, sources=["TTA"])
    assert list(alone.sources) == ["TTA"] and set(alone.rows["source"]) == {"TTA"}
    pd.testing.assert_frame_equal(alone.rows, full.rows[full.rows["source"] == "TTA"].reset_index(drop=True))
    np.testing.assert_array_equal(alone.reference, full.reference)
    np.testing.assert_array_equal(alone.sources["TTA"].probs, full.sources["TTA"].probs)
    stored = StabilityBySet(full.rows.assign(set="test"), {"test": full.reference},
                            {"test": {s: p.probs for s, p in full.sources.items()}})
    part = stored.of_sources(["TTA"])
    pd.testing.assert_frame_equal(part.rows.drop(columns="set"), alone.rows)
    assert list(part.probs["test"]) == ["TTA"]
    with pytest.raises(ValueError, match="did not measure"):
        StabilityBySet(alone.rows, {}, {"test": {"TTA": alone.sources["TTA"].probs}}).of_sources(["ensemble"])
    assert check_sources(["TTA", "MC dropout"]) == ("MC dropout", "TTA")
    for bad in (["tta"], []):
        with pytest.raises(ValueError, match="stability sources must be some of"):
            check_sources(bad)
