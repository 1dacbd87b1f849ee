"""One chapter's run, start to finish, as ``tmv chapter`` performs it around papermill."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from ..atomic import remove_stale_temporaries
from ..config import forget_chapter, record_run, run_dir, splits_dir
from .lock import run_lock
from .records import forget_record, reads, require_complete, write_record


@contextmanager
def chapter_session(run_id: str, chapter: str, params: Mapping, command: str = "",
                    root: str | Path | None = None) -> Iterator[None]:
    """Run the block as ``chapter`` of ``run_id``.

    In order: take the run's lock (:class:`tmvlib.runs.RunLocked` if another process holds
    it); check that every chapter it reads is complete and current
    (:class:`tmvlib.runs.RunStateError` naming the chapter to rerun); drop this chapter's
    completion record and recorded params, and the leftovers of interrupted writes; run the
    block; and only if the block finished, record the params and write the completion record,
    last. A block that raises, or a process that is killed, leaves the chapter without a
    record, so the next chapter refuses to read it until it is rerun.
    """
    with run_lock(run_id, exclusive=True, command=command, root=root):
        require_complete(run_id, reads(chapter), chapter, root)
        forget_record(run_id, chapter, root)
        forget_chapter(run_id, chapter, root)
        for folder in (run_dir(run_id, root), splits_dir(run_id, root)):
            remove_stale_temporaries(folder)
        yield
        record_run(run_id, chapter, dict(params), root=root)
        write_record(run_id, chapter, params, command, root)
