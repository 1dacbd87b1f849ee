"""Sentences whose wording depends on computed numbers, so the prose never claims more than the run shows.

One formatter for an estimate with its interval (:func:`interval_text`) and one reading of an
interval against a reference value (:func:`position`); chapter prose and tables use these two
rather than formatting ``value [low, high]`` or "above / below chance" by hand.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from ..formatting import bounds_text, interval_text, is_missing
from ..metrics.paired import NORMAL_APPROXIMATION

__all__ = ["Position", "auroc_verdict", "bounds_text", "difference_verdict", "holm_text", "interval_column",
           "interval_text", "p_details", "p_text", "paired_text", "position", "versus_chance"]

Position = Literal["above", "below", "includes"]


def position(low: float, high: float, reference: float = 0.0) -> Position:
    """Where an interval lies against ``reference``: ``"above"`` (low > reference), ``"below"``
    (high < reference), else ``"includes"`` (no difference from the reference that this sample
    can see; a reference on a bound counts as included)."""
    if low > reference:
        return "above"
    if high < reference:
        return "below"
    return "includes"


def interval_column(frame, digits: int = 3, signed: bool = False, percent: bool = False,
                    missing: str = "-", columns: tuple[str, str, str] = ("value", "low", "high")):
    """:func:`interval_text` of every row of a table with ``value, low, high`` columns (or the
    three ``columns`` named): a Series of texts with the table's index."""
    value, low, high = columns
    return frame.apply(lambda r: interval_text(r[value], r[low], r[high], digits, signed, percent,
                                               missing), axis=1)


def versus_chance(low: float, high: float, chance: float = 0.5) -> str:
    """``better than chance`` / ``worse than chance`` / ``no better than chance``: an AUROC
    interval against ``chance`` (short form of :func:`auroc_verdict`)."""
    return {"above": "better than chance", "below": "worse than chance",
            "includes": "no better than chance"}[position(low, high, chance)]


def auroc_verdict(low: float, high: float, chance: float = 0.5) -> str:
    """Describe an AUROC interval against chance: 'no better than chance' when it covers 0.5."""
    where = position(low, high, chance)
    if where == "includes":
        return "no better than chance (its 95% interval includes 0.5)"
    if where == "below":
        return "worse than chance: the model ranks this population's cases backwards"
    return "better than chance"


def paired_text(difference, a: str, b: str, quantity: str, lower_is_better: bool = True,
                missing: str = "cannot be compared (a group lacks a class)", digits: int = 3) -> str:
    """:func:`difference_verdict` of a ``tmvlib.metrics.paired.PairedDifference`` (``a - b``),
    with its minimum detectable difference; ``missing`` when ``difference`` is None."""
    if difference is None:
        return missing
    return difference_verdict(difference.value, difference.low, difference.high, a, b, quantity,
                              lower_is_better=lower_is_better, mdd=difference.minimum_detectable(),
                              digits=digits)


def p_text(p: float) -> str:
    """A p-value as text: ``0.012``, or ``< 0.001``."""
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def holm_text(p_adjusted: float, p_method: str | None = None, mc_error: float | None = None) -> str:
    """``"Holm-adjusted p = 0.012"``, or ``"Holm-adjusted p < 0.001"``, followed by how the p-value
    is known: ``" (Monte Carlo error ±0.004)"`` for a bootstrap p-value with its Monte Carlo
    error (``tmvlib.metrics.paired.p_mc_error``, scaled by the Holm factor), or ``" (normal
    approximation: no bootstrap draw crossed 0)"``."""
    text = "Holm-adjusted p < 0.001" if p_adjusted < 0.001 else f"Holm-adjusted p = {p_adjusted:.3f}"
    if p_method == NORMAL_APPROXIMATION:
        return text + " (normal approximation: no bootstrap draw crossed 0)"
    if mc_error is not None and not is_missing(mc_error):
        return text + (" (Monte Carlo error <0.001)" if mc_error < 0.0005 else f" (Monte Carlo error ±{mc_error:.3f})")
    return text


def _adjusted(row: Mapping) -> float | None:
    """The row's Holm-adjusted p-value, or None outside a corrected family (missing or NaN)."""
    p = row.get("p_holm")
    return None if p is None or p != p else float(p)


def p_details(row: Mapping) -> dict:
    """The keyword arguments of ``difference_verdict`` that describe a family member's p-value:
    ``p_adjusted`` (None outside a corrected family), ``p_method`` and ``p_mc_error`` (the
    adjusted p-value's Monte Carlo error), from a row of ``tmvlib.metrics.paired.holm_family``."""
    adjusted = _adjusted(row)
    if adjusted is None:
        return {"p_adjusted": None}
    method = row.get("p_method")
    return {"p_adjusted": adjusted, "p_method": method if isinstance(method, str) else None,
            "p_mc_error": row.get("p_holm_mc_error")}


def difference_verdict(value: float, low: float, high: float, a: str, b: str, quantity: str,
                       lower_is_better: bool = True, mdd: float | None = None, digits: int = 3,
                       p_adjusted: float | None = None, alpha: float = 0.05, p_method: str | None = None,
                       p_mc_error: float | None = None) -> str:
    """The verdict of a **paired** interval of the difference ``a - b`` in ``quantity``.

    The wording comes from where the interval lies against 0 (and, for a member of a corrected
    family, from the adjusted p-value ``p_adjusted``): "a is lower/higher/no different...".
    A "no difference" states the minimum detectable difference ``mdd`` when given, so it reads
    "no difference larger than about mdd". Examples::

        combined score has a lower AURC than confidence: -0.012 [-0.020, -0.003]
        no measurable difference in AURC between combined score and confidence
        (+0.004 [-0.010, +0.018]; this sample detects differences of about 0.021 or more)
        no difference in AURC between A and B that survives the Holm correction
        (-0.012 [-0.020, -0.001]: the interval excludes 0, but Holm-adjusted p = 0.120)

    The last is the case of a family member whose own (unadjusted) interval excludes 0 while
    its adjusted p-value is not below ``alpha``: no difference is claimed, and the text says
    why, so that an interval off 0 is never read as "no measurable difference". A family
    member's p-value says how it is known (``p_method``, ``p_mc_error``: :func:`holm_text`), and
    its ``mdd`` is at alpha / m (``tmvlib.metrics.paired.holm_family``).
    """
    diff = interval_text(value, low, high, digits, signed=True)
    where = position(low, high, 0.0)
    p_words = None if p_adjusted is None else holm_text(p_adjusted, p_method, p_mc_error)
    note = "" if p_words is None else f"; {p_words}"
    power = (f"; this sample detects differences of about {mdd:.{digits}f} or more"
             if mdd is not None and not is_missing(mdd) else "")
    if where != "includes" and p_adjusted is not None and not p_adjusted < alpha:
        return (f"no difference in {quantity} between {a} and {b} that survives the Holm correction "
                f"({diff}: the interval excludes 0, but {p_words}{power})")
    if where == "includes":
        return f"no measurable difference in {quantity} between {a} and {b} ({diff}{power}{note})"
    higher = where == "above"
    better = higher != lower_is_better
    return (f"{a} has a {'higher' if higher else 'lower'} {quantity} than {b} "
            f"({'better' if better else 'worse'}): {a} - {b} = {diff}{note}")
