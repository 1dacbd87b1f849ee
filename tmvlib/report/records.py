"""Writers of report records: JSON-safe values and one audited case as PNG + JSON."""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic import atomic_write, atomic_write_bytes, atomic_write_text


def json_safe(value):
    """``value`` with numpy / pandas scalars as Python numbers, NaN / NA as None, tuples and
    arrays as lists and mapping keys as strings, so that ``json.dumps(..., allow_nan=False)``
    accepts it."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, np.ndarray, pd.Series)):
        return [json_safe(v) for v in (sorted(value) if isinstance(value, set) else value)]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    return value


def write_case(directory: str | Path, image_id: str, png, record: Mapping,
               dpi: int = 110) -> tuple[Path, Path]:
    """Write one audited case as ``<directory>/<image_id>.png`` and ``<image_id>.json``.

    Args:
        png: the case's figure, as PNG bytes (e.g. ``tmvlib.report.failure_figures.
            figure_png``, so a figure shown in the book is rendered once) or a matplotlib
            Figure (saved at ``dpi``, then closed).
        record: every number, the metadata, observations and reasons; written through
            :func:`json_safe`, indented, NaN as null.

    Returns:
        (png path, json path).
    Raises:
        ValueError: an image id that is not a plain file name.
    """
    if not image_id or "/" in image_id or image_id.startswith("."):
        raise ValueError(f"image id must be a plain file name, got {image_id!r}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    png_path, json_path = directory / f"{image_id}.png", directory / f"{image_id}.json"
    if isinstance(png, (bytes, bytearray)):
        atomic_write_bytes(png_path, bytes(png))
    else:
        import matplotlib.pyplot as plt

        atomic_write(png_path, lambda tmp: png.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png"))
        plt.close(png)
    atomic_write_text(json_path, json.dumps(json_safe(dict(record)), indent=2, allow_nan=False) + "\n")
    return png_path, json_path


def clear_cases(directory: str | Path) -> int:
    """Remove the ``*.png`` and ``*.json`` of an earlier audit from ``directory`` (a rerun with
    other params must not leave stale cases beside the new ones); returns how many files."""
    directory = Path(directory)
    removed = 0
    for path in list(directory.glob("*.png")) + list(directory.glob("*.json")):
        path.unlink()
        removed += 1
    return removed
