"""Fixed border / corner / lung-proxy regions and the heat energy in each."""
from __future__ import annotations

import numpy as np
import pytest

from tmvlib.explain import energy_by_region, region_masks


def test_region_geometry_at_100px():
    m = region_masks((100, 100))
    assert m["border"].sum() == 100 * 100 - 84 * 84  # 8 px band each side
    for c in ("tl", "tr", "bl", "br"):
        assert m[f"corner_{c}"].sum() == 12 * 12
    assert m["corners"].sum() == 4 * 144 and m["corner_br"][99, 99]
    assert m["mediastinum"].sum() == 80 * 10  # rows 10..89, columns 45..54
    assert m["lung_proxy"].sum() == 80 * 70 - 80 * 10
    assert not (m["lung_proxy"] & m["mediastinum"]).any()
    assert not (m["lung_proxy"] & m["border"]).any()


def test_uniform_map_energy_equals_area():
    e = energy_by_region(np.ones((64, 48)))
    for name in ("border", "corners", "lung_proxy", "mediastinum"):
        assert e[name] == pytest.approx(e[f"area_{name}"])


def test_corner_hotspot():
    heat = np.zeros((50, 50))
    heat[0:3, 47:50] = 1.0  # a marker in the top-right corner
    e = energy_by_region(heat)
    assert e["corner_tr"] == 1.0 and e["corners"] == 1.0 and e["border"] == 1.0
    assert e["lung_proxy"] == 0.0
    assert np.isnan(energy_by_region(np.zeros((8, 8)))["border"])
    with pytest.raises(ValueError):
        energy_by_region(np.zeros((2, 8, 8)))
