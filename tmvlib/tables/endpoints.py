"""The pre-specified comparisons of chapters 06 and 07: one primary endpoint and a declared
secondary family, each a **paired** patient-bootstrap interval of a difference.

Declared in ``book/methodology.md`` before the chapters report them:

- **Primary endpoint** (:data:`PRIMARY`): on NIH test, the paired difference in AURC
  (``tmvlib.metrics.selective.aurc``) between the combined trust score (decision-aligned
  confidence + explanation instability, fitted on validation) and the decision-aligned
  confidence alone (``tmvlib.metrics.confidence.decision_uncertainty``). AURC rather than E-AURC:
  on the same images the two differ by the oracle AURC, which depends only on the errors, so the
  *difference* is the same under either; AURC is the one with a direct reading (mean error rate
  over coverages). Reported with the minimum detectable difference at 80% power.
- **Secondary family** (:data:`SECONDARY`), Holm-corrected together (``metrics.paired.holm``):
  the same AURC difference on the external set; error-detection AUROC differences on NIH test
  (combined, TTA explanation instability and the prediction's own TTA flip rate, each against
  the decision-aligned confidence); and the AURC of the decision-aligned confidence against the
  threshold-free ``1 - max(p, 1-p)``.
- **Sensitivity analysis** (:data:`SENSITIVITY`), declared, outside the family: the primary
  comparison in AUGRC (``tmvlib.metrics.selective.augrc``, Traub et al. 2024), which counts every
  error once whatever its rank where AURC weighs the most confident cases most. The two scores
  are compared on the same predictions, so the errors are the same and the e-AUGRC difference
  equals the AUGRC difference. The primary endpoint stays the AURC difference. And the primary
  endpoint and S3 without the NIH test images whose TTA Grad-CAM was constant (blank): a blank
  map's instability is a fill (the validation maximum), so "unstable" partly means "blank".

An error is ``~correct`` (the prediction at the run's decision threshold differs from the label).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..metrics.discrimination import auroc
from ..metrics.paired import PairedDifference, holm_family, paired_bootstrap
from ..contracts.scores import (DECISION_UNCERTAINTY, DISTANCE_TO_HALF, TTA_CONSTANT_MAP, TTA_FLIP_RATE,
                               TTA_INSTABILITY)
from ..metrics.frames import errors_and_patients, score_array
from .error_detection import error_augrc, error_aurc

COMBINED = "combined"
COMBINED_FEATURES = (DECISION_UNCERTAINTY, TTA_INSTABILITY)  # what chapter 06 fits the combined score on


@dataclass(frozen=True)
class Comparison:
    """One declared comparison: ``a - b`` in ``quantity`` (``"AURC"`` or ``"AUGRC"``, lower is
    better, or ``"error-detection AUROC"``, higher is better) on the images of ``set`` (without
    those whose TTA Grad-CAM was constant, when ``without_constant_maps``)."""

    name: str
    quantity: str
    a: str
    b: str
    set: str
    without_constant_maps: bool = False  # leave out the images whose TTA Grad-CAM was constant (blank)

    @property
    def lower_is_better(self) -> bool:
        """AURC and AUGRC: lower is better; an error-detection AUROC: higher is better."""
        return self.quantity in ("AURC", "AUGRC")


PRIMARY = Comparison("primary", "AURC", COMBINED, DECISION_UNCERTAINTY, "test")
SECONDARY = (
    Comparison("S1", "AURC", COMBINED, DECISION_UNCERTAINTY, "external"),
    Comparison("S2", "error-detection AUROC", COMBINED, DECISION_UNCERTAINTY, "test"),
    Comparison("S3", "error-detection AUROC", TTA_INSTABILITY, DECISION_UNCERTAINTY, "test"),
    Comparison("S4", "error-detection AUROC", TTA_FLIP_RATE, DECISION_UNCERTAINTY, "test"),
    Comparison("S5", "AURC", DECISION_UNCERTAINTY, DISTANCE_TO_HALF, "test"),
)
SENSITIVITY = (
    Comparison("primary (AUGRC)", "AUGRC", COMBINED, DECISION_UNCERTAINTY, "test"),
    Comparison("primary (no blank maps)", "AURC", COMBINED, DECISION_UNCERTAINTY, "test", without_constant_maps=True),
    Comparison("S3 (no blank maps)", "error-detection AUROC", TTA_INSTABILITY, DECISION_UNCERTAINTY, "test",
               without_constant_maps=True),
)


def _statistic(errors, quantity: str):
    """``values -> (rows, weights) -> quantity`` of deferring by (or detecting ``errors`` with)
    the score ``values``."""
    if quantity == "AURC":
        def stat(values):
            return lambda rows, w: error_aurc(errors[rows], values[rows], w)
    elif quantity == "AUGRC":
        def stat(values):
            return lambda rows, w: error_augrc(errors[rows], values[rows], w)
    elif quantity == "error-detection AUROC":
        def stat(values):
            return lambda rows, w: auroc(errors[rows], values[rows], sample_weight=w)
    else:
        raise ValueError(f"unknown quantity {quantity!r}; use 'AURC', 'AUGRC' or 'error-detection AUROC'")
    return stat


def paired_score_difference(frame: pd.DataFrame, a: str, b: str, quantity: str,
                            n_boot: int = 1000, seed: int = 0) -> PairedDifference:
    """Paired patient-bootstrap interval of ``quantity(a) - quantity(b)`` on the rows of ``frame``.

    Args:
        frame: per-image rows with ``correct``, ``patient_id`` and the score columns ``a``, ``b``
            (higher = less trustworthy).
        quantity: ``"AURC"`` or ``"AUGRC"`` (of deferring by the score), or ``"error-detection
            AUROC"``.
    Returns:
        ``tmvlib.metrics.paired.PairedDifference``.
    Raises:
        ValueError: no error or no correct prediction, a non-finite score, an unknown quantity.
    """
    errors, patients = errors_and_patients(frame, f"{quantity} of {a!r} vs {b!r}")
    stat = _statistic(errors, quantity)
    return paired_bootstrap(stat(score_array(frame, a, a)), stat(score_array(frame, b, b)), patients,
                            n_boot=n_boot, seed=seed)


def score_difference(frame: pd.DataFrame, a: str, b: str, quantity: str) -> float:
    """The point estimate of :func:`paired_score_difference` (no resampling): ``quantity(a) -
    quantity(b)`` on every row of ``frame``."""
    errors, _ = errors_and_patients(frame, f"{quantity} of {a!r} vs {b!r}")
    stat = _statistic(errors, quantity)
    rows, weights = np.arange(len(frame)), np.ones(len(frame))
    return float(stat(score_array(frame, a, a))(rows, weights) - stat(score_array(frame, b, b))(rows, weights))


def comparison_rows(per_image: pd.DataFrame, comparison: Comparison) -> pd.DataFrame:
    """The rows a declared comparison is measured on: its ``set``'s, without the images whose TTA
    Grad-CAM was constant when it says so."""
    rows = per_image[per_image["set"] == comparison.set]
    return rows[~rows[TTA_CONSTANT_MAP].astype(bool)] if comparison.without_constant_maps else rows


def endpoint_table(per_image: pd.DataFrame, n_boot: int = 1000, seed: int = 0,
                   primary: Comparison = PRIMARY, secondary: tuple[Comparison, ...] = SECONDARY,
                   sensitivity: tuple[Comparison, ...] = SENSITIVITY) -> pd.DataFrame:
    """The primary endpoint, the secondary family and the declared sensitivity analyses, one row
    each.

    Args:
        per_image: chapter 06's per-image trust scores of every set (``set`` column) with the
            combined score as column ``combined``.
    Returns:
        rows ``comparison, role`` (``primary`` | ``secondary`` | ``sensitivity``), ``quantity, set,
        a, b, value,
        low, high`` (of ``a - b``), ``a_value, b_value, se, p_value, mdd`` (minimum detectable
        difference, 80% power), ``p_holm`` (Holm-adjusted within the secondary family; NaN for
        the primary), ``lower_is_better``.
    """
    rows = []
    for role, comparisons in (("primary", (primary,)), ("secondary", secondary), ("sensitivity", sensitivity)):
        for c in comparisons:
            d = paired_score_difference(comparison_rows(per_image, c), c.a, c.b, c.quantity, n_boot=n_boot,
                                        seed=seed)
            rows.append(d.row(comparison=c.name, role=role, quantity=c.quantity, set=c.set, a=c.a, b=c.b,
                              lower_is_better=c.lower_is_better))
    table = pd.DataFrame(rows)
    table = holm_family(table, family=table["role"] == "secondary")
    return table[["comparison", "role", "quantity", "set", "a", "b", "value", "low", "high", "a_value",
                  "b_value", "se", "p_value", "p_holm", "mdd", "lower_is_better", "p_method", "p_mc_error",
                  "p_holm_mc_error", "family_size"]]


def endpoint_row(table: pd.DataFrame, comparison: str) -> Mapping:
    """The row of :func:`endpoint_table` named ``comparison`` (e.g. ``"primary"``, ``"S3"``)."""
    return table.set_index("comparison").loc[comparison]
