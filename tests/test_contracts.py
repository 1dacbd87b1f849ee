"""Chapter contracts: typed params, defaults in step with the notebooks and YAML, profile layering,
validation messages and declared reads between chapters."""
import ast
import json
import re
import shutil
from pathlib import Path

import pytest

from tmvlib.config import CHAPTER_ORDER, declared_params, record_run
from tmvlib.contracts import CONTRACTS, ParamsError, resolve_params

ROOT = Path(__file__).resolve().parents[1]

# Where a notebook's parameters cell still disagrees with params/default (what papermill injects,
# so what the book shows): (chapter, key) -> the value in the cell. Fix the notebook, then drop it.
NOTEBOOK_DRIFT: dict = {}


def typed(value):
    """``value`` with the type of every part, so that 1 != 1.0 and [1] != [1.0]."""
    if isinstance(value, (list, tuple)):
        return type(value), [typed(v) for v in value]
    if isinstance(value, dict):
        return dict, {k: typed(v) for k, v in value.items()}
    return type(value), value


def notebook_parameters(chapter: str) -> dict:
    """``name = literal`` assignments of the notebook's ``parameters``-tagged cell."""
    notebook = json.loads((ROOT / "notebooks" / f"{chapter}.ipynb").read_text())
    cells = [c for c in notebook["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"{chapter}: expected one parameters cell, found {len(cells)}"
    out = {}
    for node in ast.parse("".join(cells[0]["source"])).body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1 \
            and isinstance(node.targets[0], ast.Name), f"{chapter}: not `name = literal`: {ast.unparse(node)}"
        out[node.targets[0].id] = ast.literal_eval(node.value)
    return out


def yaml_file(profile: str, chapter: str) -> dict:
    import yaml

    return yaml.safe_load((ROOT / "params" / profile / f"{chapter}.yaml").read_text()) or {}


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project root with the real default params of chapters 01 and 06 and empty ci files."""
    (tmp_path / "_toc.yml").write_text("root: intro\n")
    for profile in ("default", "ci"):
        (tmp_path / "params" / profile).mkdir(parents=True)
    for chapter in ("01_data", "06_stability"):
        shutil.copy(ROOT / "params" / "default" / f"{chapter}.yaml", tmp_path / "params" / "default")
        (tmp_path / "params" / "ci" / f"{chapter}.yaml").write_text("run_id: ci\n")
    for name in ("TMV_ROOT", "TMV_ARTIFACTS"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_every_chapter_has_a_contract_and_every_field_a_doc():
    assert list(CONTRACTS) == list(CHAPTER_ORDER)
    for name, spec in CONTRACTS.items():
        assert spec.name == name
        assert spec.params.__dataclass_params__.frozen
        undocumented = [key for key, doc in spec.docs().items() if not doc]
        assert not undocumented, f"{name}: undocumented {undocumented}"


@pytest.mark.parametrize("chapter", CHAPTER_ORDER)
def test_notebook_parameters_cell_matches_the_contract(chapter):
    cell, defaults = notebook_parameters(chapter), CONTRACTS[chapter].defaults()
    assert sorted(cell) == sorted(defaults), f"{chapter}: the parameters cell and the contract differ"
    for key, value in cell.items():
        expected = NOTEBOOK_DRIFT.get((chapter, key), defaults[key])
        assert typed(value) == typed(expected), f"{chapter}.{key}: notebook {value!r}, contract {expected!r}"


@pytest.mark.parametrize("chapter", CHAPTER_ORDER)
def test_default_yaml_lists_the_contract_defaults(chapter):
    assert typed(yaml_file("default", chapter)) == typed(CONTRACTS[chapter].defaults())


@pytest.mark.parametrize("profile", ["ci", "full", "diversity"])
@pytest.mark.parametrize("chapter", CHAPTER_ORDER)
def test_profile_yaml_holds_only_what_differs_from_default(chapter, profile):
    own, default = yaml_file(profile, chapter), yaml_file("default", chapter)
    assert own["run_id"] == profile
    same = [k for k, v in own.items() if k in default and typed(v) == typed(default[k])]
    assert not same, f"params/{profile}/{chapter}.yaml repeats defaults: {same}"
    resolve_params(chapter, profile, root=ROOT)  # valid against the contract


def test_resolved_params_are_what_papermill_injected_before_the_contracts():
    ci = resolve_params("06_stability", "ci", root=ROOT)
    assert typed(ci) == typed({
        "run_id": "ci", "mc_samples": 5, "tta_count": 2, "tta_rotation": 5.0, "tta_translate": 0.04,
        "tta_scale": 0.05, "tta_brightness": 0.05, "tta_contrast": 0.1, "tta_gamma": 0.1, "tta_noise": 0.01,
        "top_k": 0.15, "metric_size": 64, "spearman_grid": 16, "scorecam_tta": 1, "engine": "auto", "scorecam_top_k": 32,
        "batch_size": 16, "fold_sources": ["TTA"], "n_boot": 100, "seed": 0, "executor": "auto",
        "shard_size": 256})
    assert list(ci) == list(CONTRACTS["06_stability"].defaults())  # the injected cell's order
    scorecam = resolve_params("05_scorecam", "ci", root=ROOT)
    assert scorecam["sanity_steps"] == ["fc", "conv_stem+bn1"]
    default = resolve_params("05_scorecam", root=ROOT)
    assert default["sanity_steps"] == ["fc"] and default["independent_steps"] is None  # the head; the target stage
    baseline = resolve_params("02_baseline", "ci", root=ROOT)
    assert typed({k: baseline[k] for k in ("image_size", "lr", "max_images_per_split", "augment")}) == typed(
        {"image_size": 128, "lr": 0.0003, "max_images_per_split": 40, "augment": True})
    assert resolve_params("02_baseline", root=ROOT)["max_images_per_split"] is None
    assert typed(resolve_params("04_gradcam", "ci", root=ROOT)["pointing_tolerance"]) == (float, 15.0)
    data = resolve_params("01_data", "ci", root=ROOT)
    assert data["n_examples"] == 2 and data["split_fractions"] == {"train": 0.7, "val": 0.15, "test": 0.15}
    assert resolve_params("08_trust_card", "ci", root=ROOT)["scorecam_top_k"] is None
    assert resolve_params("07_trust_failures", "ci", root=ROOT)["age_edges"] == [0, 40, 60, 200]
    for chapter in CHAPTER_ORDER:
        assert resolve_params(chapter, root=ROOT) == {**CONTRACTS[chapter].defaults(), "run_id": "default"}


def test_unknown_key_names_the_file_and_the_closest_key(project):
    (project / "params" / "ci" / "06_stability.yaml").write_text("run_id: ci\ntta_contrst: 0.2\n")
    message = ("params/ci/06_stability.yaml: unknown parameter 'tta_contrst' for 06_stability; "
               "did you mean 'tta_contrast'?")
    with pytest.raises(ParamsError, match=re.escape(message)):
        resolve_params("06_stability", "ci", root=project)
    (project / "params" / "ci" / "06_stability.yaml").write_text("run_id: ci\n")
    with pytest.raises(ParamsError, match=re.escape(
            "override -p: unknown parameter 'tta_cont' for 06_stability; did you mean 'tta_count' or "
            "'tta_contrast'?")):
        resolve_params("06_stability", "ci", {"tta_cont": 0.1}, root=project)
    with pytest.raises(ParamsError, match="override -p: unknown parameter 'zzz' for 06_stability; "
                                          "valid: run_id"):
        resolve_params("06_stability", "ci", {"zzz": 1}, root=project)
    with open(project / "params" / "default" / "06_stability.yaml", "a") as handle:
        handle.write("sed: 1\n")
    with pytest.raises(ParamsError, match=re.escape("params/default/06_stability.yaml: unknown parameter "
                                                    "'sed' for 06_stability; did you mean 'seed'?")):
        resolve_params("06_stability", "ci", root=project)
    assert issubclass(ParamsError, ValueError)


def test_wrong_type_names_the_key_the_file_and_the_expected_type(project):
    (project / "params" / "ci" / "06_stability.yaml").write_text("run_id: ci\nmc_samples: many\n")
    with pytest.raises(ParamsError, match=re.escape("params/ci/06_stability.yaml: parameter 'mc_samples' of "
                                                    "06_stability expects int, got 'many' (str)")):
        resolve_params("06_stability", "ci", root=project)
    (project / "params" / "ci" / "06_stability.yaml").write_text("run_id: ci\n")
    bad = [("06_stability", {"tta_contrast": "abc"}, "expects float, got 'abc' (str)"),
           ("06_stability", {"mc_samples": 5.0}, "expects int, got 5.0 (float)"),
           ("06_stability", {"n_boot": True}, "expects int, got True (bool)"),
           ("06_stability", {"tta_count": None}, "expects int, got None (NoneType)"),
           ("01_data", {"negatives": "some"}, "expects one of 'no_finding', 'all', got 'some'"),
           ("01_data", {"views": ["PA", 3]}, "expects list of str, got ['PA', 3] (list)"),
           ("01_data", {"views": "PA"}, "expects list of str"),
           ("01_data", {"localisation_set": 1}, "expects bool, got 1 (int)"),
           ("01_data", {"split_fractions": {"train": "most"}}, "expects mapping of str to float"),
           ("01_data", {"data_root": 3}, "expects str or null, got 3 (int)")]
    for chapter, override, message in bad:
        with pytest.raises(ParamsError, match=re.escape(message)):
            resolve_params(chapter, "ci", override, root=project)
    (project / "params" / "ci" / "06_stability.yaml").write_text("- run_id\n")
    with pytest.raises(ParamsError, match="expected a mapping"):
        resolve_params("06_stability", "ci", root=project)


def test_values_are_kept_as_given(project):
    params = resolve_params("06_stability", "ci", {"tta_contrast": 1, "tta_noise": "1e-3"}, root=project)
    assert typed(params["tta_contrast"]) == (int, 1)  # an int in a float field stays an int
    assert typed(params["tta_noise"]) == (float, 0.001)  # PyYAML reads 1e-3 as a string
    params = resolve_params("01_data", "ci", {"data_root": None, "views": ["PA"]}, root=project)
    assert params["data_root"] is None and params["views"] == ["PA"]
    fractions = "split_fractions: {train: 1, val: 0, test: 0}\n"
    (project / "params" / "ci" / "01_data.yaml").write_text("run_id: ci\n" + fractions)
    assert typed(resolve_params("01_data", "ci", root=project)["split_fractions"]) == typed(
        {"train": 1, "val": 0, "test": 0})
    with pytest.raises(FileNotFoundError, match="profile 'nope'"):
        resolve_params("01_data", "nope", root=project)
    with pytest.raises(ParamsError, match="no contract for chapter '06_stabilty'; "
                                          "did you mean '06_stability'"):
        resolve_params("06_stabilty", "ci", root=project)


def test_declared_reads_exist_and_come_earlier():
    for reader, spec in CONTRACTS.items():
        earlier = CHAPTER_ORDER[:CHAPTER_ORDER.index(reader)]
        assert set(spec.reads_chapters) <= set(earlier), reader
        for source, keys in spec.reads_params.items():
            assert source in spec.reads_chapters, f"{reader} reads params of {source} without READS_CHAPTERS"
            unknown = set(keys) - set(CONTRACTS[source].defaults())
            assert not unknown, f"{reader} declares {unknown}, not params of {source}"


def test_declared_params_refuse_undeclared_keys(project, monkeypatch):
    monkeypatch.setenv("TMV_ARTIFACTS", str(project / "artifacts"))
    record_run("r", "06_stability", {**CONTRACTS["06_stability"].defaults(), "tta_count": 2})
    ch06 = declared_params("r", "07_trust_failures", "06_stability")
    assert ch06["tta_count"] == 2 and ch06.get("seed") == 0
    with pytest.raises(KeyError, match="07_trust_failures reads 'batch_size' of 06_stability "
                                       "without declaring"):
        ch06["batch_size"]
    with pytest.raises(KeyError, match="READS_PARAMS\\['06_stability'\\]"):
        ch06.get("batch_size")
    with pytest.raises(ParamsError, match="05_scorecam reads no params of 06_stability"):
        declared_params("r", "05_scorecam", "06_stability")
    record_run("r", "04_gradcam", {"run_id": "r"})  # an old record without the declared key
    with pytest.raises(KeyError, match="04_gradcam did not record 'external_images'"):
        declared_params("r", "06_stability", "04_gradcam")["external_images"]


def test_methodology_parameter_tables_list_every_contract_key():
    """book/methodology.md's tables are written by hand for the reader; this keeps their keys and
    the contracts' in step (a key added to a contract, or renamed, must be documented)."""
    import re

    from tmvlib.contracts import CONTRACTS

    text = (ROOT / "book" / "methodology.md").read_text()
    section = text[text.index("## Parameters per chapter"):text.index("## References")]
    tables = {}
    for block in re.split(r"^### ", section, flags=re.M)[1:]:
        number = block.split()[0]
        tables[number] = set(re.findall(r"^\| `([a-z_0-9]+)` \|", block, flags=re.M))
    for name, chapter in CONTRACTS.items():
        documented = tables.get(name[:2], set())
        keys = set(chapter.defaults()) - {"run_id"}
        assert keys - documented == set(), f"{name}: not in methodology.md: {sorted(keys - documented)}"
        assert documented - keys - {"run_id"} == set(), f"{name}: methodology.md lists unknown keys " \
                                                         f"{sorted(documented - keys - {'run_id'})}"
