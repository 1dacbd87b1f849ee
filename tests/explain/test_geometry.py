"""Peak geometry and TTA spread of heatmaps."""
import numpy as np
import pytest

from tmvlib.explain.geometry import peak_distance, peak_in_boxes, tta_spread


def test_tta_spread_counts_only_valid_maps():
    maps = np.zeros((3, 2, 2))
    maps[:, 0, 0] = [0.0, 1.0, 0.5]   # all valid: population std of (0, 1, 0.5)
    maps[:, 0, 1] = [0.2, 0.8, 100.0]  # third invalid there
    valid = np.ones((3, 2, 2), bool)
    valid[2, 0, 1] = False
    valid[1:, 1, 1] = False            # only one valid map: undefined
    spread = tta_spread(maps, valid)
    assert spread.dtype == np.float32 and spread.shape == (2, 2)
    assert spread[0, 0] == pytest.approx(np.std([0.0, 1.0, 0.5]))
    assert spread[0, 1] == pytest.approx(0.3)
    assert spread[1, 0] == 0.0
    assert np.isnan(spread[1, 1])
    assert tta_spread(maps[:2, :1, :1])[0, 0] == pytest.approx(0.5)  # valid=None: all count
    with pytest.raises(ValueError, match="P, H, W"):
        tta_spread(np.zeros((2, 2)))


def test_peak_helpers():
    heat = np.zeros((10, 10))
    heat[2, 3] = 1.0
    assert peak_in_boxes(heat, []) is None
    assert peak_in_boxes(heat, [(3, 2, 1, 1)]) is True     # x=3, y=2: the maximum's pixel
    assert peak_in_boxes(heat, [(6, 6, 2, 2)]) is False
    other = np.zeros((10, 10))
    other[2, 7] = 1.0
    assert peak_distance(heat, other) == pytest.approx(0.4)
    assert np.isnan(peak_distance(heat, np.zeros((10, 10))))
