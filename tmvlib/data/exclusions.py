"""A ledger of what each step leaves out, so that nothing is dropped silently."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass
class Exclusions:
    """Rows removed by each step: ``step``, ``reason``, images, patients and example ids."""

    rows: list[dict] = field(default_factory=list)

    def drop(self, frame: pd.DataFrame, mask: pd.Series, step: str, reason: str) -> pd.DataFrame:
        """Return ``frame[~mask]`` and record what ``mask`` removed (a zero count is recorded too)."""
        removed = frame[mask]
        self.rows.append({
            "step": step, "reason": reason, "images": int(len(removed)),
            "patients": int(removed["patient_id"].nunique()) if "patient_id" in removed else 0,
            "examples": ", ".join(removed["image_id"].astype(str).head(3)) if "image_id" in removed else "",
        })
        return frame[~mask]

    def to_frame(self) -> pd.DataFrame:
        """One row per exclusion step: ``step, reason, images, patients, examples``."""
        return pd.DataFrame(self.rows, columns=["step", "reason", "images", "patients", "examples"])
