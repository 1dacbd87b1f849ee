"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Every artifact of a run goes through :func:`atomic_write`: the content is written to a
temporary file in the same folder, flushed to disk, and renamed over the target (``os.replace``
is atomic on POSIX and Windows within one file system). A process killed mid-write leaves the
old file and at most a hidden ``.<name>.*`` temporary, which the next write of the same file
does not read and :func:`remove_stale_temporaries` clears.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

TEMP_PREFIX = "."
TEMP_MARK = ".tmv-tmp"


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, fsync it, then move it into place.

    Args:
        path: the target file (its folder is created).
        write: writes the whole content to the path it is given (e.g.
            ``lambda tmp: frame.to_parquet(tmp)``); it may replace the file.
    Returns:
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{path.name}.", suffix=TEMP_MARK + path.suffix,
                               dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """:func:`atomic_write` of a UTF-8 text."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """:func:`atomic_write` of bytes."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def is_temporary(path: Path) -> bool:
    """A leftover of an interrupted :func:`atomic_write` (never an artifact)."""
    return path.name.startswith(TEMP_PREFIX) and TEMP_MARK in path.name


def remove_stale_temporaries(folder: str | Path) -> int:
    """Delete the leftovers of interrupted writes under ``folder``; returns how many."""
    folder = Path(folder)
    stale = [p for p in folder.rglob(f"{TEMP_PREFIX}*{TEMP_MARK}*") if p.is_file()] if folder.is_dir() else []
    for p in stale:
        p.unlink(missing_ok=True)
    return len(stale)
