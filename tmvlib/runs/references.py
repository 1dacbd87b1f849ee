"""A run's values as committed references: human-readable text, one value per line, sorted.

The ``ci`` book's references live in ``tests/references/ci/``, one file per chapter and source:
``<chapter>/glue.txt`` for the glued values and ``<chapter>/<path in the run folder>.txt`` for a
table, JSON or text artifact (chapter 01's splits under ``01_data/splits/``). A line is::

    auroc_test = "0.525 [0.385, 0.663]"
    [set=test, metric=auroc] | value = 0.525

the value as JSON (strings quoted, floats to 6 significant digits). A commit's diff of these files
is the list of values it moved: :func:`write_references` keeps a line whose new value is within
its tolerance of the old one, so a regeneration on another host rewrites only what moved.

What the references leave out: volatile values (run times, host facts, paths:
:data:`tmvlib.runs.tolerance.VOLATILE`), heatmaps and checkpoint weights (the tables hold what the
book reads of them), and copies of the image metadata (age, sex, view...; :data:`METADATA_COLUMNS`)
in tables other than chapter 01's ``splits.parquet`` (its contrast and external tables keep each
image's patient, label and split).
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from ..atomic import atomic_write_text
from .compare import compare_value, compare_values
from .tolerance import Tolerance, exact, volatile
from .values import SEPARATOR, run_values

CI_REFERENCES = Path("tests") / "references" / "ci"  # the ci book's references, in the project
GLUE_FILE = "glue.txt"
# Image metadata chapter 01 reads from the data; other tables carry copies of it.
METADATA_COLUMNS = ("patient_id", "view", "sex", "age", "quality", "source", "box_findings", "dataset",
                    "findings", "uncertain", "source_width", "expert_set")
KEPT_SPLIT_COLUMNS = ("patient_id", "label", "split", "patient_has_box", "rows")
_SPLITS = re.compile(r"^01_data \| splits/(?P<file>[^|]*) \| ")


def rounded(value):
    """Floats to 6 significant digits (what a reference line shows); other values unchanged."""
    if isinstance(value, float) and math.isfinite(value) and value != 0.0:
        return float(f"{value:.6g}")
    return value


def _kept(key: str) -> bool:
    if volatile(key):
        return False
    column = key.rsplit(SEPARATOR, 1)[-1]
    split_table = _SPLITS.search(key)
    if split_table is None:
        return column not in METADATA_COLUMNS  # a copy of chapter 01's
    if split_table["file"] in ("contrast.parquet", "external.parquet"):
        return column in KEPT_SPLIT_COLUMNS
    return True


def reference_values(run: str | Path, splits: str | Path | None = None) -> dict[str, object]:
    """The values of a run that its references hold (module docstring), floats rounded."""
    return {k: rounded(v) for k, v in run_values(run, splits).items() if _kept(k)}


def _location(key: str) -> tuple[str, str]:
    """(reference file relative to the references folder, the line's key) of a value key."""
    parts = key.split(SEPARATOR)
    chapter, source, rest = parts[0], parts[1], parts[2:]
    if source == "glue":
        return f"{chapter}/{GLUE_FILE}", SEPARATOR.join(rest)
    return f"{chapter}/{source}.txt", SEPARATOR.join(rest) or "(content)"


def _key(relative: str, line_key: str) -> str:
    chapter, _, file = relative.partition("/")
    if file == GLUE_FILE:
        return SEPARATOR.join((chapter, "glue", line_key))
    source = file[: -len(".txt")]
    return SEPARATOR.join((chapter, source) + (() if line_key == "(content)" else (line_key,)))


def _parse(line: str, where: str) -> tuple[str, object]:
    """``key = value`` -> (key, value): the first `` = `` after which valid JSON follows."""
    start = 0
    while (at := line.find(" = ", start)) >= 0:
        try:
            return line[:at], json.loads(line[at + 3:])
        except ValueError:
            start = at + 1
    raise ValueError(f"{where}: not a reference line ('key = JSON value'): {line!r}")


def read_references(folder: str | Path) -> dict[str, object]:
    """``{key: value}`` of every reference file under ``folder`` (empty when there is none)."""
    folder = Path(folder)
    values: dict[str, object] = {}
    for path in sorted(folder.rglob("*.txt")):
        relative = path.relative_to(folder).as_posix()
        for number, line in enumerate(path.read_text().splitlines(), 1):
            line_key, value = _parse(line, f"{path}:{number}")
            values[_key(relative, line_key)] = value
    return values


def write_references(values: Mapping[str, object], folder: str | Path,
                     tolerance_of: Callable[[str], Tolerance] = exact) -> dict[str, int]:
    """Write ``values`` as reference files under ``folder``, replacing what is there.

    A value within ``tolerance_of(key)`` of the reference already written keeps the old line, so
    the files change only where a value moved. Returns ``{"kept": n, "moved": n, "added": n,
    "removed": n}``.
    """
    folder = Path(folder)
    previous = read_references(folder) if folder.is_dir() else {}
    counts = {"kept": 0, "moved": 0, "added": 0, "removed": len(set(previous) - set(values))}
    files: dict[str, list[str]] = {}
    for key, value in values.items():
        if key in previous and compare_value(key, previous[key], value, tolerance_of(key)) is None:
            value, state = previous[key], "kept"
        else:
            state = "moved" if key in previous else "added"
        counts[state] += 1
        relative, line_key = _location(key)
        files.setdefault(relative, []).append(f"{line_key} = {json.dumps(value, ensure_ascii=False)}")
    for old in folder.rglob("*.txt") if folder.is_dir() else ():
        if old.relative_to(folder).as_posix() not in files:
            old.unlink()
    for relative, lines in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, "\n".join(sorted(lines)) + "\n")
    return counts


def check_references(run: str | Path, splits: str | Path | None, folder: str | Path,
                     tolerance_of: Callable[[str], Tolerance]) -> list:
    """Every value of a run that moved beyond its tolerance from the references in ``folder``
    (:class:`tmvlib.runs.compare.Difference`, sorted by key; a value or row on one side only
    is a difference)."""
    return compare_values(read_references(folder), reference_values(run, splits), tolerance_of)
