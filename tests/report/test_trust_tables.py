"""How chapter 07's trust tables are shown: the styled quadrant table and the interval text
columns (also written to the parquet files), on hand-built tables."""
from __future__ import annotations

import numpy as np
import pandas as pd

from tmvlib.report.trust_tables import (FAILURE_MODE_COLUMNS, SUBGROUP_COLUMNS, bounds_column,
                                        failure_mode_display, mode_rate_text, quadrant_styler,
                                        subgroup_display)
from tmvlib.report.wording import bounds_text
from tmvlib.tables.quadrants import assign_quadrants, quadrant_tables


def test_bounds_text_and_column():
    assert bounds_text(0.01234, 0.1) == "[0.012, 0.100]" and bounds_text(0.1, 0.2, digits=1) == "[0.1, 0.2]"
    assert bounds_text(np.nan, 0.2) == "-" and bounds_text(None, None, missing="n/a") == "n/a"
    rates = pd.DataFrame({"low": [0.1, np.nan], "high": [0.25, np.nan]}, index=[3, 4])
    column = bounds_column(rates)
    assert column.tolist() == ["[0.100, 0.250]", "-"] and column.index.tolist() == [3, 4]


def test_quadrant_styler_highlights_the_danger_zone():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"correct": rng.random(30) > 0.3, "u": rng.random(30), "i": rng.random(30)})
    quadrants = {name: assign_quadrants(frame, "u", "i", 0.5, 0.5) for name in ("test", "external")}
    html = quadrant_styler(quadrant_tables(quadrants)).to_html()
    assert "test: images" in html and "external: share of stability" in html
    assert html.count("background-color: #f8d0cc") > 0 and "Images per trust cell" in html


def test_subgroup_display():
    subgroups = pd.DataFrame({"grouping": ["sex", "sex"], "group": ["F", "M"], "images": [10, 50],
                              "patients": [8, 40], "positives": [2, 20], "negatives": [8, 30],
                              "auroc": [np.nan, 0.8123], "auroc_low": [np.nan, 0.7], "auroc_high": [np.nan, 0.9],
                              "ece": [np.nan, 0.05], "ece_low": [np.nan, 0.03], "ece_high": [np.nan, 0.08],
                              "brier": [np.nan, 0.12345], "error_rate": [0.3, 0.2], "error_low": [0.1, 0.15],
                              "error_high": [0.5, 0.25], "too_thin": [True, False], "reason": ["2 positives < 10", ""]})
    shown = subgroup_display(subgroups)
    assert list(shown.columns) == SUBGROUP_COLUMNS
    assert shown["AUROC"].tolist() == ["-", "0.81 [0.70, 0.90]"] and shown["smooth ECE"].tolist()[0] == "-"
    assert shown["error"].tolist() == ["0.30 [0.10, 0.50]", "0.20 [0.15, 0.25]"] and shown.loc[1, "brier"] == 0.123


def test_failure_mode_text_columns():
    modes = pd.DataFrame({"mode": ["AP view", "edge"], "column": ["ap", "edge"], "with_rate": [0.3, np.nan],
                          "with_low": [0.2, np.nan], "with_high": [0.41, np.nan], "with_errors": [6, 0],
                          "with_images": [20, 0], "without_rate": [0.1, 0.15], "without_low": [0.05, 0.1],
                          "without_high": [0.15, 0.2], "without_errors": [4, 9], "without_images": [40, 60],
                          "difference": [0.2, np.nan], "diff_low": [0.05, np.nan], "diff_high": [0.35, np.nan],
                          "status": ["supported", "too thin"], "examples": [["a"], []], "scope": ["NIH test"] * 2})
    assert mode_rate_text(modes.iloc[0], "with") == "0.30 [0.20, 0.41] (6/20)"
    assert mode_rate_text(modes.iloc[1], "with") == "-"
    shown = failure_mode_display(modes)
    assert list(shown.columns) == [*modes.columns, "with it", "without it", "difference (95% CI)"]
    assert shown["without it"].tolist() == ["0.10 [0.05, 0.15] (4/40)", "0.15 [0.10, 0.20] (9/60)"]
    assert shown["difference (95% CI)"].tolist() == ["+0.20 [+0.05, +0.35]", "-"]
    assert "with it" not in modes and set(FAILURE_MODE_COLUMNS) <= set(shown.columns)


def test_endpoint_display_writes_p_values_as_text():
    from tmvlib.report.trust_tables import endpoint_display

    endpoints = pd.DataFrame({"comparison": ["primary", "S1"], "quantity": ["AURC", "AURC"], "set": ["test", "external"],
                              "a": ["combined"] * 2, "b": ["decision uncertainty"] * 2, "value": [0.023, -0.015],
                              "low": [0.01, -0.05], "high": [0.04, 0.014], "p_value": [6e-5, 0.296],
                              "p_holm": [float("nan"), 0.476], "mdd": [0.022, 0.044]})
    shown = endpoint_display(endpoints)
    assert shown.index.tolist() == ["primary", "S1"]
    assert shown.loc["primary", "p"] == "< 0.001" and shown.loc["primary", "Holm p"] == "-"
    assert shown.loc["S1", "a - b (95% CI)"] == "-0.015 [-0.050, +0.014]" and shown.loc["S1", "Holm p"] == "0.476"
