"""Error detection and selective prediction tables (tmvlib.tables.error_detection)."""
from __future__ import annotations

import numpy as np
import pytest

from tmvlib.metrics.selective import aurc
from tmvlib.tables.error_detection import error_detection_table, risk_coverage_rows, selective_comparison

from tmv_testing import error_score_frame

N_BOOT = 200


def test_error_detection_auroc_perfect_and_chance():
    frame = error_score_frame()
    table = error_detection_table(frame, {"perfect": "perfect", "noise": "noise",
                                          "array": frame["informative"].to_numpy()},
                                  n_boot=N_BOOT).set_index("score")
    assert table.loc["perfect", "value"] == 1.0
    assert table.loc["perfect", "low"] == pytest.approx(1.0)
    assert abs(table.loc["noise", "value"] - 0.5) < 0.08
    assert table.loc["noise", "low"] < 0.5 < table.loc["noise", "high"]
    assert 0.6 < table.loc["array", "value"] < 0.9
    assert table["patients"].iloc[0] == 200 and table["errors"].iloc[0] == (~frame["correct"]).sum()


def test_error_detection_needs_both_outcomes():
    frame = error_score_frame().assign(correct=True)
    with pytest.raises(ValueError, match="0 error"):
        error_detection_table(frame, {"noise": "noise"}, n_boot=10)


def test_selective_comparison_and_curves():
    frame = error_score_frame()
    table = selective_comparison(frame, {"perfect": "perfect", "noise": "noise"},
                                 n_boot=N_BOOT).set_index("score")
    error_rate = (~frame["correct"]).mean()
    assert table.loc["perfect", "value"] == pytest.approx(table.loc["perfect", "aurc_oracle"])
    assert table.loc["perfect", "value"] < table.loc["noise", "value"]
    assert table.loc["noise", "aurc_random"] == pytest.approx(error_rate)
    assert table.loc["noise", "low"] < error_rate < table.loc["noise", "high"]
    # the same number as tmvlib.metrics.selective.aurc with labels and probabilities
    labels = np.random.default_rng(0).integers(0, 2, len(frame))
    probs = np.where(frame["correct"], labels, 1 - labels).astype(float)
    assert table.loc["noise", "value"] == pytest.approx(aurc(labels, probs, frame["noise"]))
    curves = risk_coverage_rows(frame, {"perfect": "perfect", "noise": "noise"})
    assert len(curves) == 2 * len(frame) and list(curves.columns) == ["score", "coverage",
                                                                      "risk", "n_kept"]
    perfect = curves[curves["score"] == "perfect"]
    assert perfect["risk"].iloc[-1] == pytest.approx(error_rate)
    assert (perfect["risk"][perfect["coverage"] <= 1 - error_rate] == 0).all()
