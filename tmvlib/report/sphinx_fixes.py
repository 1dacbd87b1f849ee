"""Sphinx extension of the book (``sphinx.extra_extensions`` in ``_config.yml``): a clean console.

Sphinx 7.4 writes an extension's inline script twice when the extension adds it after the builder
started: ``app.add_js_file(None, body=...)`` puts it in the builder's list, then
``prepare_writing`` re-adds everything registered as ``add_js_file('', body=...)``, and since
``None != ''`` both copies stay. sphinx-thebe adds ``const THEBE_JS_URL = ...`` that way, so every
page threw ``SyntaxError: Identifier 'THEBE_JS_URL' has already been declared`` (found by the
browser test, tests/test_book_browser.py). This keeps the first of identical scripts.
"""
from __future__ import annotations


def _script_key(script) -> tuple:
    filename = getattr(script, "filename", script) or ""
    attributes = getattr(script, "attributes", {}) or {}
    return str(filename), tuple(sorted((str(k), str(v)) for k, v in attributes.items()))


def unique_scripts(scripts) -> list:
    """``scripts`` without repeats (a missing filename, ``None`` or ``''``, counts as one)."""
    seen: set[tuple] = set()
    kept = []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            kept.append(script)
    return kept


def _dedupe_page_scripts(app, pagename, templatename, context, doctree) -> None:
    if context.get("script_files"):
        context["script_files"] = unique_scripts(context["script_files"])


def setup(app) -> dict:
    # After the handlers that add per-page scripts (myst-nb's run at the default priority 500).
    app.connect("html-page-context", _dedupe_page_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
