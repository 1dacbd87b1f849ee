import json

import pytest
from chapter_writer import write_phase

from tmvlib.artifacts import artifact_path, write_table
from tmvlib.runs import RunStateError, chapter_session, read_record, require_complete
from tmvlib.runs.records import output_files, record_path

RUN = "r"


def run(chapter: str, generation: int, run_id: str = RUN) -> None:
    with chapter_session(run_id, chapter, {"generation": generation}):
        write_phase(run_id, chapter, generation, 0.0)


def test_a_finished_chapter_records_its_params_inputs_and_every_output():
    run("01_data", 1)
    run("02_baseline", 1)
    record = read_record(RUN, "02_baseline")
    assert record["inputs"] == {"01_data": read_record(RUN, "01_data")["outputs_digest"]}
    assert set(record["outputs"]) == {f"runs/{RUN}/" + p for p in (
        "metrics/baseline_predictions.parquet", "metrics/baseline_metrics.csv", "metrics/baseline_threshold.txt",
        "checkpoints/baseline.pt", "metrics/shortcut_aurocs.parquet", "metrics/shortcut_control.parquet")}
    assert len(read_record(RUN, "01_data")["outputs"]) == 5  # the whole splits folder
    require_complete(RUN, ["02_baseline"], "03_uncertainty")


def test_a_chapter_that_never_ran_or_raised_is_refused_by_name():
    run("01_data", 1)
    with pytest.raises(RunStateError, match=r"04_gradcam reads 02_baseline of run 'r', but 02_baseline has no "
                                            r"completion record.*make chapter CH=02") as refused:
        require_complete(RUN, ["02_baseline"], "04_gradcam")
    assert refused.value.rerun == "02_baseline"
    with pytest.raises(ZeroDivisionError), chapter_session(RUN, "02_baseline", {}):
        write_phase(RUN, "02_baseline", 2, 0.0)
        1 / 0
    assert read_record(RUN, "02_baseline") is None


def test_a_changed_added_or_removed_file_is_noticed():
    run("01_data", 1)
    run("02_baseline", 1)
    write_table(RUN, "baseline_predictions", __import__("pandas").DataFrame({"x": [1]}))
    with pytest.raises(RunStateError, match="files changed after it finished.*baseline_predictions"):
        require_complete(RUN, ["02_baseline"], "03_uncertainty")
    run("02_baseline", 1)
    artifact_path(RUN, "shortcut_control").unlink()
    with pytest.raises(RunStateError, match="files changed"):
        require_complete(RUN, ["02_baseline"], "03_uncertainty")


def test_an_upstream_rerun_makes_later_chapters_stale_unless_its_outputs_are_identical():
    run("01_data", 1)
    run("02_baseline", 1)
    run("04_gradcam", 1)
    run("01_data", 1)  # identical outputs: nothing downstream is stale
    require_complete(RUN, ["04_gradcam"], "05_scorecam")
    run("01_data", 2)
    with pytest.raises(RunStateError, match="but 02_baseline is stale: chapter 01_data produced other outputs") as refused:
        require_complete(RUN, ["04_gradcam"], "05_scorecam")
    assert refused.value.rerun == "02_baseline"  # the earliest chapter to rerun
    with pytest.raises(RunStateError, match="02_baseline is stale"):  # and 02 itself cannot start stale work
        run("04_gradcam", 2)
    run("02_baseline", 2)
    run("04_gradcam", 2)
    require_complete(RUN, ["04_gradcam"], "05_scorecam")


def test_records_are_json_with_one_line_per_output_and_skip_temporaries():
    run("01_data", 1)
    leftover = artifact_path(RUN, "baseline_metrics").parent / ".baseline_metrics.csv.abc.tmv-tmp.csv"
    leftover.write_text("half")
    run("02_baseline", 1)
    assert not leftover.exists()  # a chapter starts by clearing interrupted writes
    assert all(".tmv-tmp" not in p.name for p in output_files(RUN, "02_baseline"))
    assert json.loads(record_path(RUN, "02_baseline").read_text())["status"] == "complete"


def test_tmv_chapter_refuses_an_incomplete_upstream_with_its_exit_status(monkeypatch, capsys):
    import sys

    from tmvlib.cli import EXIT_NOT_READY, main

    monkeypatch.setitem(sys.modules, "papermill", None)  # nothing may start running
    with pytest.raises(SystemExit) as stopped:
        main(["chapter", "03", "--profile", "ci"])
    assert stopped.value.code == EXIT_NOT_READY
    assert "rerun chapter 01_data (make chapter CH=01)" in capsys.readouterr().err
