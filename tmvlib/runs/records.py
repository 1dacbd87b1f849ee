"""Completion records: what a chapter read and wrote, written last, checked by the next chapter.

A chapter that finishes writes ``artifacts/runs/<run_id>/records/<chapter>.json`` (atomically,
after every artifact): the sha256 of its params, the digest of each upstream chapter's outputs it
read, and the sha256 of every output file. The record is deleted when the chapter starts, so a
chapter that was interrupted (killed, out of memory, an error) has none. Before a chapter runs,
:func:`require_complete` checks every chapter it reads, recursively: a record must exist, the
files on disk must still have the recorded hashes (nothing half-rewritten, added or removed), and
the upstream outputs it read must be the current ones (not stale). Otherwise
:class:`RunStateError` names the chapter to rerun. A rerun that produces identical outputs keeps
the later chapters valid.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..artifacts import ARTIFACTS
from ..atomic import atomic_write_text, is_temporary
from ..config import artifacts_dir, run_dir, splits_dir
from ..contracts import CONTRACTS
from ..fingerprint import sha256_file

RECORD_VERSION = 1
DATA_CHAPTER = "01_data"  # writes artifacts/splits/<run_id>/, all of it recorded


class RunStateError(RuntimeError):
    """A chapter cannot run (or a run cannot be read) because an upstream chapter is missing,
    interrupted, changed or stale; ``rerun`` names the chapter to run again."""

    def __init__(self, message: str, rerun: str):
        super().__init__(message)
        self.rerun = rerun


def record_path(run_id: str, chapter: str, root: str | Path | None = None) -> Path:
    """``artifacts/runs/<run_id>/records/<chapter>.json``."""
    return run_dir(run_id, root) / "records" / f"{chapter}.json"


def _expand(base: Path, pattern: str) -> list[Path]:
    target = base / pattern
    if "*" in pattern:
        found = sorted(base.glob(pattern))
    elif target.is_dir():
        found = sorted(target.rglob("*"))
    else:
        found = [target, target.with_suffix(".json")] if target.suffix == ".pt" else [target]
    return [p for p in found if p.is_file() and not is_temporary(p)]


def output_files(run_id: str, chapter: str, root: str | Path | None = None) -> list[Path]:
    """Every file ``chapter`` has written for ``run_id`` that its record covers (the registry's
    artifacts with ``recorded``; chapter 01: also its whole splits folder), sorted."""
    base = run_dir(run_id, root)
    files = {p for a in ARTIFACTS.values() if a.chapter == chapter and a.recorded for p in _expand(base, a.path)}
    if chapter == DATA_CHAPTER:
        folder = splits_dir(run_id, root)
        files |= {p for p in folder.iterdir() if p.is_file() and not is_temporary(p)}
    return sorted(files)


def output_hashes(run_id: str, chapter: str, root: str | Path | None = None) -> dict[str, str]:
    """``{path relative to artifacts/: sha256}`` of :func:`output_files`."""
    base = artifacts_dir(root)
    return {p.relative_to(base).as_posix(): sha256_file(p) for p in output_files(run_id, chapter, root)}


def digest(hashes: Mapping[str, str]) -> str:
    """One sha256 of a ``{path: sha256}`` map (order-independent)."""
    lines = "".join(f"{path}\t{sha}\n" for path, sha in sorted(hashes.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def params_hash(params: Mapping) -> str:
    """sha256 of the params as canonical JSON."""
    return hashlib.sha256(json.dumps(dict(params), sort_keys=True, default=str).encode()).hexdigest()


def reads(chapter: str) -> tuple[str, ...]:
    """The chapters ``chapter`` declares it reads (its contract's ``READS_CHAPTERS``)."""
    return tuple(CONTRACTS[chapter].reads_chapters) if chapter in CONTRACTS else ()


def read_record(run_id: str, chapter: str, root: str | Path | None = None) -> dict | None:
    """The chapter's completion record, or None when it has none (or an unreadable one)."""
    path = record_path(run_id, chapter, root)
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if record.get("version") == RECORD_VERSION and record.get("status") == "complete" else None


def forget_record(run_id: str, chapter: str, root: str | Path | None = None) -> None:
    """Delete the chapter's record (a chapter about to rerun is not complete until it finishes)."""
    record_path(run_id, chapter, root).unlink(missing_ok=True)


def write_record(run_id: str, chapter: str, params: Mapping, command: str = "",
                 root: str | Path | None = None) -> dict:
    """Write ``chapter``'s completion record, after all its artifacts.

    Raises:
        RunStateError: an upstream chapter it read is no longer complete and current (its
            outputs changed while this chapter ran).
    """
    require_complete(run_id, reads(chapter), chapter, root)
    inputs = {u: read_record(run_id, u, root)["outputs_digest"] for u in reads(chapter)}
    outputs = output_hashes(run_id, chapter, root)
    record = {"version": RECORD_VERSION, "status": "complete", "chapter": chapter, "run_id": run_id,
              "params_sha256": params_hash(params), "inputs": inputs, "outputs": outputs,
              "outputs_digest": digest(outputs), "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "command": command}
    atomic_write_text(record_path(run_id, chapter, root), json.dumps(record, indent=1, sort_keys=True) + "\n")
    return record


def problem(run_id: str, chapter: str, root: str | Path | None = None,
            _seen: dict | None = None) -> tuple[str, str] | None:
    """Why ``chapter``'s outputs cannot be read, as ``(chapter to rerun, reason)``; None when it
    and everything it read are complete and current."""
    seen = {} if _seen is None else _seen
    if chapter in seen:
        return seen[chapter]
    record = read_record(run_id, chapter, root)
    found = None
    if record is None:
        found = (chapter, "has no completion record: it has not run for this run, or it was interrupted")
    else:
        for upstream in record["inputs"]:
            found = problem(run_id, upstream, root, seen)
            if found:
                break
        if not found:
            current = output_hashes(run_id, chapter, root)
            changed = sorted(k for k in set(current) | set(record["outputs"])
                             if current.get(k) != record["outputs"].get(k))
            if changed:
                found = (chapter, f"its files changed after it finished ({len(changed)}, e.g. {changed[0]})")
        if not found:
            for upstream, seen_digest in record["inputs"].items():
                if read_record(run_id, upstream, root)["outputs_digest"] != seen_digest:
                    found = (chapter, f"is stale: chapter {upstream} produced other outputs after it ran")
                    break
    seen[chapter] = found
    return found


def require_complete(run_id: str, chapters: Iterable[str], reader: str,
                     root: str | Path | None = None) -> None:
    """Raise :class:`RunStateError` unless every chapter of ``chapters`` is complete and current.

    The message names the reader, the chapter to rerun and why, e.g. ``chapter 03_uncertainty
    reads 02_baseline, but 02_baseline has no completion record: ... rerun chapter 02_baseline
    (make chapter CH=02), then the chapters after it``.
    """
    seen: dict = {}
    for chapter in chapters:
        found = problem(run_id, chapter, root, seen)
        if found:
            rerun, reason = found
            raise RunStateError(f"{reader} reads {chapter} of run {run_id!r}, but {rerun} {reason}; rerun "
                                f"chapter {rerun} (make chapter CH={rerun[:2]}), then the chapters after it",
                                rerun)
