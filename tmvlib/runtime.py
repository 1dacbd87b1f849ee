"""Process-level tuning for CPU inference and training.

glibc serves blocks above its mmap threshold (at most 32 MB by default, adapted upwards) with
``mmap`` and unmaps them on ``free``, so every large activation tensor is page-faulted in
again at the next batch. On a 2-core machine that was half of the run time, spent in the
kernel (``make bench`` shows the before/after). Raising the mmap and trim thresholds keeps
freed memory in the heap for reuse. Linux/glibc only; elsewhere this is a no-op.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_tuned: bool | None = None


def tune_cpu_allocator(mmap_threshold: int = 1 << 30, trim_threshold: int = 2**31 - 1) -> bool:
    """Raise glibc's mmap/trim thresholds once per process; returns whether it took effect."""
    global _tuned
    if _tuned is not None:
        return _tuned
    _tuned = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _tuned = bool(libc.mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and bool(
                libc.mallopt(_M_TRIM_THRESHOLD, trim_threshold))
        except (OSError, AttributeError):  # musl or another libc without mallopt
            _tuned = False
    return _tuned
