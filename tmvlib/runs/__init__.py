"""A run's integrity: one writer at a time (:mod:`.lock`) and completion records that let a
chapter refuse a missing, interrupted, changed or stale upstream (:mod:`.records`)."""
from .lock import RunLocked, run_lock
from .records import (RunStateError, forget_record, problem, read_record, require_complete,
                      write_record)
from .session import chapter_session

__all__ = ["RunLocked", "RunStateError", "chapter_session", "forget_record", "problem", "read_record",
           "require_complete", "run_lock", "write_record"]
