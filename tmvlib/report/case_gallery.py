"""The failure-audit gallery of chapter 07: each audited case rendered once as a PNG (shown in the
book as JPEG, written to ``failure_cases/`` as PNG), an overview table of the cases, and the
galleries of the cases a rule picked.

A case's figure is :func:`tmvlib.report.failure_figures.failure_case_grid` of its radiograph,
Grad-CAM, Score-CAM and TTA spread with the text panel of
:func:`tmvlib.report.failure_figures.case_text`; its record comes from
:func:`tmvlib.tables.cases.case_record`.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from ..tables.cases import CaseMaps
from .failure_figures import case_text, failure_case_grid, figure_png, png_to_jpeg


def spread_scale(spread: np.ndarray, q: float = 0.99) -> float:
    """Top of the one colour scale of every case's TTA spread: the ``q`` quantile of the finite
    values of ``spread`` (N,S,S); 1.0 when there is none."""
    finite = spread[np.isfinite(spread)]
    return float(np.quantile(finite, q)) if finite.size else 1.0


def case_pngs(records: Sequence[Mapping], images: torch.Tensor, maps: CaseMaps, spread: np.ndarray,
              box_of: Mapping[str, list], spread_max: float, scorecam_top_k: int) -> list[bytes]:
    """The PNG of each case, in record order.

    Args:
        records: the case records (``image_id``, ``observations`` and the numbers of
            ``case_text``). images: uint8 (N,1,S,S) in the same order; maps: their Grad-CAM and
            Score-CAM (``scorecam_stored`` names where each Score-CAM came from); spread:
            (N,S,S) TTA spread, drawn 0 to ``spread_max``.
        box_of: image id -> radiologist boxes (x, y, w, h) at S px.
    """
    texts = [case_text(r, [o["text"] for o in r["observations"]]) for r in records]
    notes = ["ch. 05, exact" if s else f"top-{scorecam_top_k}, computed here" for s in maps.scorecam_stored]
    return [figure_png(failure_case_grid(images[[k], 0].numpy(), maps.gradcam[[k]], maps.scorecam[[k]], spread[[k]],
                                         [texts[k]], boxes=[box_of.get(r["image_id"], [])],
                                         scorecam_notes=[notes[k]], spread_max=spread_max))
            for k, r in enumerate(records)]


def case_overview(records: Sequence[Mapping], uncertainty_score: str, instability_score: str):
    """One row per case (``image_id, set, reasons, label, p``, the two quadrant scores under
    their names, ``view``, the rules that fired), rounded to 3 decimals; a Markdown note when no
    case was selected."""
    from IPython.display import Markdown

    overview = pd.DataFrame([{"image_id": r["image_id"], "set": r["set"], "reasons": ", ".join(r["reasons"]),
                              "label": r["label"], "p": r["prob"], uncertainty_score: r["uncertainty"],
                              instability_score: r["instability"], "view": r["view"],
                              "observations": "; ".join(o["rule"] for o in r["observations"])} for r in records])
    return overview.round(3) if len(overview) else Markdown("*No case was selected in this run.*")


def show_cases(records: Sequence[Mapping], pngs: Sequence[bytes], reason: str, cap: int | None = None) -> int:
    """Display (as JPEG) the rendered cases a rule picked (``reason`` in their ``reasons``), at
    most ``cap`` of them, in record order; returns how many the rule picked."""
    from IPython.display import Image, display

    picked = [k for k, r in enumerate(records) if reason in r["reasons"]]
    for k in picked[:cap]:
        display(Image(data=png_to_jpeg(pngs[k]), format="jpeg"))  # JPEG in the book; failure_cases/ keeps the PNG
    return len(picked)
