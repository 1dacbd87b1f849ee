"""Explanation tables on synthetic maps and boxes, where every number is known by hand."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tmvlib.explain.regions import peak_region
from tmvlib.explain.localization import tune_threshold
from tmvlib.tables.explanation import (agreement_rows, boxes_by_image, confidence_correlation,
                                       crossfit_thresholds, excess_over, localization_at_coverage,
                                       localization_rows, localization_table, paired_difference,
                                       patient_folds, region_rows, region_table, sanity_table,
                                       sanity_verdict)

from tmv_testing import sanity_verdict_of_toys as verdict_of


def blob(center, size=40, sigma=3.0):
    yy, xx = np.mgrid[0:size, 0:size]
    return np.exp(-((yy - center[0]) ** 2 + (xx - center[1]) ** 2) / (2 * sigma ** 2)).astype(np.float32)


BOXES = {"in": [(5, 5, 10, 10)], "out": [(5, 5, 10, 10)]}  # x, y, w, h: rows/cols 5..14


def test_boxes_grouped_and_filtered():
    frame = pd.DataFrame({"image_id": ["a", "a", "b"], "finding": ["Pneumonia", "Mass", "Mass"],
                          "x": [1.0, 2, 3], "y": [4.0, 5, 6], "w": [7.0, 8, 9], "h": [1.0, 2, 3]})
    assert boxes_by_image(frame) == {"a": [(1, 4, 7, 1), (2, 5, 8, 2)], "b": [(3, 6, 9, 3)]}
    assert boxes_by_image(frame, ["Pneumonia"]) == {"a": [(1, 4, 7, 1)]}
    with pytest.raises(ValueError, match="columns"):
        boxes_by_image(frame.drop(columns="w"))


def test_localization_rows_hit_and_miss():
    maps = np.stack([blob((10, 10)), blob((30, 30))])
    rows = localization_rows(maps, ["in", "out"], BOXES, tolerance=0.0, thresholds=[0.5, 0.5])
    assert rows["pointing"].tolist() == [1.0, 0.0] and rows["pointing_strict"].tolist() == [1.0, 0.0]
    assert rows.loc[0, "energy_inside"] > 0.75 and rows.loc[1, "energy_inside"] < 0.01
    assert rows.loc[0, "iou_tuned"] > 0.3 and rows.loc[1, "iou_tuned"] == 0.0
    assert rows.loc[0, "auprc"] > 0.9 and rows.loc[1, "auprc"] < 0.1
    assert rows["box_area"].tolist() == [100 / 1600, 100 / 1600]
    with pytest.raises(KeyError, match="zz"):
        localization_rows(maps[:1], ["zz"], BOXES)


def test_pointing_tolerance_reaches_a_near_miss():
    near = blob((18, 10))  # 4 rows below the box (rows 5..14)
    strict = localization_rows(near[None], ["in"], BOXES, tolerance=0.0)
    loose = localization_rows(near[None], ["in"], BOXES, tolerance=5.0)
    assert strict.loc[0, "pointing"] == 0.0 and loose.loc[0, "pointing"] == 1.0
    assert loose.loc[0, "pointing_strict"] == 0.0
    assert np.isnan(strict.loc[0, "iou_tuned"])  # no thresholds given


def test_baselines_score_chance_levels():
    from tmvlib.explain.baselines import baseline_maps, prior_from_mean

    prior = prior_from_mean(np.stack([blob((10, 10)), blob((30, 30))]).astype(np.float64).mean(axis=0))
    assert prior.max() == 1.0 and prior.min() == 0.0
    maps = baseline_maps(prior)
    uniform = localization_rows(maps["random point (uniform map)"][None], ["in"], BOXES, tolerance=0.0)
    assert uniform.loc[0, "pointing"] == pytest.approx(100 / 1600)  # a random point's chance
    assert uniform.loc[0, "energy_inside"] == pytest.approx(100 / 1600)
    assert uniform.loc[0, "auprc"] == pytest.approx(100 / 1600)  # ties: the prevalence
    assert uniform.loc[0, "iou_otsu"] == 0.0
    lung = localization_rows(maps["lung field (uniform)"][None], ["in"], BOXES, tolerance=0.0)
    assert 0 < lung.loc[0, "pointing"] < 1  # a random point inside the lung proxy


def test_each_method_gets_its_own_prior_map_by_name():
    from tmvlib.explain.baselines import baseline_maps, prior_name

    own = baseline_maps({"Grad-CAM": blob((10, 10)), "Score-CAM": blob((30, 30))})
    assert list(own) == ["prior map (Grad-CAM)", "prior map (Score-CAM)", "lung field (uniform)",
                         "random point (uniform map)"]
    np.testing.assert_array_equal(own[prior_name("Score-CAM")], blob((30, 30)))
    assert prior_name() == "prior map" and list(baseline_maps(blob((10, 10))))[0] == "prior map"
    with pytest.raises(ValueError, match="shape"):
        baseline_maps({"a": np.zeros((4, 4)), "b": np.zeros((5, 5))})


def test_crossfit_thresholds_never_use_the_image_itself():
    maps = np.stack([blob((10, 10), sigma=s) for s in (2.0, 2.5, 3.0, 6.0)])
    ids, patients = ["a", "b", "c", "d"], ["p", "q", "r", "s"]
    boxes = {i: BOXES["in"] for i in ids}
    thresholds, per_fold = crossfit_thresholds(maps, ids, patients, boxes, folds=2, seed=0)
    fold = patient_folds(patients, 2, 0)
    assert sorted(np.bincount(fold)) == [2, 2]
    for k in range(2):
        others = [m for m, f in zip(maps, fold) if f != k]
        assert per_fold[k] == tune_threshold(others, [BOXES["in"]] * len(others))
    assert all(thresholds[i] == per_fold[fold[i]] for i in range(4))
    with pytest.raises(ValueError, match="patients"):
        patient_folds(["p"], 2)


def test_localization_table_and_excess_over_a_baseline():
    rows = pd.DataFrame({"image_id": ["a", "b"] * 2, "method": ["m", "m", "prior map", "prior map"],
                         "patient_id": ["p1", "p2"] * 2, "pointing": [1.0, 0.0, 0.0, 0.0],
                         "pointing_strict": [1.0, 0.0, 0.0, 0.0], "iou_tuned": np.nan,
                         "iou_otsu": [0.5, 0.1, 0.2, 0.2], "auprc": [0.6, 0.2, 0.3, 0.3],
                         "energy_inside": [0.6, 0.2, 0.3, 0.1], "box_area": 0.25})
    table = localization_table(rows, tolerance=15, n_boot=50)
    assert set(table["method"]) == {"m", "prior map"}
    assert "IoU, cross-fitted threshold" not in set(table["quantity"])  # undefined everywhere
    hit = table[(table["method"] == "m") & (table["quantity"] == "pointing game (15 px)")].iloc[0]
    assert hit["value"] == 0.5 and hit["images"] == 2
    excess = excess_over(rows, "prior map", tolerance=15, n_boot=50).set_index("quantity")
    assert set(excess["method"]) == {"m"}
    assert excess.loc["pointing game (15 px)", "value"] == pytest.approx(0.5)
    assert excess.loc["energy inside box", "value"] == pytest.approx(0.2)


def test_excess_over_each_methods_own_baseline():
    """With method -> baseline, each method is paired with its own baseline, never another's."""
    values = {"m": [0.6, 0.2], "n": [0.5, 0.5], "prior (m)": [0.3, 0.3], "prior (n)": [0.1, 0.1]}
    rows = pd.concat([pd.DataFrame({"image_id": ["a", "b"], "patient_id": ["p1", "p2"], "method": method,
                                    "auprc": v, "pointing": np.nan, "pointing_strict": np.nan, "iou_tuned": np.nan,
                                    "iou_otsu": np.nan, "energy_inside": np.nan}) for method, v in values.items()],
                     ignore_index=True)
    excess = excess_over(rows, {"m": "prior (m)", "n": "prior (n)"}, tolerance=15, n_boot=50).set_index("method")
    assert excess["quantity"].unique().tolist() == ["AUPRC of map pixels vs box"]
    assert excess.loc["m", "value"] == pytest.approx(0.1) and excess.loc["n", "value"] == pytest.approx(0.4)


def test_localization_at_coverage_keeps_the_most_confident():
    rows = pd.DataFrame({"image_id": list("abcd"), "patient_id": list("pqrs"), "confidence": [4.0, 3, 2, 1],
                         "pointing": [1.0, 1.0, 0.0, 0.0], "iou_tuned": [0.4, 0.3, 0.2, 0.1]})
    cov = localization_at_coverage(rows, [0.5, 1.0], tolerance=15, n_boot=50).set_index(["coverage", "quantity"])
    assert cov.loc[(0.5, "pointing game (15 px)"), "value"] == 1.0
    assert cov.loc[(1.0, "pointing game (15 px)"), "value"] == 0.5
    assert cov.loc[(0.5, "pointing game (15 px)"), "images"] == 2
    rho = confidence_correlation(rows, tolerance=15, n_boot=50).set_index("quantity")
    assert rho.loc["IoU, cross-fitted threshold", "value"] == pytest.approx(1.0)


def test_paired_difference_uses_shared_images():
    rows = pd.DataFrame({"method": ["a", "a", "b", "b", "b"], "image_id": ["x", "y", "x", "y", "z"],
                         "patient_id": ["p", "q", "p", "q", "r"], "pointing": [1.0, 1.0, 0.0, 1.0, 0.0]})
    diff = paired_difference(rows, "a", "b", ["pointing"], n_boot=50)
    assert diff.loc[0, "value"] == 0.5 and diff.loc[0, "images"] == 2
    with pytest.raises(ValueError, match="share no image"):
        paired_difference(rows.assign(image_id=["x", "y", "u", "v", "w"]), "a", "b", ["pointing"])


def test_region_rows_peak_and_table():
    corner, centre = np.zeros((50, 50), np.float32), np.zeros((50, 50), np.float32)
    corner[1, 1] = 1.0
    centre[25, 15] = 1.0  # left lung proxy
    rows = region_rows(np.stack([corner, centre]), ["c", "l"])
    assert rows["peak_region"].tolist() == ["corners", "lung_proxy"]
    assert rows.loc[0, "corners"] == 1.0 and rows.loc[0, "border"] == 1.0
    assert rows.loc[1, "lung_proxy"] == 1.0 and rows.loc[1, "border"] == 0.0
    assert peak_region(np.zeros((50, 50))) == "corners"  # first maximal pixel: (0, 0)
    table = region_table(rows.assign(method="m", patient_id=["p", "q"]), ["method"], n_boot=50)
    lung = table[table["quantity"] == "lung_proxy"].iloc[0]
    assert lung["value"] == 0.5 and lung["ratio"] == pytest.approx(0.5 / lung["area"])


def test_agreement_rows():
    a, b = blob((10, 10)), blob((30, 30))
    rows = agreement_rows(np.stack([a, a]), np.stack([a, b]), ["same", "apart"], top_k=0.05)
    assert rows.loc[0, "spearman"] == pytest.approx(1.0) and rows.loc[0, "iou_topk"] == 1.0
    assert rows.loc[0, "peak_distance"] == 0.0
    assert rows.loc[1, "iou_topk"] == 0.0 and rows.loc[1, "peak_distance"] == pytest.approx(np.hypot(20, 20))
    flat = agreement_rows(np.zeros((1, 40, 40)), np.stack([a]), ["flat"])
    assert np.isnan(flat.loc[0, "spearman"])
    with pytest.raises(ValueError, match="shape"):
        agreement_rows(np.stack([a]), np.stack([a, a]), ["x"])


def _rows(tests):
    rows = []
    for test, steps in tests.items():
        rows += [{"test": test, "step": 0, "layer": "none", "spearman": 1.0, "ssim": 1.0, "image_id": i,
                  "patient_id": "p" + i} for i in "abcd"]
        for step, (layer, values) in enumerate(steps, start=1):
            rows += [{"test": test, "step": step, "layer": layer, "spearman": v, "ssim": 0.1, "image_id": i,
                      "patient_id": "p" + i} for i, v in zip("abcd", values)]
    return pd.DataFrame(rows)


def test_sanity_table_and_verdict_pass_fail_undetermined():
    low, high = [0.1, -0.2, 0.05, 0.0], [0.9, 0.8, 0.85, 0.95]
    passed = verdict_of(sanity_table(_rows({"cascading": [("fc", low)], "data": [("labels", low)]}), n_boot=100))
    assert passed["verdict"] == "passes" and passed["tests"] == {"cascading": "passes", "data": "passes"}
    failed = verdict_of(sanity_table(_rows({"cascading": [("fc", low)], "independent": [("head", high)]}), n_boot=100))
    assert failed["verdict"] == "fails" and failed["worst"]["layer"] == "head"
    assert failed["worst"]["value"] == pytest.approx(np.mean(high))
    # a strongly negative correlation is still similarity (the ranking survived, inverted)
    assert verdict_of(sanity_table(_rows({"cascading": [("fc", [-0.9, -0.8, -0.85, -0.9])]}), n_boot=100))[
        "verdict"] == "fails"
    straddle = verdict_of(sanity_table(_rows({"cascading": [("fc", [0.0, 1.0, 0.0, 1.0])]}), n_boot=100))
    assert straddle["verdict"] == "undetermined"


def test_constant_maps_are_missing_not_passes():
    table = sanity_table(_rows({"cascading": [("fc", [0.1, np.nan, 0.0, 0.1]), ("head", [np.nan] * 4)]}), n_boot=100)
    rho = table[table["quantity"] == "|Spearman|"].set_index("layer")
    assert rho.loc["fc", "missing"] == 1 and rho.loc["fc", "images"] == 3
    assert rho.loc["head", "missing"] == 4 and np.isnan(rho.loc["head", "value"])
    verdict = verdict_of(table)
    assert verdict["verdict"] == "undetermined" and verdict["missing"] == 5


def test_faithfulness_summary_pairs_each_method_with_the_prior_and_each_other():
    from tmvlib.tables.explanation import faithfulness_summary

    rows = pd.DataFrame({"image_id": list("ab") * 3, "patient_id": list("pq") * 3,
                         "method": ["Grad-CAM"] * 2 + ["Score-CAM"] * 2 + ["prior map"] * 2,
                         "deletion": [0.2, 0.4, 0.3, 0.5, 0.5, 0.5], "insertion": [0.8, 0.6, 0.7, 0.7, 0.5, 0.5]})
    summary = faithfulness_summary(rows, n_boot=50).set_index(["method", "kind", "quantity"])
    assert summary.loc[("prior map", "mean", "deletion"), "value"] == pytest.approx(0.5)
    assert summary.loc[("Grad-CAM", "minus prior map", "deletion"), "value"] == pytest.approx(-0.2)
    assert summary.loc[("Score-CAM", "minus Grad-CAM", "insertion"), "value"] == pytest.approx(0.0)
    assert summary.loc[("Score-CAM", "minus Grad-CAM", "deletion"), "value"] == pytest.approx(0.1)
    own_prior = rows[rows["method"] == "prior map"].assign(method="prior map (Score-CAM)", deletion=[0.1, 0.1])
    own = {"Grad-CAM": "prior map", "Score-CAM": "prior map (Score-CAM)"}  # each method against its own prior
    paired = faithfulness_summary(pd.concat([rows, own_prior]), own, n_boot=50).set_index(["method", "kind", "quantity"])
    assert paired.loc[("Grad-CAM", "minus prior map", "deletion"), "value"] == pytest.approx(-0.2)
    assert paired.loc[("Score-CAM", "minus prior map (Score-CAM)", "deletion"), "value"] == pytest.approx(0.3)
    assert ("Score-CAM", "minus prior map", "deletion") not in paired.index


def test_fidelity_table_of_identical_and_shifted_maps():
    from tmvlib.tables.explanation import fidelity_table

    a, b = blob((10, 10)), blob((30, 30))
    rows, table = fidelity_table(np.stack([a, a]), np.stack([a, b]), ["same", "moved"], np.array(["p", "q"]),
                                 top_k=0.05, n_boot=50)
    assert rows.loc[0, "spearman"] == pytest.approx(1.0) and rows.loc[1, "iou_topk"] == 0.0
    assert table["quantity"].tolist() == ["Spearman with exact", "IoU of top 5% with exact"]
    assert table.loc[1, "value"] == pytest.approx(0.5)


def test_a_step_resting_on_too_few_maps_is_undetermined_not_a_pass():
    table = sanity_table(_rows({"cascading": [("fc", [0.1, 0.0, 0.2, 0.1])]}), n_boot=100)
    assert verdict_of(table)["verdict"] == "passes"
    few = sanity_verdict(table, 0.5, min_maps=5)
    assert few["verdict"] == "undetermined" and few["min_maps"] == 5
