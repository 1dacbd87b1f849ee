"""Candidate failure modes: the properties an image can have that might make an error likelier.

One registry, :data:`FAILURE_MODES` (display name -> flag key), and one rule per flag,
:func:`failure_mode_flags`, used by chapter 07 (which tests each mode: error rate with vs without
it, :func:`tmvlib.tables.failure_audit.failure_mode_table`) and by the trust card (which warns
when a mode that chapter 07 supported applies to a new image: the card's flag keys are the
``column`` values of ``failure_modes.parquet``).

The flags of one image (True: it shows the mode; False: it does not; None: the mode does not
apply or cannot be told):

- ``edge``: the Grad-CAM maximum lies on the border band or in a corner
  (``tmvlib.explain.regions.EDGE_REGIONS``); None when the peak region is unknown;
- ``ap``: the film is anterior-posterior; None when the view is unknown;
- ``unstable``: the explanation is unstable (above the validation cut of chapter 07);
- ``low_confidence``: the prediction is uncertain (above the validation cut);
- ``external``: the image comes from another population (chapter 07: the external set; the
  card: an input check flagged it out of distribution).

In chapter 07 the first four are compared within the NIH test images only (so they are None
on external images) and ``external`` compares the external images with NIH test
(:func:`failure_mode_frame`).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from ..explain.regions import EDGE_REGIONS
from ..metrics.frames import require_columns
from .curate import decision_margin
from .failure_audit import failure_mode_table

FAILURE_MODES = {"heat peak on border/corners": "edge", "AP view": "ap",
                 "unstable explanation": "unstable", "low confidence": "low_confidence",
                 "external population": "external"}
# Flags compared within the NIH test images only (left out, None, on another population).
WITHIN_TEST = ("edge", "ap", "unstable", "low_confidence")
# The modes judged within one NIH set: the only ones the trust card may warn about (nothing a
# card shows is fitted on external labels; another population is the out-of-distribution check's).
NIH_MODES = {name: key for name, key in FAILURE_MODES.items() if key in WITHIN_TEST}
SCOPE_TEST, SCOPE_POOLED = "NIH test", "NIH test + external"


def _known(value):
    """``value``, or None where it is missing (None, NaN, NA)."""
    try:
        return None if pd.isna(value) else value
    except (TypeError, ValueError):  # a list or array: present
        return value


def failure_mode_flags(peak_region: str | None, view: str | None, stable: bool, confident: bool,
                       external: bool) -> dict[str, bool | None]:
    """The flags of one image (see the module doc), keyed as :data:`FAILURE_MODES` values.

    Args:
        peak_region: region of the Grad-CAM maximum (``tmvlib.explain.regions.peak_region``)
            or None / NaN. view: ``"AP"``, ``"PA"``, ... or None / NaN.
        stable, confident: the trust-cell sides (``tmvlib.tables.trust_cells``).
        external: the image belongs to another population.
    Returns:
        ``{"edge", "ap", "unstable", "low_confidence", "external"}`` -> Python bool or None.
    """
    peak_region, view = _known(peak_region), _known(view)
    return {"edge": None if peak_region is None else peak_region in EDGE_REGIONS,
            "ap": None if view is None else view == "AP",
            "unstable": not stable, "low_confidence": not confident, "external": bool(external)}


def peak_regions(regions: pd.DataFrame) -> pd.Series:
    """image id -> Grad-CAM peak region, from chapter 04's ``regions_gradcam.parquet`` (columns
    ``image_id, peak_region``; the first row of each image)."""
    require_columns(regions, ["image_id", "peak_region"], "peak_regions")
    return regions.drop_duplicates("image_id").set_index("image_id")["peak_region"]


def failure_mode_frame(test: pd.DataFrame, external: pd.DataFrame | None, peaks: pd.Series,
                       threshold: float) -> pd.DataFrame:
    """NIH rows (test, or validation for the card's table) and external rows with the flag of
    every candidate mode, pooled.

    Args:
        test: NIH rows after :func:`tmvlib.tables.quadrants.assign_quadrants` (``image_id,
            prob, view, stable, confident`` at least). external: external rows (``prob``), or
            None for the NIH rows alone (``external`` False on every row).
        peaks: image id -> Grad-CAM peak region (:func:`peak_regions`); test images without
            one get ``edge`` None.
        threshold: chapter 02's decision threshold.
    Returns:
        ``test`` rows then ``external`` rows (new index), each with ``edge, ap, unstable,
        low_confidence, external`` (:func:`failure_mode_flags` on test rows; on external rows
        the within-test flags are None and ``external`` is True) and ``decision_margin``
        (``tmvlib.tables.curate.decision_margin`` of ``prob``).
    """
    require_columns(test, ["image_id", "prob", "view", "stable", "confident"], "failure_mode_frame (test)")
    external = test.iloc[:0] if external is None else external
    require_columns(external, ["prob"], "failure_mode_frame (external)")
    test_flags = [failure_mode_flags(peaks.get(image_id), view, stable, confident, False)
                  for image_id, view, stable, confident in
                  zip(test["image_id"], test["view"], test["stable"], test["confident"])]
    test_modes = test.copy()
    for key in FAILURE_MODES.values():
        test_modes[key] = pd.Series([f[key] for f in test_flags], index=test.index, dtype=object)
    ext_modes = external.copy()
    for key in FAILURE_MODES.values():
        ext_modes[key] = pd.Series([None if key in WITHIN_TEST else True] * len(external),
                                   index=external.index, dtype=object)
    pooled = pd.concat([test_modes, ext_modes], ignore_index=True)
    pooled["decision_margin"] = decision_margin(pooled["prob"], threshold)
    return pooled


def mode_scope(column: str, within: str = SCOPE_TEST) -> str:
    """Which images a mode is compared on: ``"<within> + external"`` for ``external``, else
    ``within`` (``"NIH test"``, or ``"NIH validation"`` for the table the trust card reads)."""
    return f"{within} + external" if column == "external" else within


def candidate_failure_modes(pooled: pd.DataFrame, n_boot: int = 1000, seed: int = 0,
                            min_images: int = 10, prefer: Iterable[str] = (),
                            n_examples: int = 3, within: str = SCOPE_TEST,
                            modes: Mapping[str, str] = FAILURE_MODES) -> pd.DataFrame:
    """Chapter 07's failure-mode table: :func:`tmvlib.tables.failure_audit.failure_mode_table`
    of every mode of ``modes`` (default :data:`FAILURE_MODES`; the card's table:
    :data:`NIH_MODES`) on ``pooled`` (:func:`failure_mode_frame`; examples ranked by the decision
    margin, the audited cases ``prefer`` first), plus ``scope`` (:func:`mode_scope` with
    ``within``, the NIH set the rows come from)."""
    table = failure_mode_table(pooled, dict(modes), n_boot=n_boot, seed=seed,
                               min_images=min_images, n_examples=n_examples, prefer=prefer,
                               rank_by="decision_margin")
    table["scope"] = [mode_scope(c, within) for c in table["column"]]
    return table
