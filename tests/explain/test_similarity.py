"""Explanation-stability metrics on hand-made maps (16-32 px), and the per-image summary."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tmvlib.explain.localization import binarize
from tmvlib.explain.similarity import (center_of_mass, com_shift, pair_metrics, pool_to_grid,
                                       rank_correlation, stability_rows, stability_summary, topk_mask)


def topk_iou(a, b, k=0.15, mask=None) -> float:
    return pair_metrics(a, b, mask, k)["iou_topk"]


def topk_dice(a, b, k=0.15, mask=None) -> float:
    return pair_metrics(a, b, mask, k)["dice_topk"]


def square(shape=(20, 20), top=4, left=4, size=4) -> np.ndarray:
    heat = np.zeros(shape, dtype=np.float32)
    heat[top:top + size, left:left + size] = 1.0
    return heat


def smooth(shape=(20, 20), seed=0) -> np.ndarray:
    """A map without ties: a ramp plus a little noise."""
    rows, cols = np.indices(shape)
    return (rows + 0.5 * cols + np.random.default_rng(seed).random(shape) * 0.1).astype(np.float32)


def test_identical_maps_are_perfectly_stable():
    heat = smooth()
    assert topk_iou(heat, heat) == 1.0 and topk_dice(heat, heat) == 1.0
    assert rank_correlation(heat, heat) == pytest.approx(1.0)
    assert com_shift(heat, heat) == 0.0


def test_topk_mask_matches_binarize_and_respects_the_mask():
    heat = smooth(seed=1)
    np.testing.assert_array_equal(topk_mask(heat, 0.1), binarize(heat, "top_k", 0.1))
    mask = np.zeros(heat.shape, dtype=bool)
    mask[:10] = True  # the hottest rows are excluded
    top = topk_mask(heat, 0.1, mask)
    assert top.sum() == 20 and not top[10:].any()
    assert (heat[top].min() >= heat[mask & ~top].max())
    assert not topk_mask(heat, 0.1, np.zeros(heat.shape, dtype=bool)).any()
    with pytest.raises(ValueError, match="k must be"):
        topk_mask(heat, 0)


def test_disjoint_and_half_overlapping_blobs():
    a, b = square(left=2), square(left=12)
    assert topk_iou(a, b, k=16 / 400) == 0.0 and topk_dice(a, b, k=16 / 400) == 0.0
    c = square(left=4)
    d = square(left=6)  # 4x4 squares sharing 2 columns: |A & B| = 8, |A | B| = 24
    assert topk_iou(c, d, k=16 / 400) == pytest.approx(8 / 24)
    assert topk_dice(c, d, k=16 / 400) == pytest.approx(2 * 8 / 32)


def test_center_of_mass_and_a_3_4_shift_of_5_pixels():
    a = square(top=4, left=4, size=4)
    assert center_of_mass(a) == (5.5, 5.5)
    b = square(top=7, left=8, size=4)
    assert com_shift(a, b) == pytest.approx(5.0)
    assert pair_metrics(a, b)["com_shift_pct"] == pytest.approx(100 * 5 / 20)
    assert all(math.isnan(v) for v in center_of_mass(np.zeros((8, 8))))
    assert math.isnan(com_shift(a, np.zeros_like(a)))
    with pytest.raises(ValueError, match="non-negative"):
        center_of_mass(-a)


def test_mask_excludes_pixels_from_every_metric():
    a = square(top=2, left=2)
    b = a.copy()
    b[15:19, 15:19] = 5.0  # a hot spot only in b, outside the mask
    mask = np.ones(a.shape, dtype=bool)
    mask[12:, 12:] = False
    k = 16 / mask.sum()
    assert topk_iou(a, b, k) < 1 and topk_iou(a, b, k, mask) == 1.0
    assert com_shift(a, b) > 5 and com_shift(a, b, mask) == 0.0
    noisy = b + smooth() * 1e-3  # break the ties so the rank correlation is defined
    assert rank_correlation(a + smooth() * 1e-3, noisy, mask) == pytest.approx(1.0)
    b_nan = b.copy()
    b_nan[~mask] = np.nan  # undefined pixels are fine outside the mask ...
    assert topk_iou(a, b_nan, k, mask) == 1.0
    with pytest.raises(ValueError, match="non-finite"):  # ... but not inside it
        topk_iou(a, b_nan, k)
    with pytest.raises(ValueError, match="mask must be bool"):
        topk_iou(a, b, k, mask.astype(int))


def test_grid_pooling_averages_valid_pixels_per_cell():
    heat = np.arange(16, dtype=float).reshape(4, 4)
    pooled, cells = pool_to_grid(heat, (2, 2))
    np.testing.assert_allclose(pooled, [[2.5, 4.5], [10.5, 12.5]])
    assert cells.all()
    mask = np.ones((4, 4), dtype=bool)
    mask[0, 0] = False
    mask[2:, 2:] = False
    pooled, cells = pool_to_grid(heat, (2, 2), mask)
    assert pooled[0, 0] == pytest.approx((1 + 4 + 5) / 3)
    assert np.isnan(pooled[1, 1]) and cells.tolist() == [[True, True], [True, False]]
    with pytest.raises(ValueError, match="grid"):
        pool_to_grid(heat, (5, 2))


def test_rank_correlation_on_a_grid_ignores_fine_detail():
    rows, cols = np.indices((16, 16))
    coarse = (rows // 4 * 4 + cols // 4).astype(float)  # one value per 4x4 cell
    checker = np.where((rows + cols) % 2 == 0, 1.0, -1.0)  # zero mean in every 4x4 cell
    a, b = coarse + 20 * checker, coarse - 20 * checker  # opposite fine detail
    assert rank_correlation(a, b) < 0
    assert rank_correlation(a, b, grid=(4, 4)) == pytest.approx(1.0)
    assert rank_correlation(-a, a, grid=(4, 4)) == pytest.approx(-1.0)


def test_constant_maps_give_nan_rather_than_a_number():
    flat, heat = np.zeros((8, 8)), smooth((8, 8))
    for metric in (topk_iou, topk_dice, rank_correlation):
        assert math.isnan(metric(flat, heat)) and math.isnan(metric(heat, flat))
    one_pixel = np.zeros((8, 8), dtype=bool)
    one_pixel[3, 3] = True
    assert math.isnan(rank_correlation(heat, heat, one_pixel))


def test_stability_rows_one_row_per_perturbation():
    ref = square(top=4, left=4)
    perturbed = np.stack([ref, square(top=7, left=8), square(top=12, left=12)])
    valid = np.ones((3, 20, 20), dtype=bool)
    rows = stability_rows(ref, perturbed, valid, label_flipped=[False, False, True], k=16 / 400,
                          names=["id", "shift", "far"])
    assert list(rows["perturbation"]) == ["id", "shift", "far"]
    assert rows["iou_topk"].tolist()[0] == 1.0 and rows["iou_topk"].tolist()[2] == 0.0
    assert rows["com_shift_px"].tolist()[:2] == pytest.approx([0.0, 5.0])
    assert rows["com_shift_pct"].tolist()[1] == pytest.approx(25.0)
    assert rows["label_flipped"].tolist() == [False, False, True]
    unknown = stability_rows(ref, perturbed[:1])
    assert unknown["label_flipped"].isna().all() and unknown["perturbation"].tolist() == ["0"]
    with pytest.raises(ValueError, match="label_flipped"):
        stability_rows(ref, perturbed, label_flipped=[True])


def hand_rows() -> pd.DataFrame:
    """Image A: three perturbations, the last flipped; image B: one, flipped."""
    return pd.DataFrame({
        "image_id": ["A", "A", "A", "B"], "source": "tta",
        "iou_topk": [1.0, 0.5, 0.0, 0.4], "dice_topk": [1.0, 2 / 3, 0.0, 0.6],
        "spearman": [1.0, 0.8, np.nan, 0.2], "com_shift_px": [0.0, 2.0, 4.0, 1.0],
        "com_shift_pct": [0.0, 10.0, 20.0, 5.0],
        "label_flipped": pd.array([False, False, True, True], dtype="boolean"),
    })


def test_summary_by_hand():
    summary = stability_summary(hand_rows()).set_index("image_id")
    a, b = summary.loc["A"], summary.loc["B"]
    assert a["n_perturbations"] == 3 and a["flip_rate"] == pytest.approx(1 / 3)
    assert a["iou_topk"] == pytest.approx(0.5) and a["iou_topk_kept"] == pytest.approx(0.75)
    assert a["spearman"] == pytest.approx(0.9)  # the NaN is left out, not counted as 0
    assert a["com_shift_px"] == pytest.approx(2.0) and a["com_shift_px_kept"] == pytest.approx(1.0)
    assert a["instability"] == pytest.approx(0.1) and a["instability_iou"] == pytest.approx(0.5)
    assert b["flip_rate"] == 1.0 and b["iou_topk"] == pytest.approx(0.4)
    assert math.isnan(b["iou_topk_kept"]) and math.isnan(b["spearman_kept"])  # all flipped


def test_summary_without_label_information_and_by_other_keys():
    rows = hand_rows().assign(label_flipped=pd.array([pd.NA] * 4, dtype="boolean"))
    summary = stability_summary(rows)
    assert summary["flip_rate"].isna().all() and summary["iou_topk_kept"].isna().all()
    overall = stability_summary(hand_rows(), by=["source"])
    assert overall["n_perturbations"].tolist() == [4]
    assert overall["iou_topk"].iloc[0] == pytest.approx(1.9 / 4)
    with pytest.raises(KeyError, match="grouping"):
        stability_summary(hand_rows().drop(columns="source"))
