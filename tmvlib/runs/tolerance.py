"""How far a value of a run may move before it counts as moved: one tolerance per quantity kind.

A value's **kind** is decided by its key (:mod:`tmvlib.runs.values`: chapter, file, row, column or
glue name) against :data:`CI_KINDS`, first match wins. A kind is either ignored, exact, or a float
tolerance ``abs + rel * |reference|``. Run times, host facts and paths (:data:`VOLATILE`) differ on
every run and are never compared, whatever the tolerance.
Integers, booleans and the words of a text are exact whatever the kind; the numbers written
inside a text (a glued ``0.525 [0.385, 0.663]``) get their kind's tolerance plus one unit of their
last printed digit (a value that moved by less than the tolerance can still round the other way).

The float tolerances of :data:`CI_KINDS` are sized for the ``ci`` profile's book rerun on another
host: they are at least twice the largest move measured between ci books that reorder float
reductions without changing the algorithm (1 vs 2 torch threads; the AVX2 code paths of ATen,
oneDNN and MKL against the AVX-512/AMX ones), and well below the smallest move the numeric
regression must catch (0.02 on an AUROC). The measurements, and a test that keeps these numbers
above them, are in ``tests/notebooks/test_regression.py``.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Tolerance:
    """A kind of quantity and how far its floats may move: ``|new - ref| <= abs + rel * |ref|``;
    ``ignored``: not compared at all."""

    kind: str
    abs: float = 0.0
    rel: float = 0.0
    ignored: bool = False

    def allows(self, reference: float, new: float, unit: float = 0.0) -> bool:
        """Whether ``new`` is within this tolerance of ``reference`` (plus ``unit``: one unit of
        the last printed digit, for numbers read from text)."""
        return abs(new - reference) <= self.abs + self.rel * abs(reference) + unit * 1.000001


EXACT = Tolerance("exact")
IGNORED = Tolerance("ignored", ignored=True)

# Each kind's float tolerance (module docstring; measured spreads in tests/notebooks/test_regression.py).
AUROC = Tolerance("auroc-like (AUROC, AUPRC, AURC, rank correlations, rates, shares)", abs=0.008)
CALIBRATION = Tolerance("calibration (ECE, Brier, NLL, temperatures)", abs=0.005, rel=0.005)
P_VALUE = Tolerance("p-value", abs=0.03)
PROBABILITY = Tolerance("per-image probability, logit and uncertainty score", abs=0.02, rel=0.01)
EXPLANATION = Tolerance("explanation metric (IoU, energy, Spearman of maps, instability, shifts)",
                        abs=0.025, rel=0.02)
DEFAULT = Tolerance("other float", abs=0.006, rel=0.01)

# What differs on every run and every machine, never compared: run times, host facts, paths,
# whether a checkpoint was reused from an earlier run of the folder, and the sha256 of a
# checkpoint file (torch.save writes equal weights to different bytes; the weights themselves are
# compared tensor by tensor).
VOLATILE = re.compile(
    r"(?i)(seconds|_ms$|_s$|speedup|images_per_s|img/s|\| ratio$|\| fastest$|n_threads|bf16_cpu|bf16_fast"
    r"|data_root|(\| |\.)path$|finished|timing|\| (baseline_)?reused$|\.json \| sha256$)")

# (regular expression searched in a value's quantity name, tolerance); first match wins. The
# quantity name (:func:`quantity_name`) is the glue name, JSON field or table column, with the
# row's metric or quantity for long tables ("value metric=ece").
CI_KINDS: tuple[tuple[str, Tolerance], ...] = (
    # how closely two computations of the same thing agree (each asserted by its notebook)
    (r"^(logit_agreement|worst_difference|gradcam_drift)$", IGNORED),
    (r"(?i)(p_value|p_holm|^mc_p$)", P_VALUE),
    (r"(?i)(auroc|auprc|aurc)", AUROC),
    (r"(?i)(logit|prob|1 - max|confidence|uncertainty|entropy|mutual|variance|margin|^combined$)",
     PROBABILITY),
    (r"(?i)(ece|brier|nll|temperature|^T_|^baseline$|^MC dropout$|^ensemble$|floor_|platt|isotonic"
     r"|prior_shift|calibrat)", CALIBRATION),
    ((r"(?i)(iou|dice|pointing|energy|spearman|ssim|instab|com_|shift|border|corner|lung|mediastinum"
      r"|deletion|insertion|faith|heat_|sanity|agree|rho|peak|area|excess|localis|regions|tta_spread)"),
     EXPLANATION),
    (r"(?i)(det_|sens|spec|rate|share|coverage|flip|error|danger|div_|detect)", AUROC),
)
# Columns that hold a measure of the quantity the row names (long tables: one row per metric).
GENERIC_COLUMNS = ("value", "low", "high", "estimate", "a_value", "b_value", "se", "mdd", "interval")


def quantity_name(key: str) -> str:
    """What a value measures, for choosing its kind: the key's last part (glue name, JSON field,
    column) and, for a generic column of a long table (``value``, ``low``...), the row's
    ``metric``, ``quantity`` or ``comparison``."""
    parts = key.split(" | ")
    name = parts[-1].split(".")[-1]
    if name in GENERIC_COLUMNS and len(parts) >= 4:
        row = dict(item.split("=", 1) for item in parts[-2].strip("[]").split(", ") if "=" in item)
        for column in ("metric", "quantity", "comparison", "score"):
            if column in row:
                return f"{name} {column}={row[column]}"
    return name


def volatile(key: str) -> bool:
    """Whether the value named ``key`` differs on every run (:data:`VOLATILE`)."""
    return bool(VOLATILE.search(key))


def ci_tolerance(key: str) -> Tolerance:
    """The tolerance of the value named ``key`` under :data:`CI_KINDS` (:data:`DEFAULT` when no
    rule matches)."""
    if volatile(key):
        return IGNORED
    name = quantity_name(key)
    for pattern, tolerance in CI_KINDS:
        if re.search(pattern, name):
            return tolerance
    return DEFAULT


def uniform(atol: float = 0.0, rtol: float = 0.0) -> Callable[[str], Tolerance]:
    """One tolerance for every key but the volatile ones (``tmv compare --atol/--rtol``; exact
    by default)."""
    tolerance = EXACT if not (atol or rtol) else Tolerance(f"atol {atol:g}, rtol {rtol:g}", abs=atol, rel=rtol)
    return lambda key: IGNORED if volatile(key) else tolerance


exact = uniform()  # every value but the volatile ones exactly (``tmv compare``'s default)
