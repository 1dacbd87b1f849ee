"""How the report writes an estimate with its interval: one formatter for every chapter, table,
card and verdict (:func:`interval_text`, :func:`bounds_text`).

At the bottom layer so that :class:`tmvlib.metrics.bootstrap.Interval` and the trust card format
intervals as the prose does; :mod:`tmvlib.report.wording` builds its sentences on these.
"""
from __future__ import annotations

import math


def is_missing(x) -> bool:
    """Whether ``x`` is None, NaN or not a number."""
    try:
        return x is None or math.isnan(float(x))
    except (TypeError, ValueError):
        return True


def interval_text(value: float, low: float, high: float, digits: int = 3, signed: bool = False,
                  percent: bool = False, missing: str = "-") -> str:
    """``value [low, high]``, e.g. ``0.812 [0.771, 0.850]``.

    Args:
        digits: decimals (of the percentage when ``percent``).
        signed: a sign on every number (``+0.031 [-0.004, +0.066]``), for differences.
        percent: numbers as percentages (``61% [53%, 70%]``).
        missing: the text when the value is missing (NaN or None).
    Returns:
        the text; with a missing bound (a degenerate bootstrap) the value alone.
    """
    if is_missing(value):
        return missing
    spec = f"{'+' if signed else ''}.{digits}{'%' if percent else 'f'}"
    if is_missing(low) or is_missing(high):
        return format(value, spec)
    return f"{value:{spec}} [{low:{spec}}, {high:{spec}}]"


def bounds_text(low: float, high: float, digits: int = 3, missing: str = "-") -> str:
    """An interval without its estimate, ``[low, high]`` (e.g. ``[0.012, 0.094]``), for a table
    that shows the estimate in a column of its own; ``missing`` when a bound is missing."""
    if is_missing(low) or is_missing(high):
        return missing
    return f"[{low:.{digits}f}, {high:.{digits}f}]"
