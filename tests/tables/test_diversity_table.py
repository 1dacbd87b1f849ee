import numpy as np
import pandas as pd
import pytest

from tmvlib.report.diversity import diversity_display, diversity_verdict
from tmvlib.tables.diversity import (CAM_AGREEMENT, DISAGREEMENT, METRICS, diversity_by_set, diversity_values,
                                     member_map_agreement)


def _probs(rng, m, n, noise):
    base = rng.uniform(0.05, 0.95, n)
    return np.clip(base + rng.normal(0, noise, (m, n)), 0, 1)


def test_map_agreement_is_one_for_identical_maps_and_nan_for_constant():
    rng = np.random.default_rng(0)
    one = rng.random((8, 8))
    maps = np.stack([np.stack([one, one, one]), np.stack([np.zeros((8, 8))] * 2 + [one])])
    out = member_map_agreement(maps)
    assert out[0] == pytest.approx(1.0) and np.isnan(out[1])
    with pytest.raises(ValueError, match="M >= 2"):
        member_map_agreement(maps[:, :1])


def test_more_diverse_design_is_detected_with_paired_intervals():
    rng = np.random.default_rng(1)
    n = 200
    frame = pd.DataFrame({"label": rng.integers(0, 2, n), "patient_id": np.arange(n) // 2})
    probs = {"independent": {"test": _probs(rng, 4, n, 0.15)}, "shared views": {"test": _probs(rng, 4, n, 0.02)}}
    table = diversity_by_set(probs, {"test": frame}, 0.5, "shared views", n_boot=200, seed=0)
    assert set(table["metric"]) == set(METRICS) - {CAM_AGREEMENT}  # no maps: left out
    diff = table[(table["kind"] == "difference") & (table["metric"] == DISAGREEMENT)].iloc[0]
    assert diff["low"] > 0 and diff["low"] <= diff["value"] <= diff["high"]
    assert "independent is more diverse" in diversity_verdict(diff, "independent", "shared views")
    levels = table[table["kind"] == "level"]
    assert ((levels["low"] <= levels["value"]) & (levels["value"] <= levels["high"])).all()
    shown = diversity_display(table)
    assert list(shown.columns[:2]) == ["independent", "shared views"] and "detectable (80% power)" in shown


def test_one_design_gives_levels_only_and_partial_maps_are_nan():
    rng = np.random.default_rng(2)
    probs = _probs(rng, 3, 10, 0.1)
    maps = rng.random((4, 3, 8, 8))
    values = diversity_values(probs, rng.integers(0, 2, 10), 0.5, maps)
    assert values[CAM_AGREEMENT].notna().sum() == 4
    frame = pd.DataFrame({"label": rng.integers(0, 2, 10), "patient_id": np.arange(10)})
    table = diversity_by_set({"independent": {"test": probs}}, {"test": frame}, 0.5, "shared views",
                             {"independent": maps}, n_boot=50)
    assert set(table["kind"]) == {"level"} and CAM_AGREEMENT in set(table["metric"])


def test_summary_counts_measures():
    from tmvlib.report.diversity import diversity_summary

    rows = pd.DataFrame([
        {"set": "test", "kind": "difference", "metric": DISAGREEMENT, "value": 0.1, "low": 0.05, "high": 0.2},
        {"set": "test", "kind": "difference", "metric": CAM_AGREEMENT, "value": 0.1, "low": 0.05, "high": 0.2},
        {"set": "test", "kind": "difference", "metric": "probability spread (SD)", "value": 0.0, "low": -0.1, "high": 0.1},
    ])
    text = diversity_summary(rows, "test", "A", "B")
    assert text.startswith("on 1 of 3 measures A is measurably more diverse than B, on 1 less diverse, and on 1")
    assert diversity_summary(rows, "external", "A", "B") == "A was not compared with B"


def test_display_aligns_detectable_differences_with_their_rows():
    rng = np.random.default_rng(3)
    n = 60
    frame = pd.DataFrame({"label": rng.integers(0, 2, n), "patient_id": np.arange(n)})
    probs = {"independent": {"test": _probs(rng, 3, n, 0.2)}, "shared views": {"test": _probs(rng, 3, n, 0.01)}}
    table = diversity_by_set(probs, {"test": frame}, 0.5, "shared views", n_boot=50)
    shown = diversity_display(table)
    diffs = table[table["kind"] == "difference"].set_index("metric")["mdd"]
    for (_, metric), text in shown["detectable (80% power)"].items():
        assert float(text) == pytest.approx(diffs[metric], abs=1e-3), metric
