"""Failure audit: case selection, observation rules and the failure-mode table, on tiny
hand-built frames (n_boot <= 200 to stay fast)."""
from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from tmvlib.tables.failure_audit import (REASONS, case_observations, failure_mode_table,
                                         select_failure_cases)

THRESHOLD = 0.5
N_BOOT = 200


def nih_test_frame() -> pd.DataFrame:
    """Eight NIH test images; danger = wrong and confident (given, as assign_quadrants sets it)."""
    rows = [  # image_id, label, prob, confident, instability
        ("fn_hi", 1, 0.02, True, 0.10),   # most confident false negative (danger)
        ("fn_mid", 1, 0.10, True, 0.20),  # second (danger)
        ("fn_lo", 1, 0.45, False, 0.90),  # third: not picked as confident FN, but least stable
        ("fp_hi", 0, 0.97, True, 0.05),   # most confident false positive (danger)
        ("fp_lo", 0, 0.60, False, 0.30),
        ("tp", 1, 0.90, True, 0.80),      # correct, second least stable
        ("tn", 0, 0.10, True, 0.70),      # correct, third least stable
        ("tn2", 0, 0.20, True, np.nan),   # NaN instability never picked
    ]
    frame = pd.DataFrame(rows, columns=["image_id", "label", "prob", "confident", "instability"])
    frame["correct"] = (frame["prob"] >= THRESHOLD).astype(int) == frame["label"]
    frame["danger"] = ~frame["correct"] & frame["confident"]
    return frame


def external_frame() -> pd.DataFrame:
    frame = pd.DataFrame({"image_id": ["e1", "e2", "e3", "e4", "e5"], "label": [1, 1, 0, 0, 1],
                          "prob": [0.01, 0.3, 0.99, 0.2, 0.9]})
    frame["correct"] = (frame["prob"] >= THRESHOLD).astype(int) == frame["label"]
    return frame


def test_selection_rules_and_order():
    cases = select_failure_cases(nih_test_frame(), external_frame(), THRESHOLD, "instability",
                                 n_confident=2, n_unstable=3, n_shifted=2)
    by_id = cases.set_index("image_id")
    # every danger-zone case, most confident first
    danger = cases[cases["reason"] == "danger zone"]["image_id"].tolist()
    assert danger == ["fn_hi", "fp_hi", "fn_mid"]  # margins 3.9, 3.5, 2.2
    # the confident FN/FP rules pick by margin, whether or not the case is already in
    assert by_id.loc["fn_hi", "reasons"] == ["danger zone", "confident false negative"]
    assert by_id.loc["fn_mid", "reasons"] == ["danger zone", "confident false negative"]
    assert by_id.loc["fp_lo", "reasons"] == ["confident false positive"]
    assert "fn_lo" in by_id.index and by_id.loc["fn_lo", "reasons"] == ["least stable explanation"]
    # least stable: highest instability, correct ones included, NaN never
    unstable = cases[cases["reasons"].map(lambda r: "least stable explanation" in r)]
    assert set(unstable["image_id"]) == {"fn_lo", "tp", "tn"}
    assert "tn2" not in by_id.index
    # shifted: the wrong external images with the largest margin (e1 and e3 tie: by id; not e2)
    shifted = cases[cases["set"] == "external"]["image_id"].tolist()
    assert shifted == ["e1", "e3"]
    # one row per image, ordered by first reason
    assert cases["image_id"].is_unique
    order = [REASONS.index(r) for r in cases["reason"]]
    assert order == sorted(order)


def test_selection_with_nothing_to_pick():
    test = nih_test_frame()
    test = test[test["correct"]].assign(danger=False)
    external = external_frame().iloc[0:0]
    cases = select_failure_cases(test, external, THRESHOLD, "instability", n_unstable=1)
    assert cases["image_id"].tolist() == ["tp"]  # only the least stable rule has anything
    assert list(cases.columns) == ["image_id", "set", "reasons", "reason", "margin"]
    empty = select_failure_cases(test, external, THRESHOLD, "instability", n_unstable=0)
    assert empty.empty and list(empty.columns) == ["image_id", "set", "reasons", "reason", "margin"]


def test_a_blank_map_is_never_the_least_stable_explanation():
    """With the constant-map flag, a blank map's filled instability picks nothing."""
    from tmvlib.contracts.scores import constant_map_column

    test = nih_test_frame()
    blank = test["instability"] == test["instability"].max()
    flagged = test.assign(**{constant_map_column("instability"): blank})
    plain = select_failure_cases(test, external_frame(), THRESHOLD, "instability", n_unstable=1)
    cases = select_failure_cases(flagged, external_frame(), THRESHOLD, "instability", n_unstable=1)
    pick = lambda c: c[c["reasons"].map(lambda r: "least stable explanation" in r)]["image_id"].tolist()
    assert pick(plain) == test.loc[blank, "image_id"].tolist()
    assert pick(cases) and not set(pick(cases)) & set(test.loc[blank, "image_id"])


def test_selection_needs_danger_column():
    with pytest.raises(KeyError, match="danger"):
        select_failure_cases(nih_test_frame().drop(columns="danger"), external_frame(), THRESHOLD,
                             "instability")


def rules(case, **kw):
    return [o["rule"] for o in case_observations(case, THRESHOLD, 0.2, 0.3, **kw)]


def test_observation_rules():
    case = {"label": 1, "prob": 0.05, "uncertainty": 0.05, "instability": 0.6, "flip_rate": 0.25,
            "tta_count": 8, "view": "AP", "set": "external", "quality": "squeezed",
            "peak_region": "corners", "peak_in_box": False, "box_findings": "Pneumonia",
            "method_peak_distance": 0.4}
    observations = case_observations(case, THRESHOLD, 0.2, 0.3)
    assert [o["rule"] for o in observations] == [
        "confident error", "edge peak", "outside box", "unstable explanation", "label flips",
        "AP view", "external population", "reprocessed file", "methods disagree"]
    text = {o["rule"]: o["text"] for o in observations}
    assert "false negative" in text["confident error"]
    assert "2 of 8" in text["label flips"]
    assert "in a corner" in text["edge peak"]
    assert "0.60" in text["unstable explanation"] and "0.30" in text["unstable explanation"]
    assert "Pneumonia" in text["outside box"]
    assert "children" in text["AP view"]
    assert "bedside" in case_observations(dict(case, set="test"), THRESHOLD, 0.2, 0.3)[5]["text"]
    named = case_observations(dict(case, uncertainty_score="1 - confidence",
                                   instability_score="instability (TTA)"), THRESHOLD, 0.2, 0.3)
    assert "1 - confidence 0.05" in named[0]["text"]
    assert "instability (TTA) 0.60" in named[3]["text"]


def test_observation_rules_quiet_case():
    # correct, stable, PA, NIH, full quality, heat on the lungs, no box, methods agree
    case = {"label": 0, "prob": 0.1, "uncertainty": 0.1, "instability": 0.1, "flip_rate": 0.0,
            "tta_count": 8, "view": "PA", "set": "test", "quality": "full",
            "peak_region": "lung_proxy", "peak_in_box": None, "method_peak_distance": 0.05}
    assert rules(case) == ["correct"]
    # a wrong but flagged prediction with a stable explanation
    flagged = dict(case, label=1, prob=0.4, uncertainty=0.4)
    assert rules(flagged) == ["flagged error", "stable but wrong"]
    # missing values switch rules off instead of raising
    assert rules({"label": 1, "prob": 0.9, "instability": np.nan, "peak_in_box": True,
                  "view": None}) == ["correct", "inside box"]
    assert rules({}) == []
    # flips without a count are given as a share; a border peak names the border
    observations = case_observations({"flip_rate": 0.5, "peak_region": "border"}, THRESHOLD, 0.2, 0.3)
    assert "50%" in observations[1]["text"] and "border band" in observations[0]["text"]


def mode_frame() -> pd.DataFrame:
    """40 patients: the mode "edge" carries every error; "ap" is unrelated to errors; "thin" has
    two images; "ext" is undefined (None) on half the rows."""
    n = 40
    frame = pd.DataFrame({"image_id": [f"i{k:02d}" for k in range(n)], "patient_id": np.arange(n)})
    edge = np.arange(n) < 10
    frame["correct"] = ~(edge & (np.arange(n) % 2 == 0))       # 5 errors, all with "edge"
    frame["edge"] = edge
    frame["ap"] = np.arange(n) % 2 == 1                          # every error is without "ap"
    frame["thin"] = np.arange(n) < 2
    frame["ext"] = pd.Series([None] * 20 + [True] * 10 + [False] * 10, dtype=object)
    frame["margin"] = np.arange(n, dtype=float)
    return frame


def test_failure_mode_table():
    frame = mode_frame()
    table = failure_mode_table(frame, {"heat on edge": "edge", "AP view": "ap", "thin": "thin",
                                       "external": "ext"},
                               n_boot=N_BOOT, seed=0, min_images=5, n_examples=2,
                               prefer=["i08"], rank_by="margin").set_index("mode")
    edge = table.loc["heat on edge"]
    assert edge["with_images"] == 10 and edge["with_errors"] == 5 and edge["without_errors"] == 0
    assert edge["with_rate"] == pytest.approx(0.5) and edge["without_rate"] == 0.0
    assert edge["difference"] == pytest.approx(0.5) and edge["diff_low"] > 0
    assert edge["status"] == "supported"
    assert edge["examples"] == ["i08", "i06"]     # preferred first, then by margin
    ap = table.loc["AP view"]
    assert ap["status"] == "not supported" and ap["difference"] < 0 and ap["examples"] == []
    assert "rarer" in ap["reason"]
    assert table.loc["thin", "status"] == "too thin"
    ext = table.loc["external"]
    assert ext["images"] == 20 and ext["with_errors"] == 0  # the None rows are left out
    assert np.isnan(ext["diff_low"]) or ext["status"] != "supported"
    for column in ("with_low", "with_high", "without_low", "without_high"):
        assert (table[column].dropna() >= 0).all() and (table[column].dropna() <= 1).all()
    # the modes that are not too thin form one Holm family; a thin mode is not in it
    assert np.isnan(table.loc["thin", "p_holm"])
    judged = table["p_holm"].notna()
    assert (table.loc[judged, "p_holm"] >= table.loc[judged, "p_value"]).all()
    assert edge["p_holm"] < 0.05 and "Holm-adjusted" in edge["reason"]



def test_failure_mode_table_all_in_one_group():
    frame = mode_frame().assign(everyone=True)
    row = failure_mode_table(frame, {"all": "everyone"}, n_boot=50).iloc[0]
    assert row["status"] == "too thin" and np.isnan(row["difference"])
    assert np.isnan(row["without_rate"]) and row["with_rate"] == pytest.approx(5 / 40)
    with pytest.raises(KeyError, match="nope"):
        failure_mode_table(frame, {"x": "nope"})
