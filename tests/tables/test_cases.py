"""Audited cases: the record of one case (keys, order, values), the map cache of stored and
computed maps, and the counts the chapter quotes, on hand-built inputs (no model)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from tmvlib.explain.stability import PerturbedMaps
from tmvlib.explain.store import heatmap_dir, save_heatmaps
from tmvlib.report.records import json_safe
from tmvlib.tables import cases as cases_module
from tmvlib.tables.cases import (NOT_SCORES, REASON_KEYS, AuditRules, CaseMaps, boxed_hits, box_findings,
                                 case_heatmaps, case_record, case_records, case_rows, observation_counts,
                                 reason_count, rule_share, score_columns, stored_or_computed)
from tmvlib.tables.failure_audit import REASONS, case_observations

S = 16
RULES = AuditRules(threshold=0.4, threshold_rule="youden", uncertainty_score="decision uncertainty",
                   uncertainty_threshold=0.3, instability_score="instability (TTA)", instability_threshold=0.5,
                   disagreement=0.25, scorecam_top_k=32)
KEYS = ["image_id", "patient_id", "set", "reasons", "label", "prob", "threshold", "threshold_rule", "predicted",
        "correct", "margin", "cell", "danger", "confident", "stable", "uncertainty_score", "uncertainty",
        "uncertainty_threshold", "instability_score", "instability", "instability_threshold",
        "decision_uncertainty", "mutual_information", "ensemble_variance", "flip_rate", "tta_count", "tta_probs",
        "scores", "view", "sex", "age", "quality", "source", "peak_region", "peak_region_scorecam", "image_size",
        "boxes", "box_findings", "peak_in_box", "method_peak_distance", "gradcam_source", "scorecam_source",
        "tta_spread_mean", "tta_spread_max", "observations"]


def quadrant_rows():
    base = {"label": [1, 0], "prob": [0.1, 0.9], "correct": [False, False],
            "cell": ["incorrect · confident · stable", "incorrect · uncertain · unstable"],
            "danger": [True, False], "confident": [True, False], "stable": [True, False],
            "decision uncertainty": [0.1, 0.35], "MC mutual information": [0.01, 0.02], "ensemble variance": [0.001, 0.002],
            "instability (TTA)": [0.2, 0.7], "flip rate (TTA)": [0.0, 0.5], "instability (MC dropout)": [0.1, 0.2],
            "view": ["AP", "PA"], "sex": ["F", "M"], "age": [70.0, np.nan], "quality": ["full", "squeezed"],
            "source": ["nih", "nih"], "box_findings": [None, None], "path": ["a.png", "b.png"],
            "patient_id": ["p1", "p2"], "set": ["test", "test"]}
    return {"test": pd.DataFrame({"image_id": ["a", "b"], **base}),
            "external": pd.DataFrame({"image_id": ["e"], **{k: v[:1] for k, v in base.items()}}).assign(set="external")}


def cases_frame():
    return pd.DataFrame({"image_id": ["b", "a"], "set": ["test", "test"],
                         "reasons": [["least stable explanation"], ["danger zone", "confident false negative"]],
                         "reason": ["least stable explanation", "danger zone"], "margin": [2.5, 1.8]})


def maps_and_tta(n=2):
    gradcam = np.zeros((n, S, S), np.float32)
    scorecam = np.zeros((n, S, S), np.float32)
    gradcam[:, 0, 0] = 1.0        # corner peak
    scorecam[:, 8, 8] = 1.0       # centre peak, far from Grad-CAM's
    maps = CaseMaps(gradcam, np.array([True, False][:n]), scorecam, np.array([False, True][:n]))
    tta = PerturbedMaps(np.zeros((n, 3, S, S), np.float32), None, np.array([[0.2, 0.5, 0.6], [0.9, 0.8, 0.3]])[:n],
                        ["tta00", "tta01", "tta02"])
    spread = np.full((n, S, S), 0.1, np.float32)
    spread[:, 0, 0] = np.nan
    spread[:, 1, 1] = 0.4
    return maps, tta, spread


def test_small_helpers():
    scores = pd.DataFrame(columns=[*NOT_SCORES, "decision uncertainty", "instability (TTA)"])
    assert score_columns(scores) == ["decision uncertainty", "instability (TTA)"]
    cases = cases_frame()
    assert reason_count(cases, "danger zone") == 1 and reason_count(cases, "shifted-set failure") == 0
    assert set(REASON_KEYS.values()) == set(REASONS)
    info = case_rows(quadrant_rows(), cases)
    assert info["image_id"].tolist() == ["b", "a"] and info.index.tolist() == [0, 1]
    boxes = pd.DataFrame({"image_id": ["a", "a", "a", "c"], "finding": ["Mass", "Effusion", "Mass", "Nodule"]})
    assert box_findings(boxes).to_dict() == {"a": "Effusion, Mass", "c": "Nodule"}


def test_case_record_keys_order_and_values():
    quadrants, cases = quadrant_rows(), cases_frame()
    info = case_rows(quadrants, cases)
    maps, tta, spread = maps_and_tta()
    scores = ["decision uncertainty", "instability (TTA)"]
    boxes = [(0.0, 0.0, 4.0, 4.0)]
    record = case_record(next(cases.iloc[[1]].itertuples()), info.iloc[1], 1, maps, tta, spread, RULES, scores,
                         boxes, "Mass")
    assert list(record) == KEYS
    assert record["image_id"] == "a" and record["reasons"] == ["danger zone", "confident false negative"]
    assert record["predicted"] == 0 and record["correct"] is False and record["margin"] == 1.8
    assert record["uncertainty"] == 0.1 and record["instability"] == 0.2 and record["tta_count"] == 3
    assert record["tta_probs"] == [0.9, 0.8, 0.3] and record["scores"] == {"decision uncertainty": 0.1,
                                                                           "instability (TTA)": 0.2}
    assert record["peak_region"] == "corners" and record["peak_region_scorecam"] != "corners"
    assert record["image_size"] == S and record["boxes"] == [[0.0, 0.0, 4.0, 4.0]]
    assert record["peak_in_box"] is True and record["box_findings"] == "Mass"
    assert record["method_peak_distance"] == pytest.approx(np.hypot(8, 8) / S)
    assert record["gradcam_source"] == "computed in chapter 07"
    assert record["scorecam_source"] == "chapter 05 (exact, stored)"
    assert record["tta_spread_max"] == pytest.approx(0.4) and record["tta_spread_mean"] == pytest.approx(
        np.nanmean(spread[1]))
    assert record["observations"] == case_observations({k: v for k, v in record.items() if k != "observations"},
                                                       0.4, 0.3, 0.5, 0.25)
    rules = [o["rule"] for o in record["observations"]]
    assert rules[:2] == ["confident error", "edge peak"] and "methods disagree" in rules
    json.dumps(json_safe(record), allow_nan=False)  # writable as the case's JSON


def test_case_records_in_case_order_with_boxes_and_findings():
    quadrants, cases = quadrant_rows(), cases_frame()
    info = case_rows(quadrants, cases)
    maps, tta, spread = maps_and_tta()
    all_boxes = pd.DataFrame({"image_id": ["a"], "finding": ["Mass"]})
    records = case_records(cases, info, maps, tta, spread, RULES, ["decision uncertainty"], all_boxes,
                           {"a": [(0.0, 0.0, 4.0, 4.0)]})
    assert [r["image_id"] for r in records] == ["b", "a"]
    assert records[0]["boxes"] == [] and records[0]["box_findings"] is None and records[0]["peak_in_box"] is None
    assert records[1]["box_findings"] == "Mass" and records[1]["peak_in_box"] is True
    assert records[0]["gradcam_source"] == "chapter 04 (stored)"
    assert records[0]["scorecam_source"] == "computed in chapter 07 (top-32 fast path)"
    assert records[0]["tta_probs"] == [0.2, 0.5, 0.6]
    counts = observation_counts(records)
    assert list(counts.columns) == ["cases"] and counts["cases"].is_monotonic_decreasing
    assert counts.loc["edge peak", "cases"] == 2
    assert rule_share(records, "edge peak") == (2, 2) and rule_share(records[:1], "confident error") == (0, 1)
    assert boxed_hits(records) == (1, 1)


def test_stored_maps_are_loaded_and_missing_ones_computed(tmp_path, monkeypatch):
    stored = np.random.default_rng(0).random((1, S, S)).astype(np.float32)
    save_heatmaps(heatmap_dir(tmp_path, "gradcam"), ["a"], stored)
    calls = []

    def explain(x):
        calls.append(x.shape[0])
        return np.full((x.shape[0], S, S), 0.5, np.float32)

    images = torch.zeros((3, 1, S, S), dtype=torch.uint8)

    class Norm:  # what gray_to_input reads of a WeightsInfo
        mean, std = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)

    folder = heatmap_dir(tmp_path, "gradcam")
    maps, is_stored = stored_or_computed(folder, "gradcam", ["b", "a", "c"], images, Norm(), explain, S)
    assert is_stored.tolist() == [False, True, False] and calls == [2]
    np.testing.assert_allclose(maps[1], stored[0], atol=1e-3)  # stored as float16
    assert (maps[[0, 2]] == 0.5).all()
    with pytest.raises(ValueError, match="rerun chapter gradcam"):
        stored_or_computed(folder, "gradcam", ["a"], images[:1], Norm(), explain, S * 2)
    # with every Grad-CAM stored, case_heatmaps needs no model for it; Score-CAM comes from the callable
    monkeypatch.setattr(cases_module, "explanation_dir", lambda run_id, method: heatmap_dir(tmp_path, method))
    got = case_heatmaps("r", ["a"], images[:1], None, Norm(), explain, S)
    assert got.gradcam_stored.tolist() == [True] and got.scorecam_stored.tolist() == [False]
    assert (got.scorecam == 0.5).all()
