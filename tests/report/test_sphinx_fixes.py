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
