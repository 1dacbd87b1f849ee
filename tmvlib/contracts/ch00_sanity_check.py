"""Chapter 00, sanity check: versions, hardware paths, data files and split reproducibility."""
from __future__ import annotations

from dataclasses import dataclass

from .base import RUN_ID, param

CHAPTER = "00_sanity_check"


@dataclass(frozen=True)
class Params:
    """Parameters of chapter 00 (``params/default/00_sanity_check.yaml`` lists the same defaults)."""

    run_id: str = param("default", RUN_ID)
    data_root: str | None = param(None, "prepared data folder; None: TMV_DATA, then ../shared/data "
                                        "beside the checkout, then data/")


READS_PARAMS: dict[str, tuple[str, ...]] = {}
READS_CHAPTERS: tuple[str, ...] = ()  # reads only the prepared data
