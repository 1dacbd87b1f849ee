"""Heatmap storage: float16 round trip, refusals that name the image or file."""
from __future__ import annotations

import numpy as np
import pytest

from tmvlib.explain.store import heatmap_dir, load_heatmaps, save_heatmaps


def test_round_trip_float16(tmp_path):
    maps = np.random.default_rng(0).random((3, 8, 8)).astype(np.float32)
    directory = heatmap_dir(tmp_path, "gradcam")
    paths = save_heatmaps(directory, ["a", "b", "c"], maps)
    assert [p.name for p in paths] == ["a.npy", "b.npy", "c.npy"]
    assert np.load(paths[0]).dtype == np.float16
    back = load_heatmaps(directory, ["c", "a"])
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, maps[[2, 0]], atol=1e-3)


def test_nan_or_out_of_range_is_refused_naming_the_image(tmp_path):
    maps = np.zeros((2, 4, 4), np.float32)
    maps[1, 0, 0] = np.nan
    with pytest.raises(ValueError, match="image b"):
        save_heatmaps(tmp_path, ["a", "b"], maps)
    maps[1, 0, 0] = 1.5
    with pytest.raises(ValueError, match=r"image b leaves \[0, 1\]"):
        save_heatmaps(tmp_path, ["a", "b"], maps)
    with pytest.raises(ValueError, match="2 images"):
        save_heatmaps(tmp_path, ["a", "b"], maps[:1])


def test_missing_maps_and_bad_method_names(tmp_path):
    save_heatmaps(tmp_path, ["a"], np.zeros((1, 4, 4), np.float32))
    with pytest.raises(FileNotFoundError, match="1 heatmap.*zz.npy"):
        load_heatmaps(tmp_path, ["a", "zz"])
    with pytest.raises(ValueError, match="folder name"):
        heatmap_dir(tmp_path, "../x")
