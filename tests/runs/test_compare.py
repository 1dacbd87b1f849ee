"""tmvlib.runs: a run as values (glue, tables, JSON, text), compared under tolerances, and
written as the references of the numeric regression; ``tmv compare``."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tmvlib.config import run_dir, splits_dir
from tmvlib.report.wording import difference_verdict
from tmvlib.runs.compare import compare_runs, compare_value, spreads, split_text, verdicts
from tmvlib.runs.glue import glued_values, notebook_glue, read_glue, write_glue
from tmvlib.runs.references import check_references, read_references, reference_values, write_references
from tmvlib.runs.tolerance import AUROC, EXACT, ci_tolerance, quantity_name, uniform, volatile
from tmvlib.runs.values import row_names, run_values


def _glue_output(name: str, plain: str, markdown: str | None = None) -> dict:
    data = {"application/papermill.record/text/plain": plain}
    if markdown is not None:
        data["application/papermill.record/text/markdown"] = markdown
    return {"output_type": "display_data", "data": data,
            "metadata": {"scrapbook": {"name": name, "mime_prefix": "application/papermill.record/"}}}


def test_glued_values_are_the_text_a_reader_sees(tmp_path):
    outputs = [_glue_output("auroc", "'0.861 [0.784, 0.928]'"), _glue_output("n", "40"),
               {"output_type": "stream", "text": "ignored"}, _glue_output("table", "<Markdown>", "| a |\n|---|"),
               _glue_output("n", "41")]
    assert glued_values(outputs) == {"auroc": "0.861 [0.784, 0.928]", "n": "41", "table": "| a |\n|---|"}
    notebook = tmp_path / "nb.ipynb"
    notebook.write_text(json.dumps({"cells": [{"cell_type": "code", "outputs": outputs[:2]}]}))
    assert notebook_glue(notebook) == {"auroc": "0.861 [0.784, 0.928]", "n": "40"}


def _run(run_id: str = "a", auroc: float = 0.861, verdict_low: float = -0.01, drop: bool = False) -> None:
    """A small run: chapter 02's glue and metrics table, chapter 01's splits, a heatmap."""
    write_glue(run_id, "02_baseline", {
        "auroc_test": f"{auroc:.3f} [0.784, 0.928]", "train_seconds": "12",
        "view_difference": difference_verdict(0.05, verdict_low, 0.1, "PA films", "AP films", "AUROC", mdd=0.2)})
    metrics = pd.DataFrame({"set": ["test", "test", "val"], "metric": ["AUROC", "sensitivity", "AUROC"],
                            "value": [auroc, 0.6, 0.7], "low": [0.78, 0.4, 0.5], "high": [0.93, 0.8, 0.9]})
    (metrics.iloc[1:] if drop else metrics).to_csv(run_dir(run_id) / "metrics" / "baseline_metrics.csv", index=False)
    (run_dir(run_id) / "metrics" / "baseline_threshold.txt").write_text("youden 0.615\n")
    pd.DataFrame({"image_id": ["i1", "i2"], "patient_id": ["p1", "p2"], "split": ["train", "test"],
                  "path": [f"/{run_id}/i1.png", f"/{run_id}/i2.png"], "age": [40.0, 50.0]}).to_parquet(
        splits_dir(run_id) / "splits.parquet")
    folder = run_dir(run_id) / "explanations" / "gradcam"
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "i2.npy", np.full((4, 4), 0.5, dtype=np.float16))


def test_a_run_is_named_values_keyed_by_chapter_file_row_and_column():
    _run()
    values = run_values(run_dir("a"), splits_dir("a"))
    assert values["02_baseline | glue | auroc_test"] == "0.861 [0.784, 0.928]"
    assert values["02_baseline | metrics/baseline_metrics.csv | [set=test, metric=AUROC] | value"] == 0.861
    assert values["02_baseline | metrics/baseline_metrics.csv | rows"] == 3
    assert values["02_baseline | metrics/baseline_threshold.txt"] == "youden 0.615\n"
    assert values["01_data | splits/splits.parquet | [image_id=i2] | split"] == "test"
    assert read_glue(run_dir("a")) == {"02_baseline": {k.split(" | ")[-1]: v for k, v in values.items()
                                                       if " | glue | " in k}}


def test_repeated_identities_are_numbered_and_missing_identity_columns_refused():
    frame = pd.DataFrame({"set": ["a", "a", "b"], "x": [1, 2, 3]})
    assert row_names(frame, ("set",)) == ["[set=a]", "[set=a] #2", "[set=b]"]
    assert row_names(frame) == ["[row 0]", "[row 1]", "[row 2]"]
    with pytest.raises(ValueError, match=r"identity columns \['metric'\]"):
        row_names(frame, ("set", "metric"))


def test_identical_runs_compare_equal_except_what_is_volatile():
    _run("a")
    _run("b")
    result = compare_runs(run_dir("a"), run_dir("b"), splits_dir("a"), splits_dir("b"))
    assert result.identical, result.differences  # the paths differ, but paths are volatile
    assert result.values > 10 and result.arrays == 1
    assert "0 difference(s)" in result.summary()


def test_differences_name_the_value_and_both_sides():
    _run("a")
    _run("b", auroc=0.881, drop=True)
    found = {str(d) for d in compare_runs(run_dir("a"), run_dir("b")).differences}
    assert "02_baseline :: glue :: auroc_test: '0.861 [0.784, 0.928]' -> '0.881 [0.784, 0.928]' " \
           "(a number moved beyond exact)" in found
    assert any(d.startswith("02_baseline :: metrics/baseline_metrics.csv :: [set=test, metric=AUROC] :: value: "
                            "0.861 -> <missing>") or "only in A: 0.861" in d for d in found), found
    assert "02_baseline :: metrics/baseline_metrics.csv :: rows: 3 -> 2 (a count or id: exact)" in found


def test_heatmaps_are_compared_elementwise():
    _run("a")
    _run("b")
    np.save(run_dir("b") / "explanations" / "gradcam" / "i2.npy", np.full((4, 4), 0.502, dtype=np.float16))
    exact = compare_runs(run_dir("a"), run_dir("b"))
    assert [d.key for d in exact.differences] == ["04_gradcam | explanations/gradcam/i2.npy"]
    assert "16 of 16 elements differ" in exact.differences[0].why
    assert compare_runs(run_dir("a"), run_dir("b"), tolerance_of=uniform(atol=0.01)).identical


def test_texts_compare_their_words_exactly_and_their_numbers_within_the_tolerance():
    assert split_text("0.525 [0.385, 0.663] in 40 images") == ("# [#, #] in # images", ["0.525", "0.385", "0.663", "40"])
    assert compare_value("k", "0.525 [0.385, 0.663]", "0.529 [0.385, 0.663]", AUROC) is None
    assert compare_value("k", "0.525 [0.385, 0.663]", "0.545 [0.385, 0.663]", AUROC) is not None
    assert compare_value("k", "17 errors", "18 errors", AUROC) is not None  # integers are exact
    assert compare_value("k", "0.525", "0.526", EXACT) is not None
    assert compare_value("k", 0.5, 0.507, AUROC) is None and compare_value("k", 0.5, 0.509, AUROC) is not None
    assert compare_value("k", 3, 4, AUROC).why == "a count or id: exact"
    assert compare_value("k", None, 0.1, AUROC) is not None and compare_value("k", None, None, AUROC) is None


def test_verdicts_are_read_with_their_interval_and_holm_p():
    text = ("0.55 against No Finding; " + difference_verdict(0.09, -0.12, 0.28, "A", "B", "AUROC", mdd=0.29,
                                                            p_adjusted=1.0)
            + "; " + difference_verdict(0.07, 0.05, 0.09, "C", "D", "ECE", p_adjusted=0.0004))
    found = verdicts(text)
    assert [(v.form, v.low, v.high, v.p) for v in found] == [
        ("no measurable difference", -0.12, 0.28, 1.0), ("a higher or lower", 0.05, 0.09, 0.0)]
    assert all(v.consistent() for v in found)
    holm = difference_verdict(0.03, 0.01, 0.05, "A", "B", "AURC", p_adjusted=0.2)
    assert verdicts(holm)[0].form == "no difference that survives the Holm correction" and verdicts(holm)[0].consistent()
    assert not verdicts(holm.replace("p = 0.200", "p = 0.010"))[0].consistent()
    # a Holm p-value printed with how it is known (its Monte Carlo error, or the normal approximation)
    known = [difference_verdict(0.03, 0.01, 0.05, "A", "B", "AURC", p_adjusted=0.2, p_method="bootstrap",
                                p_mc_error=0.013),
             difference_verdict(0.09, -0.12, 0.28, "A", "B", "AUROC", mdd=0.29, p_adjusted=1.0, p_method="bootstrap",
                                p_mc_error=0.0001),
             difference_verdict(0.07, 0.05, 0.09, "C", "D", "NLL", p_adjusted=0.0004,
                                p_method="normal approximation")]
    assert [len(verdicts(t)) for t in known] == [1, 1, 1] and all(verdicts(t)[0].consistent() for t in known)


def test_a_verdict_may_change_its_words_only_across_its_boundary():
    _run("a", verdict_low=-0.001)
    _run("b", verdict_low=0.001)  # the same evidence, its bound now just above 0: "has a higher"
    assert compare_runs(run_dir("a"), run_dir("b"), tolerance_of=ci_tolerance).identical
    _run("b", verdict_low=0.02)  # moved beyond the tolerance
    assert not compare_runs(run_dir("a"), run_dir("b"), tolerance_of=ci_tolerance).identical


def test_the_kind_of_a_value_comes_from_its_name_and_its_row():
    assert volatile("02_baseline | glue | train_seconds") and volatile("01_data | splits/x.parquet | [i=1] | path")
    assert not volatile("02_baseline | glue | auroc_test")
    assert quantity_name("03_uncertainty | metrics/u.csv | [set=test, method=m, metric=NLL] | low") == "low metric=NLL"
    assert ci_tolerance("03_uncertainty | metrics/u.csv | [set=test, method=m, metric=NLL] | low").kind.startswith(
        "calibration")
    assert ci_tolerance("02_baseline | glue | auroc_test").kind.startswith("auroc")
    assert ci_tolerance("06_stability | metrics/t.parquet | [image_id=x] | 1 - max(p, 1-p)").kind.startswith("per-image")
    assert ci_tolerance("07_trust_failures | metrics/f.parquet | [mode=m] | p_holm").kind == "p-value"


def test_references_round_trip_and_keep_lines_within_tolerance(tmp_path):
    _run("a")
    folder = tmp_path / "refs"
    counts = write_references(reference_values(run_dir("a"), splits_dir("a")), folder, ci_tolerance)
    assert counts["added"] > 5 and counts["moved"] == 0
    values = read_references(folder)
    assert values == reference_values(run_dir("a"), splits_dir("a"))
    assert not any("path" in k or "train_seconds" in k for k in values)  # volatile values are left out
    assert (folder / "02_baseline" / "glue.txt").read_text().splitlines()[0] == 'auroc_test = "0.861 [0.784, 0.928]"'
    assert check_references(run_dir("a"), splits_dir("a"), folder, ci_tolerance) == []

    _run("a", auroc=0.864)  # within the AUROC tolerance: the old line stays
    before = (folder / "02_baseline" / "glue.txt").read_text()
    assert write_references(reference_values(run_dir("a"), splits_dir("a")), folder, ci_tolerance)["moved"] == 0
    assert (folder / "02_baseline" / "glue.txt").read_text() == before
    _run("a", auroc=0.901)
    counts = write_references(reference_values(run_dir("a"), splits_dir("a")), folder, ci_tolerance)
    assert counts["moved"] == 2  # the glue and the table cell, nothing else
    assert '"0.901 [0.784, 0.928]"' in (folder / "02_baseline" / "glue.txt").read_text()


def test_a_reference_line_must_be_key_equals_json(tmp_path):
    (tmp_path / "02_baseline").mkdir()
    (tmp_path / "02_baseline" / "glue.txt").write_text('note = "a = b"\nbroken line\n')
    with pytest.raises(ValueError, match=r"glue.txt:2: not a reference line"):
        read_references(tmp_path)
    (tmp_path / "02_baseline" / "glue.txt").write_text('note = "a = b"\n')
    assert read_references(tmp_path) == {"02_baseline | glue | note": "a = b"}


def test_spreads_report_the_largest_move_of_each_kind():
    old = {"02_baseline | glue | auroc_test": "0.525 [0.385, 0.663]", "x | glue | ece_test": 0.10,
           "x | glue | train_seconds": 3.0}
    new = {"02_baseline | glue | auroc_test": "0.527 [0.385, 0.661]", "x | glue | ece_test": 0.1001,
           "x | glue | train_seconds": 9.0}
    found = {s.kind.split(" ")[0]: s for s in spreads(old, new, ci_tolerance)}
    assert set(found) == {"auroc-like", "calibration"}
    assert found["auroc-like"].largest == pytest.approx(0.002) and found["auroc-like"].compared == 3


def test_tmv_compare_exits_0_when_identical_and_1_with_the_differences(capsys):
    from tmvlib.cli import main

    _run("a")
    _run("b")
    with pytest.raises(SystemExit) as done:
        main(["compare", "a", "b"])
    assert done.value.code == 0
    assert "0 difference(s)" in capsys.readouterr().out
    _run("b", auroc=0.871)
    with pytest.raises(SystemExit) as done:
        main(["compare", str(run_dir("a")), str(run_dir("b")), "--spread"])
    out = capsys.readouterr().out
    assert done.value.code == 1
    assert "02_baseline :: glue :: auroc_test: '0.861 [0.784, 0.928]' -> '0.871 [0.784, 0.928]'" in out
    assert "spread auroc-like" in out
    with pytest.raises(SystemExit) as done:
        main(["compare", "a", "b", "--ci-tolerances"])
    assert done.value.code == 1  # 0.01 is beyond the AUROC tolerance (0.008)
    with pytest.raises(SystemExit) as done:
        main(["compare", "a", "nowhere"])
    assert done.value.code == 64 and "no run folder 'nowhere'" in capsys.readouterr().err
