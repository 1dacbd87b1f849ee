"""Heatmap overlay: shape, blending and box outlines."""
from __future__ import annotations

import numpy as np
import pytest
from matplotlib import colormaps

from tmvlib.explain import overlay


def test_overlay_blends_and_draws_boxes():
    gray = np.full((16, 16), 100, dtype=np.uint8)
    heat = np.zeros((16, 16), dtype=np.float32)
    out = overlay(gray, heat, alpha=0.0)
    assert out.shape == (16, 16, 3) and out.dtype == np.uint8 and (out == 100).all()
    full = overlay(gray, heat + 1.0, alpha=1.0, cmap="jet")
    expected = np.rint(np.asarray(colormaps["jet"](1.0)[:3]) * 255)
    np.testing.assert_array_equal(full[8, 8], expected)
    boxed = overlay(gray, heat, alpha=0.0, boxes=[(4, 4, 6, 6)], thickness=1)
    assert tuple(boxed[4, 6]) == (0, 255, 0) and tuple(boxed[9, 9]) == (0, 255, 0)
    assert tuple(boxed[6, 6]) == (100, 100, 100)  # inside the outline stays untouched


def test_overlay_validates_inputs():
    gray = np.zeros((8, 8), dtype=np.uint8)
    with pytest.raises(TypeError):
        overlay(gray.astype(np.float32), np.zeros((8, 8)))
    with pytest.raises(ValueError):
        overlay(gray, np.zeros((4, 4)))
