from sphinx.builders.html._assets import _JavaScript

from tmvlib.report.sphinx_fixes import unique_scripts


def test_an_inline_script_added_as_none_and_as_empty_name_is_kept_once():
    # What Sphinx 7.4 hands the template for sphinx-thebe's inline configuration script.
    body = 'const THEBE_JS_URL = "x"'
    scripts = [_JavaScript("_static/doctools.js", priority=200), _JavaScript(None, body=body),
               _JavaScript("", body=body), _JavaScript("", body="let other = 1"),
               _JavaScript("_static/doctools.js", priority=200)]
    kept = unique_scripts(scripts)
    assert kept == [scripts[0], scripts[1], scripts[3]]
    assert [getattr(s, "attributes", {}).get("body") for s in kept].count(body) == 1


def test_pages_pasting_from_other_documents_are_reread_after_any_change(tmp_path):
    from types import SimpleNamespace

    from tmvlib.report.sphinx_fixes import _repaste, pages_pasting_from_others

    (tmp_path / "intro.md").write_text("AUROC {glue:text}`02_baseline.ipynb::auroc_test:s` on test")
    (tmp_path / "ch08.ipynb").write_text('{"cells": ["{glue}`07_trust.ipynb::table`"]}')
    (tmp_path / "local.md").write_text("only a local paste {glue:text}`auroc_test` and a::b in prose")
    env = SimpleNamespace(found_docs={"intro", "ch08", "local"},
                          doc2path=lambda d: tmp_path / (f"{d}.ipynb" if d == "ch08" else f"{d}.md"))
    assert pages_pasting_from_others(env) == ["ch08", "intro"]
    assert _repaste(None, env, set(), {"02_baseline"}, set()) == ["ch08", "intro"]
    assert _repaste(None, env, set(), set(), set()) == []  # nothing changed: nothing to redo
