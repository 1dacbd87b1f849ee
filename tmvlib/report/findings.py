"""Findings of chapters 02-05 and 08 in words, from their tables, so the prose claims no more
than the intervals show. Each function returns the exact sentence fragment a chapter glues."""
from __future__ import annotations

from collections.abc import Mapping

from .wording import interval_overlap, interval_text, position


def calibration_change(raw: Mapping, scaled: Mapping) -> str:
    """``0.123 → 0.045, lower: yes``: an ECE before and after temperature scaling (rows with
    ``value, low, high``); "intervals overlap: inconclusive" when their intervals overlap."""
    if interval_overlap(raw["low"], raw["high"], scaled["low"], scaled["high"]):
        verdict = "intervals overlap: inconclusive at this sample size"
    else:
        verdict = "lower: yes" if scaled["value"] < raw["value"] else "higher: no"
    return f"{raw['value']:.3f} → {scaled['value']:.3f}, {verdict}"


def calibration_comparison(ensemble: Mapping, mc: Mapping) -> str:
    """The ECE of the ensemble against MC dropout (rows with ``value, low, high``) in words."""
    if interval_overlap(ensemble["low"], ensemble["high"], mc["low"], mc["high"]):
        verdict = "intervals overlap: inconclusive"
    elif ensemble["value"] < mc["value"]:
        verdict = "the ensemble is better calibrated"
    else:
        verdict = "MC dropout is better calibrated"
    return f"ensemble {ensemble['value']:.3f} vs MC dropout {mc['value']:.3f}; {verdict}"


def shift_verdict(low: float, high: float) -> str:
    """An AUROC interval of "external vs test" for an uncertainty score against chance (0.5)."""
    return {"above": "rises on the external set", "below": "falls on the external set",
            "includes": "does not separate the sets"}[position(low, high, 0.5)]


def chance_verdict(low: float, high: float) -> str:
    """An excess over chance (a paired difference interval) against 0, in words."""
    return {"above": "above chance", "below": "below chance",
            "includes": "not distinguishable from chance at this sample size"}[position(low, high, 0.0)]


def heat_text(row: Mapping, digits: int = 2) -> str:
    """``0.60 [0.55, 0.64] (area 0.48)``: a region's share of the heat and of the image area."""
    return f"{interval_text(row['value'], row['low'], row['high'], digits)} (area {row['area']:.2f})"


def border_shift(test: Mapping, external: Mapping) -> str:
    """Whether the border's share of heat differs between the NIH test and external images
    (rows with ``low, high``), read from non-overlapping intervals."""
    if external["low"] > test["high"]:
        return ("more of the heat sits on the border of the external images than of the NIH images "
                "(intervals do not overlap)")
    if external["high"] < test["low"]:
        return "less heat sits on the border of the external images"
    return "the border's share of heat does not differ between the sets at this sample size"


def differences_text(differences, none: str) -> str:
    """The rows of a paired-difference table (``quantity, value, low, high``) whose interval
    excludes 0, as ``quantity: +0.031 [+0.004, +0.066]; ...``; ``none`` when there is none."""
    seen = differences[(differences["low"] > 0) | (differences["high"] < 0)]
    if seen.empty:
        return none
    return "; ".join(f"{q}: {interval_text(v, lo, hi, signed=True)}" for q, v, lo, hi in
                     seen[["quantity", "value", "low", "high"]].itertuples(index=False))


def ood_error_verdict(row: Mapping) -> str:
    """Error rates of flagged vs unflagged external images (a ``flag_table`` row with
    ``difference, difference_low, difference_high``) in words."""
    if row["difference"] != row["difference"]:  # NaN: one of the two groups is empty
        return "no flagged or no unflagged Kermany image, so nothing to compare"
    return {"above": "flagged Kermany predictions are wrong more often than unflagged ones",
            "below": "flagged Kermany predictions are wrong *less* often than unflagged ones",
            "includes": "the error rates of flagged and unflagged Kermany predictions cannot be told "
                        "apart at this sample size"}[position(row["difference_low"], row["difference_high"])]


def sanity_text(verdict: Mapping) -> str:
    """The cascading-randomisation verdict (:func:`tmvlib.tables.explanation.sanity_verdict`) in
    words: passes / FAILS with the worst and the final median |Spearman|."""
    return (("passes" if verdict["passed"] else "FAILS") + f": the highest median |Spearman| after any "
            f"randomisation step is {verdict['worst_median']:.2f} (after randomising down to "
            f"{verdict['worst_step']}); with every layer random it is {verdict['final_median']:.2f}")


def ood_rates_text(row: Mapping) -> dict[str, str]:
    """A :func:`tmvlib.tables.ood.flag_table` row as percentages with intervals: the share of
    images flagged and the error rates of flagged and unflagged images, keyed as the chapter's
    table columns."""
    def pct(key: str) -> str:
        return interval_text(row[key], row[f"{key}_low"], row[f"{key}_high"], digits=0, percent=True)
    return {"flagged": interval_text(row["flag_rate"], row["flag_low"], row["flag_high"], digits=0, percent=True),
            "error rate, flagged": pct("error_flagged"), "error rate, not flagged": pct("error_unflagged")}


def wrong_card_text(record: Mapping | None) -> str:
    """What the trust card of the most confident wrong prediction says, in words."""
    if record is None:
        return "there is no wrong NIH test prediction in this run"
    warned = (": the card flags it" if record["warnings"] else
              ": nothing on the card warns the reader, which is what the danger zone means")
    return (f"the most confident wrong NIH test prediction lands in the cell '{record['trust']['cell']}' with "
            f"{len(record['warnings'])} warning(s)" + warned)


def shifted_card_text(record: Mapping | None) -> str:
    """What the trust card of a typical external (Kermany) image says, in words."""
    if record is None:
        return "no Kermany image in this run"
    return f"the typical Kermany image is marked '{record['status']}' with {len(record['warnings'])} warning(s)"
