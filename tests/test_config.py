import pytest
import yaml

from tmvlib.config import load_params, project_root, record_run, resolve_data_root, run_dir


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "_toc.yml").write_text("root: intro\n")
    (tmp_path / "params" / "ci").mkdir(parents=True)
    (tmp_path / "params" / "ci" / "01_data.yaml").write_text("run_id: ci\nseed: 0\nviews: [PA]\n")
    monkeypatch.chdir(tmp_path / "params")
    monkeypatch.delenv("TMV_ROOT", raising=False)
    monkeypatch.delenv("TMV_DATA", raising=False)
    monkeypatch.delenv("TMV_ARTIFACTS", raising=False)
    return tmp_path


def test_project_root_is_found_upwards(project):
    assert project_root() == project


def test_params_and_overrides(project):
    from tmvlib.contracts import CONTRACTS, ParamsError

    # the contract's defaults (there is no params/default here) <- params/ci <- overrides
    assert load_params("01_data", "ci") == {**CONTRACTS["01_data"].defaults(),
                                            "run_id": "ci", "seed": 0, "views": ["PA"]}
    assert load_params("01_data", "ci", {"seed": 3})["seed"] == 3
    with pytest.raises(ParamsError, match="override -p: unknown parameter 'sed' for 01_data; "
                                          "did you mean 'seed'"):
        load_params("01_data", "ci", {"sed": 3})
    with pytest.raises(FileNotFoundError, match="profile 'nope'"):
        load_params("01_data", "nope")


def test_data_root_order(project, monkeypatch, tmp_path):
    with pytest.raises(FileNotFoundError, match="make data"):
        resolve_data_root()
    (project / "data").mkdir()
    assert resolve_data_root() == project / "data"
    explicit = tmp_path / "elsewhere"
    explicit.mkdir()
    monkeypatch.setenv("TMV_DATA", str(explicit))
    assert resolve_data_root() == explicit
    with pytest.raises(FileNotFoundError, match="param data_root does not exist"):
        resolve_data_root(tmp_path / "missing")


def test_record_run_writes_fingerprints_and_reports_stale_chapters(project):
    assert record_run("r", "02_baseline", {"lr": 1}) == []
    stale = record_run("r", "01_data", {"seed": 0}, {"nih14": "abc"})
    assert stale == ["02_baseline"]
    config = yaml.safe_load((run_dir("r") / "config.yaml").read_text())
    assert config["01_data"]["params"] == {"seed": 0}
    assert config["01_data"]["data_manifests"] == {"nih14": "abc"}
    assert {"torch", "python", "pandas"} <= set(config["01_data"]["versions"])
    assert "git_commit" in config["01_data"]
    assert (run_dir("r") / "checkpoints").is_dir()


def test_chapter_params_reads_what_a_chapter_recorded(project):
    from tmvlib.config import chapter_params

    record_run("r", "02_baseline", {"max_images_per_split": 40})
    assert chapter_params("r", "02_baseline") == {"max_images_per_split": 40}
    with pytest.raises(FileNotFoundError, match="make chapter CH=03"):
        chapter_params("r", "03_uncertainty")


def test_record_run_keeps_the_data_the_notebook_recorded(project):
    from tmvlib.config import chapter_params, forget_chapter, record_data

    # the notebook records the manifests it read while it runs; tmv chapter the params after it
    record_data("r", "01_data", {"nih14": "abc"})
    record_run("r", "03_uncertainty", {"seed": 0})
    assert record_run("r", "01_data", {"seed": 1}) == ["03_uncertainty"]
    entry = yaml.safe_load((run_dir("r") / "config.yaml").read_text())["01_data"]
    assert entry["params"] == {"seed": 1} and entry["data_manifests"] == {"nih14": "abc"}
    assert entry["versions"] and "git_commit" in entry
    # a rerun starts from no record: a chapter that fails leaves none
    forget_chapter("r", "01_data")
    with pytest.raises(FileNotFoundError):
        chapter_params("r", "01_data")
    record_run("r", "01_data", {"seed": 2})
    assert yaml.safe_load((run_dir("r") / "config.yaml").read_text())["01_data"]["data_manifests"] == {}

