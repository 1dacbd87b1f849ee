"""Sentences of chapter 07 about its failures: gallery texts, shares of audited cases, what the
subgroup table supports and the failure-mode bullets, on hand-built tables."""
from __future__ import annotations

import numpy as np
import pandas as pd

from tmvlib.report.failure_verdicts import (boxed_text, gallery_text, mode_line, reason_heading, records_for,
                                            rule_share_text, subgroup_lines, supported_modes_text,
                                            unsupported_modes_text)
from tmvlib.report.trust_tables import failure_mode_display

RECORDS = [{"reasons": ["danger zone"], "peak_in_box": True, "observations": [{"rule": "edge peak"}]},
           {"reasons": ["danger zone", "AP view"], "peak_in_box": None, "observations": []},
           {"reasons": ["shifted-set failure"], "peak_in_box": False,
            "observations": [{"rule": "edge peak"}, {"rule": "methods disagree"}]}]


def test_gallery_texts():
    assert gallery_text(0, 24) == "none, as there is no danger-zone case in this run"
    assert gallery_text(3, 24) == "all 3, most confident first"
    assert gallery_text(30, 24) == "the 24 most confident of 30, most confident first"
    assert reason_heading("confident false negative", 2) == "**Confident false negatives** (2)"
    assert reason_heading("confident false positive", 0) == "**Confident false positives** (0): none in this run."


def test_shares_of_audited_cases():
    danger = records_for(RECORDS, "danger zone")
    assert len(danger) == 2 and danger[0] is RECORDS[0]
    assert rule_share_text(danger, "edge peak") == "1 of 2" and rule_share_text(RECORDS, "methods disagree") == "1 of 3"
    assert rule_share_text([], "edge peak") == "0 of 0"
    assert boxed_text(RECORDS) == "1 of 2"


def subgroup(grouping, group, low, high, thin=False, reason=""):
    return {"grouping": grouping, "group": group, "auroc_low": low, "auroc_high": high, "too_thin": thin,
            "reason": reason}


def test_subgroup_lines_read_the_interval_of_the_difference():
    table = pd.DataFrame([subgroup("sex", "F", 0.6, 0.7), subgroup("sex", "M", 0.75, 0.9),
                          subgroup("view", "AP", 0.6, 0.8), subgroup("view", "PA", 0.7, 0.9),
                          subgroup("view", "missing", np.nan, np.nan, True, "2 positives < 10"),
                          subgroup("age band", "60+", 0.5, 0.9), subgroup("age band", "0-39", np.nan, np.nan, True, "x"),
                          subgroup("other", "a", np.nan, np.nan, True, "y")])
    differences = pd.DataFrame({"grouping": ["sex", "view"], "a": ["F", "AP"], "b": ["M", "PA"],
                                "value": [-0.17, -0.1], "low": [-0.3, -0.25], "high": [-0.05, 0.05],
                                "mdd": [0.12, 0.2], "p_holm": [0.01, 0.4]})
    assert subgroup_lines(table, differences).split("\n") == [
        "- **sex**: F has a lower AUROC than M (worse): F - M = -0.170 [-0.300, -0.050]; Holm-adjusted p = 0.010.",
        "- **view**: no measurable difference in AUROC between AP and PA (-0.100 [-0.250, +0.050]; this sample "
        "detects differences of about 0.200 or more; Holm-adjusted p = 0.400); too thin to conclude: "
        "missing (2 positives < 10).",
        "- **age band**: only 60+ has enough images to report, so nothing can be compared; too thin to conclude: "
        "0-39 (x).",
        "- **other**: no group has enough images to report; too thin to conclude: a (y)."]


def modes():
    table = pd.DataFrame({"mode": ["AP view", "low confidence"], "scope": ["NIH test"] * 2,
                          "with_rate": [0.3, 0.1], "with_low": [0.2, 0.05], "with_high": [0.4, 0.2],
                          "with_errors": [6, 2], "with_images": [20, 20], "without_rate": [0.1, 0.2],
                          "without_low": [0.05, 0.1], "without_high": [0.15, 0.3], "without_errors": [4, 8],
                          "without_images": [40, 40], "difference": [0.2, -0.1], "diff_low": [0.05, -0.2],
                          "diff_high": [0.35, 0.0], "status": ["supported", "not supported"],
                          "reason": ["errors are more frequent with it (the interval excludes 0)",
                                     "the interval of the difference includes 0"],
                          "examples": [["a", "b"], []]})
    return failure_mode_display(table)


def test_failure_mode_bullets():
    table = modes()
    assert mode_line(table.iloc[0]) == (
        "- **AP view** (NIH test): error rate 0.30 [0.20, 0.40] (6/20) with it vs 0.10 [0.05, 0.15] (4/40) without; "
        "difference +0.20 [+0.05, +0.35]. Examples: `a`, `b`.")
    assert "Examples: no wrong image shows it." in mode_line(table.iloc[1])
    assert supported_modes_text(table) == mode_line(table.iloc[0])
    assert unsupported_modes_text(table) == ("- **low confidence**: not supported, the interval of the difference "
                                             "includes 0 (difference -0.10 [-0.20, +0.00])")
    none = table.assign(status="supported")
    assert unsupported_modes_text(none) == "- None: every candidate is supported."
    assert supported_modes_text(table.assign(status="too thin")) == (
        "- None: no candidate mode raises the error rate measurably in this run.")
