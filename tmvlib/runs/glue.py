"""A chapter's glued values (myst-nb ``glue``), kept with its run: ``glue/<chapter>.json``.

Every number in the book's prose is a glued value. A chapter's glued values are read from its
executed notebook's outputs (``tmv chapter``: the papermill copy; ``make test``: the outputs nbval
collects cell by cell) and written into the run folder before its completion record, so that a
run holds everything a reader sees and two runs can be compared without their notebooks
(:mod:`tmvlib.runs.compare`, ``tmv compare``).

A value is kept as the text a reader sees: ``{glue:text}`` renders a string without its quotes,
a number as written, and a ``Markdown`` object as its markdown.
"""
from __future__ import annotations

import ast
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..atomic import atomic_write_text
from ..config import run_dir

GLUE_MIME_PREFIX = "application/papermill.record/"
GLUE_FOLDER = "glue"


def _text(data: Mapping[str, object], mime: str) -> str | None:
    value = data.get(GLUE_MIME_PREFIX + mime)
    if value is None:
        return None
    return "".join(value) if isinstance(value, list) else str(value)


def glued_text(data: Mapping[str, object]) -> str:
    """The reader's text of one glue output's ``data`` (its mime bundle): the markdown when there
    is one, else the ``text/plain`` repr with a string literal's quotes removed."""
    markdown = _text(data, "text/markdown")
    if markdown is not None:
        return markdown
    plain = _text(data, "text/plain") or ""
    try:
        value = ast.literal_eval(plain)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return plain
    return value if isinstance(value, str) else plain


def glued_values(outputs: Iterable[Mapping]) -> dict[str, str]:
    """``{name: text}`` of the glue outputs among notebook cell ``outputs`` (nbformat dicts, in
    order; a name glued twice keeps its last value, as the rendered book does)."""
    values: dict[str, str] = {}
    for output in outputs:
        meta = (output.get("metadata") or {}).get("scrapbook")
        if meta and meta.get("name"):
            values[meta["name"]] = glued_text(output.get("data") or {})
    return values


def notebook_glue(path: str | Path) -> dict[str, str]:
    """:func:`glued_values` of every cell of an executed notebook."""
    notebook = json.loads(Path(path).read_text())
    return glued_values(o for cell in notebook.get("cells", []) for o in cell.get("outputs", []))


def glue_path(run_id: str, chapter: str, root: str | Path | None = None) -> Path:
    """``artifacts/runs/<run_id>/glue/<chapter>.json``."""
    return run_dir(run_id, root) / GLUE_FOLDER / f"{chapter}.json"


def write_glue(run_id: str, chapter: str, values: Mapping[str, str],
               root: str | Path | None = None) -> Path:
    """Write a chapter's glued values (sorted by name, atomically)."""
    path = glue_path(run_id, chapter, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(path, json.dumps(dict(values), indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def read_glue(folder: str | Path) -> dict[str, dict[str, str]]:
    """``{chapter: {name: text}}`` of a run folder (``artifacts/runs/<run_id>``); empty when the
    run kept none."""
    base = Path(folder) / GLUE_FOLDER
    return {p.stem: json.loads(p.read_text()) for p in sorted(base.glob("*.json"))}
