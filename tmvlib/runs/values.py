"""A run as named values: every glued value, every table cell, every JSON or text field.

:func:`run_values` flattens a run folder (``artifacts/runs/<run_id>``, with its splits folder
when given) into ``{key: value}``, one value per reader-visible quantity, keyed by the chapter
that wrote it, the file, the row and the column, e.g.::

    02_baseline | glue | auroc_test
    02_baseline | metrics/baseline_metrics.csv | [set=test, metric=auroc] | value
    01_data | splits/splits.parquet | [image_id=00000002_000] | split

A table's rows are named by its identity columns (``keys`` in the artifact registry,
:data:`SPLIT_TABLE_KEYS` for chapter 01's; a repeated identity gets ``#2``, ``#3``), so a dropped
or added row is named as such rather than shifting every later row. Values are ``str``, ``int``, ``float``, ``bool`` or None.
Heatmaps and checkpoints (``.npy``, ``.npz``, ``.pt``) are listed by :func:`run_arrays`, other binary
files (PNG, HTML) by :func:`run_binaries`; what the book reads of them is in the tables.

Not values of a run: ``records/`` (completion records: hashes), ``config.yaml`` (the host's
fingerprint), ``shards/`` (per-image stage caches, whose rows reach the tables), the lock.
"""
from __future__ import annotations

import fnmatch
import json
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from ..artifacts import ARTIFACTS
from .records import DATA_CHAPTER

SEPARATOR = " | "
SKIPPED_TOP = ("records", "shards", "config.yaml", ".lock")
TABLE_SUFFIXES = (".parquet", ".csv")
TEXT_SUFFIXES = (".txt", ".md")
ARRAY_SUFFIXES = (".npy", ".npz", ".pt")
# Identity columns of chapter 01's split tables (the other tables declare theirs in the registry).
SPLIT_TABLE_KEYS = {"splits.parquet": ("image_id",), "contrast.parquet": ("image_id",),
                    "external.parquet": ("image_id",), "exclusions.csv": ("dataset", "step", "reason")}


def artifact_of(relative: str):
    """The registry entry that names ``relative`` (a path inside the run folder), or None."""
    best, length = None, -1
    for a in ARTIFACTS.values():
        pattern = a.path
        if "*" in pattern:  # a glob: "checkpoints/fold*_ensemble_*" is not "checkpoints/fold_0.pt"
            hit = fnmatch.fnmatchcase(relative, pattern)
        else:
            hit = relative == pattern or relative.startswith(pattern + "/") or (
                pattern.endswith(".pt") and relative == pattern[:-3] + ".json")
        if hit and len(pattern) > length:
            best, length = a, len(pattern)
    return best


def row_keys(relative: str) -> tuple[str, ...]:
    """The identity columns of the table at ``relative`` (empty: rows are named by number)."""
    if relative.startswith("splits/"):
        return SPLIT_TABLE_KEYS.get(relative.split("/", 1)[1], ())
    found = artifact_of(relative)
    return found.keys if found is not None else ()


def chapter_of(relative: str) -> str:
    """The chapter that writes ``relative`` (a path inside the run folder; ``splits/...`` is
    chapter 01's), from the artifact registry; ``"?"`` for a file no artifact names."""
    if relative.startswith("splits/"):
        return DATA_CHAPTER
    found = artifact_of(relative)
    return found.chapter if found is not None else "?"


def scalar(value):
    """A plain Python scalar (numpy and pandas scalars unwrapped; NaN, NA and NaT -> None)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, tuple, np.ndarray)):
        return json.dumps([scalar(v) for v in value], default=str)
    return str(value)


def row_names(frame: pd.DataFrame, keys: tuple[str, ...] = ()) -> list[str]:
    """``[col=value, ...]`` per row from the identity columns ``keys`` (``[row i]`` without
    them); a repeated identity gets ``#2``, ``#3`` in order of appearance."""
    missing = [c for c in keys if c not in frame.columns]
    if missing:
        raise ValueError(f"the table lacks its identity columns {missing} (has {list(frame.columns)})")
    if keys:
        names = ["[" + ", ".join(f"{c}={scalar(v)}" for c, v in zip(keys, row)) + "]"
                 for row in frame[list(keys)].itertuples(index=False, name=None)]
    else:
        names = [f"[row {i}]" for i in range(len(frame))]
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} #{seen[name]}")
    return out


def table_values(frame: pd.DataFrame, prefix: str, keys: tuple[str, ...] = ()) -> dict[str, object]:
    """``{prefix | [row] | column: value}`` for every cell, rows named by ``keys``
    (:func:`row_names`; the identity columns are in the row name), and ``prefix | rows``."""
    values: dict[str, object] = {f"{prefix}{SEPARATOR}rows": len(frame)}
    names = row_names(frame, keys)
    for column in frame.columns:
        if column in keys:
            continue
        for name, value in zip(names, frame[column].tolist()):
            values[SEPARATOR.join((prefix, name, str(column)))] = scalar(value)
    return values


def _flatten(obj, prefix: str) -> Iterator[tuple[str, object]]:
    if isinstance(obj, dict):
        for k in sorted(obj, key=str):
            yield from _flatten(obj[k], f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _flatten(v, f"{prefix}[{i}]")
    else:
        yield prefix, scalar(obj)


def json_values(obj, prefix: str) -> dict[str, object]:
    """``{prefix | dotted.path[i]: value}`` of a parsed JSON document."""
    return {f"{prefix}{SEPARATOR}{path}" if path else prefix: v for path, v in _flatten(obj, "")}


def _files(folder: Path, splits: Path | None) -> Iterator[tuple[str, Path]]:
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_file() and not relative.startswith(SKIPPED_TOP) and ".tmp" not in path.name:
            yield relative, path
    if splits is not None and splits.is_dir():
        for path in sorted(splits.rglob("*")):
            if path.is_file() and ".tmp" not in path.name:
                yield "splits/" + path.relative_to(splits).as_posix(), path


def read_table_file(path: Path) -> pd.DataFrame:
    """A ``.parquet`` or ``.csv`` table."""
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def run_values(folder: str | Path, splits: str | Path | None = None) -> dict[str, object]:
    """Every value of a run folder (and of its splits folder, when given), keyed as the module
    docstring says. Glued values come from ``glue/<chapter>.json``."""
    folder = Path(folder)
    values: dict[str, object] = {}
    for relative, path in _files(folder, Path(splits) if splits else None):
        if relative.startswith("glue/") and path.suffix == ".json":
            chapter = path.stem
            for name, text in json.loads(path.read_text()).items():
                values[SEPARATOR.join((chapter, "glue", name))] = text
            continue
        prefix = SEPARATOR.join((chapter_of(relative), relative))
        if path.suffix in TABLE_SUFFIXES:
            values.update(table_values(read_table_file(path), prefix, row_keys(relative)))
        elif path.suffix == ".json":
            values.update(json_values(json.loads(path.read_text()), prefix))
        elif path.suffix in TEXT_SUFFIXES:
            values[prefix] = path.read_text()
    return values


def run_arrays(folder: str | Path) -> dict[str, Path]:
    """``{chapter | relative path: file}`` of the run's heatmaps, the card's reference arrays and
    the checkpoints' weights."""
    folder = Path(folder)
    return {SEPARATOR.join((chapter_of(rel), rel)): p for rel, p in _files(folder, None)
            if p.suffix in ARRAY_SUFFIXES}


def run_binaries(folder: str | Path) -> dict[str, Path]:
    """``{chapter | relative path: file}`` of the run's other files that are not values
    (checkpoints, images, HTML cards)."""
    folder = Path(folder)
    known = TABLE_SUFFIXES + TEXT_SUFFIXES + ARRAY_SUFFIXES + (".json",)
    return {SEPARATOR.join((chapter_of(rel), rel)): p for rel, p in _files(folder, None)
            if p.suffix not in known}


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a ``.npy`` (one, named ``""``), ``.npz`` or checkpoint (``.pt``: its state
    dict's tensors; ``torch.save`` writes equal weights to different bytes) file."""
    if path.suffix == ".pt":
        import torch

        state = torch.load(path, map_location="cpu", weights_only=True)
        return {k: v.detach().float().numpy() for k, v in state.items()}
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    return {"": np.load(path, allow_pickle=False)}
