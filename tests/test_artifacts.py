"""Readers of earlier chapters' outputs: clear errors naming the file and the chapter."""
from __future__ import annotations

import pytest

from tmvlib.artifacts import baseline_checkpoint, baseline_predictions, decision_threshold, read_table
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
        read_table("r", "uncertainty")


def test_threshold_is_read_with_its_rule(artifacts):
    (run_dir("r") / "metrics" / "baseline_threshold.txt").write_text("youden 0.459019\n")
    assert decision_threshold("r") == ("youden", 0.459019)


def test_threshold_is_written_at_full_precision(artifacts):
    """Youden's threshold is one validation image's probability: read back, that image must stay
    on the positive side (a 6-decimal copy put 0.4590195 below 0.459020)."""
    import numpy as np

    from tmvlib.artifacts import write_decision_threshold
    from tmvlib.metrics.discrimination import choose_threshold

    probs = np.array([0.1, 0.4590195, 0.8], dtype=np.float32)
    threshold = choose_threshold(np.array([0, 1, 1]), probs, "youden")
    write_decision_threshold("r", "youden", threshold)
    rule, value = decision_threshold("r")
    assert (rule, value) == ("youden", threshold)
    assert probs[1] >= value and probs[1] < float(f"{value:.6f}")


def test_registry_names_every_file_and_its_chapter(artifacts):
    from tmvlib.artifacts import ARTIFACTS, artifact_path
    from tmvlib.config import CHAPTER_ORDER

    assert all(a.chapter in CHAPTER_ORDER for a in ARTIFACTS.values())
    assert len({a.path for a in ARTIFACTS.values()}) == len(ARTIFACTS)
    assert artifact_path("r", "trust_scores") == run_dir("r") / "metrics" / "trust_scores.parquet"
    with pytest.raises(KeyError, match="unknown artifact 'trust_score'"):
        artifact_path("r", "trust_score")


def test_tables_are_written_atomically_and_read_back(artifacts, monkeypatch):
    import pandas as pd

    from tmvlib.artifacts import artifact_path, read_table, write_table, write_text

    frame = pd.DataFrame({"image_id": ["a", "b"], "prob": [0.1, 0.9]})
    write_table("r", "trust_scores", frame)
    pd.testing.assert_frame_equal(read_table("r", "trust_scores"), frame)
    write_table("r", "baseline_metrics", frame.set_index("image_id"))  # CSV keeps its index
    assert read_table("r", "baseline_metrics").columns.tolist() == ["image_id", "prob"]
    write_text("r", "baseline_threshold", "youden 0.5\n")
    assert decision_threshold("r") == ("youden", 0.5)

    def broken(self, path, **kwargs):  # a writer that dies half-way leaves the old file
        path.write_text("half")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", broken)
    with pytest.raises(OSError, match="disk full"):
        write_table("r", "trust_scores", frame)
    pd.testing.assert_frame_equal(read_table("r", "trust_scores"), frame)
    assert [p.name for p in artifact_path("r", "trust_scores").parent.iterdir()
            if p.name.startswith(".")] == []


def test_fold_ensemble_checkpoints_count_chapter_03s_fold_members(artifacts):
    """As many members as chapter 03's fold_ensemble_members; a chapter 03 recorded before that
    parameter existed trained ensemble_members per fold."""
    from tmvlib.artifacts import artifact_path, fold_ensemble_checkpoints
    from tmvlib.config import record_run

    folder = artifact_path("r", "checkpoints")
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("fold_1.pt", "fold1_ensemble_1.pt", "fold1_ensemble_2.pt"):
        (folder / name).write_bytes(b"")
    record_run("r", "03_uncertainty", {"run_id": "r", "ensemble_members": 3})
    assert [p.name for p in fold_ensemble_checkpoints("r", 1)] == ["fold_1.pt", "fold1_ensemble_1.pt",
                                                                   "fold1_ensemble_2.pt"]
    record_run("r", "03_uncertainty", {"run_id": "r", "ensemble_members": 3, "fold_ensemble_members": 2})
    assert [p.name for p in fold_ensemble_checkpoints("r", 1)] == ["fold_1.pt", "fold1_ensemble_1.pt"]
