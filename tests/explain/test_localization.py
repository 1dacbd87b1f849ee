"""Pointing game, energy inside boxes and thresholded IoU on hand-made heatmaps."""
from __future__ import annotations

import math

import numpy as np
import pytest

from tmvlib.explain import (
    binarize,
    box_mask,
    energy_inside,
    iou_thresholded,
    pointing_game,
)


def peak(shape=(32, 32), at=(10, 20)) -> np.ndarray:
    heat = np.zeros(shape, dtype=np.float32)
    heat[at] = 1.0
    return heat


def test_box_mask_covers_touched_pixels_and_clips():
    m = box_mask([(2.5, 1, 3, 2)], (8, 8))  # cols floor(2.5)=2 .. ceil(5.5)-1=5, rows 1..2
    assert m.sum() == 4 * 2 and m[1:3, 2:6].all()
    assert box_mask([(6, 6, 10, 10)], (8, 8)).sum() == 4
    assert box_mask([(20, 20, 5, 5)], (8, 8)).sum() == 0


def test_pointing_game_inside_outside_and_tolerance():
    heat = peak(at=(10, 20))  # row 10, column 20
    assert pointing_game(heat, [(18, 8, 5, 5)])  # x 18..22, y 8..12
    assert not pointing_game(heat, [(0, 0, 5, 5)])
    near = [(22, 10, 3, 3)]  # starts 2 columns right of the peak
    assert not pointing_game(heat, near)
    assert pointing_game(heat, near, tolerance=2)
    assert not pointing_game(heat, near, tolerance=1.9)
    assert pointing_game(heat, [(0, 0, 5, 5), (20, 10, 1, 1)])  # any box counts


def test_pointing_game_constant_map_and_no_boxes_are_misses():
    assert not pointing_game(np.zeros((8, 8)), [(0, 0, 8, 8)])
    assert not pointing_game(peak(), [])


def test_energy_inside():
    heat = np.zeros((10, 10))
    heat[0:5, :] = 1.0
    assert energy_inside(heat, [(0, 0, 10, 5)]) == pytest.approx(1.0)
    assert energy_inside(heat, [(0, 0, 5, 10)]) == pytest.approx(0.5)
    # overlapping boxes count their union once
    assert energy_inside(heat, [(0, 0, 5, 10), (0, 0, 5, 10)]) == pytest.approx(0.5)
    assert math.isnan(energy_inside(np.zeros((4, 4)), [(0, 0, 2, 2)]))
    with pytest.raises(ValueError):
        energy_inside(-np.ones((4, 4)), [(0, 0, 2, 2)])


def test_iou_otsu_and_top_k():
    heat = np.full((20, 20), 0.1)
    heat[5:10, 5:15] = 0.9  # 50 hot pixels
    box = [(5, 5, 10, 5)]
    assert iou_thresholded(heat, box, method="otsu") == pytest.approx(1.0)
    assert binarize(heat, "top_k", k=50 / 400).sum() == 50
    assert iou_thresholded(heat, box, method="top_k", k=50 / 400) == pytest.approx(1.0)
    assert iou_thresholded(heat, box, method="top_k", k=100 / 400) == pytest.approx(0.5)
    assert iou_thresholded(heat, [(0, 0, 2, 2)]) == 0.0
    assert math.isnan(iou_thresholded(np.zeros((4, 4)), []))
    with pytest.raises(ValueError):
        iou_thresholded(heat, box, method="mean")


def test_box_auprc_is_one_for_a_map_that_ranks_the_box_first_and_the_area_fraction_for_noise():
    import numpy as np

    from tmvlib.explain import box_auprc

    box = [(2, 2, 4, 4)]  # 16 of 100 pixels
    perfect = np.zeros((10, 10))
    perfect[2:6, 2:6] = 1.0
    assert box_auprc(perfect, box) == 1.0
    noise = [box_auprc(np.random.default_rng(s).random((60, 60)), [(10, 10, 20, 20)]) for s in range(50)]
    assert abs(np.mean(noise) - 400 / 3600) < 0.01  # chance: about the box-area fraction
    assert np.isnan(box_auprc(perfect, [])) and np.isnan(box_auprc(perfect, [(0, 0, 10, 10)]))


def test_pointing_share_breaks_ties_at_random():
    from tmvlib.explain.localization import pointing_share

    heat = np.zeros((10, 10))
    heat[2, 2] = heat[8, 8] = 1.0  # two maxima, one inside the box
    box = [(0, 0, 5, 5)]
    assert pointing_share(heat, box) == 0.5
    assert pointing_share(np.ones((10, 10)), box) == 0.25  # a random point
    # within 1 px (Euclidean): rows and cols 0..5 except the diagonal corner (5, 5)
    assert pointing_share(np.ones((10, 10)), box, tolerance=1.0) == 0.35
    assert pointing_share(heat, []) == 0.0


def test_threshold_binarisation_and_tuning():
    from tmvlib.explain.localization import THRESHOLD_GRID, binarize, iou_thresholded, tune_threshold

    heat = np.linspace(0, 2, 100).reshape(10, 10)  # min-max normalised before thresholding
    assert binarize(heat, "threshold", threshold=0.5).sum() == 50
    assert not binarize(np.ones((4, 4)), "threshold", threshold=0.5).any()
    with pytest.raises(ValueError, match="threshold"):
        binarize(heat, "threshold")
    box = [(0, 5, 10, 5)]  # the lower half: the highest values
    assert iou_thresholded(heat, box, "threshold", threshold=0.5) == pytest.approx(1.0)
    assert tune_threshold([heat], [box]) == 0.5
    assert THRESHOLD_GRID[0] == 0.2 and THRESHOLD_GRID[-1] == 0.8
    with pytest.raises(ValueError, match="as many"):
        tune_threshold([heat], [])
