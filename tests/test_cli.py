import pytest

from tmvlib.cli import chapter_name, parse_overrides, remote_scripts


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
