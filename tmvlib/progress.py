"""Progress bars for long loops, silenced in book builds.

A person running a chapter live wants to see progress; the rendered book does not. ``tmv``
sets ``TMV_PROGRESS=0`` while it executes chapters, which turns every bar off whatever the
caller asked.
"""
from __future__ import annotations

import os

from tqdm.auto import tqdm


def progress_enabled(requested: bool = True) -> bool:
    """``requested`` unless ``TMV_PROGRESS=0`` is set."""
    return requested and os.environ.get("TMV_PROGRESS", "1") != "0"


def progress_bar(iterable=None, enabled: bool = True, **kwargs) -> tqdm:
    """``tqdm`` (notebook-aware) that honours :func:`progress_enabled`."""
    return tqdm(iterable, disable=not progress_enabled(enabled), **kwargs)
