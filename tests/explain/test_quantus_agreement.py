"""Our localisation and similarity metrics against Quantus (Hedström et al. 2023, JMLR 24(34)),
the reference implementation of the saliency-evaluation literature, on the same maps."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

quantus = pytest.importorskip("quantus", reason="quantus is in the test extra (pip install -e '.[test]')")

from quantus.functions.similarity_func import correlation_spearman  # noqa: E402

from tmvlib.explain.localization import box_mask, energy_inside, pointing_game  # noqa: E402
from tmvlib.explain.sanity import map_similarity  # noqa: E402


def _maps_and_boxes(n=24, size=32, seed=0):
    rng = np.random.default_rng(seed)
    maps = rng.random((n, size, size)).astype(np.float32)
    boxes = []
    for i in range(n):
        x, y = rng.integers(0, size - 8, 2)
        w, h = rng.integers(3, 8, 2)
        boxes.append([(float(x), float(y), float(w), float(h))])
        if i % 2:  # half the maps peak inside their box
            maps[i, y + 1, x + 1] = 2.0
    return maps, boxes


def _quantus(metric, maps, boxes):
    a = maps[:, None]
    s = np.stack([box_mask(b, m.shape) for m, b in zip(maps, boxes)])[:, None].astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(metric(disable_warnings=True)(model=None, x_batch=a, y_batch=np.zeros(len(a), int),
                                                        a_batch=a, s_batch=s), dtype=float)


def test_pointing_game_matches_quantus():
    maps, boxes = _maps_and_boxes()
    ours = np.array([pointing_game(m, b) for m, b in zip(maps, boxes)], dtype=float)
    assert ours.sum() >= len(maps) / 2  # both hits and misses are exercised
    np.testing.assert_array_equal(ours, _quantus(quantus.PointingGame, maps, boxes))


def test_relevance_mass_matches_quantus():
    maps, boxes = _maps_and_boxes(seed=1)
    ours = np.array([energy_inside(m, b) for m, b in zip(maps, boxes)])
    np.testing.assert_allclose(ours, _quantus(quantus.RelevanceMassAccuracy, maps, boxes), rtol=1e-5)


def test_spearman_of_the_sanity_checks_matches_quantus():
    rng = np.random.default_rng(2)
    for _ in range(5):
        a, b = rng.random((16, 16)), rng.random((16, 16))
        b = 0.5 * a + 0.5 * b
        assert map_similarity(a, b)[0] == pytest.approx(correlation_spearman(a.ravel(), b.ravel()), abs=1e-12)
