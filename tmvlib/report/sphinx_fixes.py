"""Sphinx extension of the book (``sphinx.extra_extensions`` in ``_config.yml``): a clean console,
and pasted numbers that follow their chapter.

Pages that paste glued values from another document (``{glue:text}`02_baseline.ipynb::key:s```:
the landing page, the reference pages, chapter 08) are re-read whenever any document changed.
Sphinx's incremental build only re-reads changed sources, so after ``make chapter CH=02`` they
kept the previous run's numbers.

Sphinx 7.4 writes an extension's inline script twice when the extension adds it after the builder
started: ``app.add_js_file(None, body=...)`` puts it in the builder's list, then
``prepare_writing`` re-adds everything registered as ``add_js_file('', body=...)``, and since
``None != ''`` both copies stay. sphinx-thebe adds ``const THEBE_JS_URL = ...`` that way, so every
page threw ``SyntaxError: Identifier 'THEBE_JS_URL' has already been declared`` (found by the
browser test, tests/test_book_browser.py). This keeps the first of identical scripts.
"""
from __future__ import annotations

import re
from pathlib import Path

CROSS_DOCUMENT_GLUE = re.compile(r"\{glue(?::[a-z]+)?\}`[^`]*::")


def pages_pasting_from_others(env) -> list[str]:
    """Docnames whose source pastes a glued value from another document."""
    found = []
    for docname in sorted(env.found_docs):
        source = Path(env.doc2path(docname))
        if source.is_file() and CROSS_DOCUMENT_GLUE.search(source.read_text(errors="replace")):
            found.append(docname)
    return found


def _repaste(app, env, added, changed, removed) -> list[str]:
    return pages_pasting_from_others(env) if (added or changed or removed) else []


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
    """Sphinx extension entry point: register the two fixes above."""
    # After the handlers that add per-page scripts (myst-nb's run at the default priority 500).
    app.connect("html-page-context", _dedupe_page_scripts, priority=900)
    app.connect("env-get-outdated", _repaste)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
