"""Explanation tables on synthetic maps and boxes, where every number is known by hand."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tmvlib.explain.regions import peak_region
from tmvlib.tables.explanation import (agreement_rows, boxes_by_image, chance_localization,
                                       excess_over_chance, localization_rows, localization_table,
                                       paired_difference, region_rows, region_table,
                                       sanity_verdict)


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
    rows = localization_rows(maps, ["in", "out"], BOXES, top_k=0.0625)
    assert rows["pointing"].tolist() == [1.0, 0.0]
    assert rows.loc[0, "energy_inside"] > 0.75 and rows.loc[1, "energy_inside"] < 0.01
    assert rows.loc[0, "iou_topk"] > 0.5 and rows.loc[1, "iou_topk"] == 0.0
    assert rows["box_area"].tolist() == [100 / 1600, 100 / 1600]
    with pytest.raises(KeyError, match="zz"):
        localization_rows(maps[:1], ["zz"], BOXES)


def test_chance_levels_and_table():
    rows = pd.DataFrame({"image_id": ["a", "b"], "box_area": [0.25, 0.25], "pointing": [1.0, 0.0],
                         "iou_otsu": [0.5, 0.1], "iou_topk": [0.4, 0.0], "energy_inside": [0.6, 0.2],
                         "method": "m", "patient_id": ["p1", "p2"]})
    chance = chance_localization(rows, top_k=0.25)
    np.testing.assert_allclose(chance["pointing"], [0.25, 0.25])
    np.testing.assert_allclose(chance["iou_topk"], 0.0625 / 0.4375)  # k a / (k + a - k a)
    table = localization_table(rows, top_k=0.25, n_boot=50)
    assert set(table["method"]) == {"m", "chance (uniform map)"}
    hit = table[(table["method"] == "m") & (table["quantity"] == "pointing game (hit rate)")].iloc[0]
    assert hit["value"] == 0.5 and hit["images"] == 2
    assert "IoU, top 25% pixels" in set(table["quantity"])
    excess = excess_over_chance(rows, top_k=0.25, n_boot=50).set_index("quantity")
    assert excess.loc["pointing game (hit rate)", "value"] == pytest.approx(0.25)  # 0.5 - 0.25
    assert excess.loc["energy inside box", "value"] == pytest.approx(0.4 - 0.25)


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


def _cascade(rhos):
    rows = [{"step": 0, "layer": "none", "spearman": 1.0, "ssim": 1.0, "image_id": i} for i in "ab"]
    for step, (layer, values) in enumerate(rhos, start=1):
        rows += [{"step": step, "layer": layer, "spearman": v, "ssim": 0.1, "image_id": i}
                 for i, v in zip("ab", values)]
    return pd.DataFrame(rows)


def test_sanity_verdict_pass_fail_and_constant_maps():
    passed = sanity_verdict(_cascade([("fc", [0.1, -0.2]), ("head", [np.nan, np.nan])]))
    assert passed["passed"] and passed["final_median"] == 0.0 and passed["worst_step"] == "fc"
    failed = sanity_verdict(_cascade([("fc", [0.9, 0.8]), ("head", [0.1, 0.0])]))
    assert not failed["passed"] and failed["worst_step"] == "fc"
    assert failed["worst_median"] == pytest.approx(0.85)
    # a strongly negative correlation is still similarity (the ranking survived, inverted)
    assert not sanity_verdict(_cascade([("fc", [-0.9, -0.8])]))["passed"]
