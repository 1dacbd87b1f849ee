"""Readers of earlier chapters' outputs: clear errors naming the file and the chapter."""
from __future__ import annotations

import pytest

from tmvlib.artifacts import (baseline_checkpoint, baseline_predictions, decision_threshold,
                              uncertainty_table)
from tmvlib.config import run_dir


@pytest.fixture
def artifacts(tmp_path, monkeypatch):
    monkeypatch.setenv("TMV_ARTIFACTS", str(tmp_path))
    return tmp_path


def test_missing_outputs_name_the_chapter_to_run(artifacts):
    with pytest.raises(FileNotFoundError, match=r"baseline.pt is missing; run chapter 02_baseline"):
        baseline_checkpoint("r")
    with pytest.raises(FileNotFoundError, match=r"make chapter CH=02"):
        baseline_predictions("r")
    with pytest.raises(FileNotFoundError, match=r"uncertainty.parquet is missing; run chapter 03"):
        uncertainty_table("r")


def test_threshold_is_read_with_its_rule(artifacts):
    (run_dir("r") / "metrics" / "baseline_threshold.txt").write_text("youden 0.459019\n")
    assert decision_threshold("r") == ("youden", 0.459019)
