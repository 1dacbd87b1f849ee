"""One writer per run folder: an advisory ``flock`` on ``artifacts/runs/<run_id>/.lock``.

A chapter (``tmv chapter``, ``tmv book``, ``tmv refs``) holds the run's lock exclusively while it
runs; a second writer stops at once with :class:`RunLocked`, naming the holder's process id and
command (which the holder writes into the lock file). ``tmv predict`` holds it shared while it
reads, so it never reads a run that a chapter is rewriting, and a chapter never starts while
cards are being made from the run. The lock is the kernel's: it is released when the holder
exits, however it exits, so a killed run leaves no stale lock. Within one process the lock is
re-entrant (``tmv book`` holds it across its chapters). Where ``fcntl`` does not exist (Windows)
the lock is a no-op.
"""
from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..config import artifacts_dir

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None

_held: dict[Path, list] = {}  # lock path -> [fd, exclusive, depth]


class RunLocked(RuntimeError):
    """Another process holds the run's lock."""


def lock_path(run_id: str, root: str | Path | None = None, create: bool = True) -> Path:
    """``artifacts/runs/<run_id>/.lock`` (its folder is created when ``create``)."""
    path = artifacts_dir(root) / "runs" / run_id / ".lock"
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def holder(path: Path) -> str:
    """Who holds the lock, from the file: ``being written by process 123 (tmv chapter 02 ...)``."""
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    pid = info.get("pid")
    if pid and _alive(int(pid)):
        return f"being written by process {pid} ({info.get('command', '?')}, since {info.get('since', '?')})"
    return "in use by another process (a reader such as tmv predict, or a writer that is starting)"


@contextmanager
def run_lock(run_id: str, exclusive: bool = True, command: str | None = None,
             root: str | Path | None = None) -> Iterator[Path]:
    """Hold the run's lock (``exclusive`` for a writer, shared for a reader) for the block.

    A reader creates nothing: its run folder must exist.

    Raises:
        RunLocked: another process holds it in a conflicting mode; the message names it.
        FileNotFoundError: a reader's run folder does not exist (named).
    """
    path = lock_path(run_id, root, create=exclusive).resolve()
    if not exclusive and not path.parent.is_dir():
        raise FileNotFoundError(f"no run {run_id!r}: {path.parent} does not exist")
    if fcntl is None:
        yield path
        return
    if path in _held:
        entry = _held[path]
        if exclusive and not entry[1]:
            raise RunLocked(f"run {run_id!r}: this process reads the run and cannot also write it")
        entry[2] += 1
        try:
            yield path
        finally:
            entry[2] -= 1
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        what = "write" if exclusive else "read"
        raise RunLocked(f"run {run_id!r} is {holder(path)}; this command would {what} it too: wait until "
                        f"that finishes (lock file {path})") from None
    if exclusive:
        info = {"pid": os.getpid(), "command": command or " ".join(sys.argv),
                "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
    _held[path] = [fd, exclusive, 1]
    try:
        yield path
    finally:
        del _held[path]
        if exclusive:
            os.ftruncate(fd, 0)
        os.close(fd)  # releases the flock
