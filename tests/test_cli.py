import json
import os
import shutil
import sys
import types
from pathlib import Path

import pytest
import yaml

from tmvlib.cli import chapter_name, main, parse_overrides, remote_scripts, run_chapter

ROOT = Path(__file__).resolve().parents[1]


def test_overrides_are_parsed_as_yaml():
    assert parse_overrides(["seed=1", "views=[PA, AP]", "negatives=all", "data_root=null"]) == {
        "seed": 1, "views": ["PA", "AP"], "negatives": "all", "data_root": None}
    with pytest.raises(SystemExit, match="not key=value"):
        parse_overrides(["seed"])


def test_chapter_name_resolves_a_prefix(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_data.ipynb").write_text("{}")
    assert chapter_name("01", tmp_path) == "01_data"
    with pytest.raises(SystemExit, match="found \\[\\]"):
        chapter_name("09", tmp_path)


def test_remote_scripts_are_found(tmp_path):
    (tmp_path / "a.html").write_text('<script src="_static/tmv-vega.js"></script>'
                                     '<script>const URL = "https://unpkg.com/x.js";</script>')
    assert remote_scripts(tmp_path) == []
    (tmp_path / "b.html").write_text('<script defer src="https://cdn.jsdelivr.net/npm/vega@5"></script>')
    assert remote_scripts(tmp_path) == ["b.html: https://cdn.jsdelivr.net/npm/vega@5"]


def test_a_mistyped_param_stops_before_papermill(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "papermill", None)  # importing it would raise ImportError
    monkeypatch.delenv("TMV_ROOT", raising=False)
    with pytest.raises(SystemExit, match="override -p: unknown parameter 'tta_cont' for 06_stability; "
                                         "did you mean 'tta_count' or 'tta_contrast'"):
        run_chapter("06", "ci", {"tta_cont": 0.1}, root=ROOT)
    monkeypatch.chdir(ROOT)
    with pytest.raises(SystemExit) as stopped:
        main(["chapter", "06", "--profile", "ci", "-p", "tta_contrast=abc"])
    assert stopped.value.code == 64  # EX_USAGE, the README's exit status for a bad parameter
    assert "expects float, got 'abc'" in capsys.readouterr().err


def test_run_chapter_injects_and_records_the_full_params(tmp_path, monkeypatch):
    from tmvlib.config import record_data
    from tmvlib.contracts import CONTRACTS

    (tmp_path / "_toc.yml").write_text("root: intro\n")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_data.ipynb").write_text("{}")
    for profile in ("default", "ci"):
        (tmp_path / "params" / profile).mkdir(parents=True)
    shutil.copy(ROOT / "params" / "default" / "01_data.yaml", tmp_path / "params" / "default")
    (tmp_path / "params" / "ci" / "01_data.yaml").write_text("run_id: ci\nn_examples: 2\n")
    monkeypatch.delenv("TMV_ROOT", raising=False)
    monkeypatch.setenv("TMV_ARTIFACTS", str(tmp_path / "artifacts"))
    injected = {}

    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)  # restored after the test

    def execute_notebook(source, output, parameters, **kwargs):  # the notebook records its data
        injected.update(parameters, threads=os.environ.get("OMP_NUM_THREADS"))
        record_data("ci", "01_data", {"nih14": "abc"})
        Path(output).write_text(json.dumps({"cells": [{"cell_type": "code", "outputs": []}]}))

    monkeypatch.setitem(sys.modules, "papermill", types.SimpleNamespace(execute_notebook=execute_notebook))
    run_chapter("01", "ci", {"seed": 1}, root=tmp_path)
    full = {**CONTRACTS["01_data"].defaults(), "run_id": "ci", "n_examples": 2, "seed": 1}
    assert injected.pop("threads") == "2"  # the ci profile's kernel computes with 2 torch threads
    assert injected == full
    assert (tmp_path / "artifacts" / "runs" / "ci" / "glue" / "01_data.json").read_text().strip() == "{}"
    entry = yaml.safe_load((tmp_path / "artifacts" / "runs" / "ci" / "config.yaml").read_text())["01_data"]
    assert entry["params"] == full and entry["data_manifests"] == {"nih14": "abc"}


def test_references_carry_no_machine_paths():
    """nbval references are committed: no absolute checkout path, no run times."""
    for path in sorted((ROOT / "tests" / "notebooks").glob("*.ipynb")):
        text = path.read_text()
        assert str(ROOT) not in text, f"{path.name} names this checkout's path"
        meta = json.loads(text)["metadata"].get("papermill", {})
        assert not Path(meta.get("input_path", "notebooks")).is_absolute(), path.name
        assert "duration" not in meta, path.name
    for path in sorted((ROOT / "tests" / "references").rglob("*.txt")):  # the numeric references
        text = path.read_text()
        assert str(ROOT.parent) not in text, f"{path} names a path of this machine (a volatile value?)"
