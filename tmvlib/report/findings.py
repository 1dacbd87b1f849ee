"""Findings of chapters 02-05 and 08 in words, from their tables, so the prose claims no more
than the intervals show. Each function returns the exact sentence fragment a chapter glues."""
from __future__ import annotations

from collections.abc import Mapping

from .wording import difference_verdict, interval_text, p_details, position


def paired_verdict(row: Mapping, a: str, b: str, quantity: str, lower_is_better: bool = True) -> str:
    """:func:`tmvlib.report.wording.difference_verdict` of a paired-difference row ``a - b``
    (``value, low, high``, ``mdd`` and, in a corrected family, ``p_holm``)."""
    return difference_verdict(row["value"], row["low"], row["high"], a, b, quantity,
                              lower_is_better=lower_is_better, mdd=row.get("mdd"),
                              **p_details(row))


def _descriptive(descriptive: tuple[Mapping, Mapping] | None, quantity: str, joiner: str) -> str:
    if descriptive is None:
        return ""
    first, second = descriptive
    return (f" ({quantity} {interval_text(first['value'], first['low'], first['high'])}{joiner}"
            f"{interval_text(second['value'], second['low'], second['high'])}, descriptive)")


def calibration_change(change: Mapping, before: Mapping, after: Mapping, a: str, b: str,
                       quantity: str = "smooth ECE", descriptive: tuple[Mapping, Mapping] | None = None,
                       descriptive_quantity: str = "smooth ECE") -> str:
    """A calibration error before and after a calibration, with the verdict of their paired
    difference: ``0.081 [0.050, 0.110] → 0.043 [0.010, 0.070]; <verdict>``.

    Args:
        change: a paired-difference row ``a - b`` (``value, low, high``, ``mdd`` and, for a member
            of a corrected family, ``p_holm``), from
            :func:`tmvlib.tables.uncertainty.calibration_changes`.
        before, after: the two levels (rows with ``value, low, high``), uncalibrated then
            calibrated. a, b: names of the calibrated and the uncalibrated predictor.
        quantity: the metric's name in the sentence.
        descriptive: the levels ``(before, after)`` of a second metric shown without a verdict
            (the smooth ECE beside the NLL that decides), named ``descriptive_quantity``.

    Returns:
        The sentence fragment; the verdict is
        :func:`tmvlib.report.wording.difference_verdict` of the paired interval, never a
        comparison of the two marginal intervals.
    """
    levels = (f"{quantity} {interval_text(before['value'], before['low'], before['high'])} → "
              f"{interval_text(after['value'], after['low'], after['high'])}")
    return (f"{levels}{_descriptive(descriptive, descriptive_quantity, ' → ')}; "
            f"{paired_verdict(change, a, b, quantity)}")


def calibration_comparison(change: Mapping, first: Mapping, second: Mapping, a: str = "the ensemble",
                           b: str = "MC dropout", quantity: str = "smooth ECE",
                           descriptive: tuple[Mapping, Mapping] | None = None,
                           descriptive_quantity: str = "smooth ECE") -> str:
    """Two methods' calibration on the same images and their paired verdict:
    ``NLL: the ensemble 0.062 [..] vs MC dropout 0.090 [..]; <verdict>``.

    Args:
        change: paired-difference row of ``a - b`` (as :func:`calibration_change`).
        first, second: the levels of ``a`` and ``b`` (rows with ``value, low, high``).
        descriptive: the two methods' levels of a second metric, shown without a verdict.
    """
    verdict = paired_verdict(change, a, b, quantity)
    return (f"{quantity}: {a} {interval_text(first['value'], first['low'], first['high'])} vs {b} "
            f"{interval_text(second['value'], second['low'], second['high'])}"
            f"{_descriptive(descriptive, descriptive_quantity, ' vs ')}; {verdict}")


def temperature_reading(temperatures: Mapping[str, float], p_values: Mapping[str, float],
                        alpha: float = 0.05) -> str:
    """What each fitted temperature says about the raw probabilities on validation, in words.

    ``T > 1`` shrinks the logits: the raw probabilities were over-confident; ``T < 1`` stretches
    them: under-confident. Each is claimed only when the likelihood-ratio test of ``T = 1``
    (``p_values``, :func:`tmvlib.uncertainty.calibrators.temperature_test`) rejects it at
    ``alpha``; otherwise the temperature is "not distinguishable from 1".

    Returns:
        e.g. ``baseline T = 1.31 (above 1: over-confident on validation, likelihood-ratio p =
        0.004); MC dropout T = 0.97 (not distinguishable from 1, p = 0.71)``.
    """
    parts = []
    for method, t in temperatures.items():
        p = p_values[method]
        shown = "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
        if p < alpha and t > 1:
            reading = f"above 1: over-confident on validation, likelihood-ratio {shown}"
        elif p < alpha and t < 1:
            reading = f"below 1: under-confident on validation, likelihood-ratio {shown}"
        else:
            reading = f"not distinguishable from 1: neither over- nor under-confident, {shown}"
        parts.append(f"{method} T = {t:.2f} ({reading})")
    return "; ".join(parts)


def shift_verdict(low: float, high: float) -> str:
    """An AUROC interval of "external vs test" for an uncertainty score against chance (0.5)."""
    return {"above": "rises on the external set", "below": "falls on the external set",
            "includes": "does not separate the sets"}[position(low, high, 0.5)]


def shift_summary(table) -> str:
    """Every row of a shift-detection table (``method, score, low, high``;
    :func:`tmvlib.tables.uncertainty.shift_detection`) grouped by its :func:`shift_verdict`, with
    no selection of a best score: ``rises on the external set: mutual information (MC dropout,
    ensemble); does not separate the sets: decision uncertainty (baseline)``."""
    groups: dict[str, dict[str, list[str]]] = {}
    for row in table.itertuples(index=False):
        groups.setdefault(shift_verdict(row.low, row.high), {}).setdefault(row.score, []).append(row.method)
    return "; ".join(f"{verdict}: " + ", ".join(f"{score} ({', '.join(methods)})" for score, methods in scores.items())
                     for verdict, scores in groups.items())


def prior_shift_verdict(change: Mapping, raw: Mapping, corrected: Mapping, target: float,
                        method: str = "the Platt-scaled baseline") -> str:
    """The prior-shift correction at a clinical prevalence in words, from the paired difference
    (corrected - as calibrated) of the NLL (the proper score that decides) on test images
    reweighted to ``target``; the smooth ECE is given beside it, descriptive.

    Args:
        change: the NLL paired-difference row (:func:`tmvlib.tables.uncertainty.prior_shift_tables`).
        raw, corrected: level rows with ``value, low, high`` (smooth ECE), ``nll, nll_low,
            nll_high`` and ``mean p`` (weighted mean probability) of the probabilities as
            calibrated and after the correction.
        target: the clinical prevalence.
    """
    verdict = paired_verdict(change, "corrected", "uncorrected", "NLL")

    def scores(row: Mapping) -> str:
        return (f"NLL {interval_text(row['nll'], row['nll_low'], row['nll_high'])}, smooth ECE "
                f"{interval_text(row['value'], row['low'], row['high'])}")
    return (f"at a prevalence of {target:.0%}, {method}'s probabilities as calibrated on validation "
            f"average {raw['mean p']:.2f} ({scores(raw)}); after the correction they average "
            f"{corrected['mean p']:.2f} ({scores(corrected)}): {verdict}")


def chance_verdict(low: float, high: float, reference: str = "chance") -> str:
    """An excess over a reference (a paired difference interval) against 0, in words:
    "above chance", "below the prior map", ..."""
    return {"above": f"above {reference}", "below": f"below {reference}",
            "includes": f"not distinguishable from {reference} at this sample size"}[position(low, high, 0.0)]


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
    """The randomisation verdict (:func:`tmvlib.tables.explanation.sanity_verdict`) in words:
    passes / FAILS / is undetermined, how many steps passed, failed or stayed undetermined (and
    how many of those only because every randomised map was constant), the step with the highest
    mean |Spearman| with its interval, and the constant maps left out."""
    steps, worst = verdict["steps"], verdict["worst"]
    word = {"passes": "passes", "fails": "FAILS", "undetermined": "is undetermined on"}[verdict["verdict"]]
    counts = steps["verdict"].value_counts()
    blank = int(((steps["verdict"] == "undetermined") & (steps["images"] == 0)).sum())
    few = int(((steps["verdict"] == "undetermined") & (steps["images"] > 0)
               & (steps["images"] < verdict.get("min_maps", 0))).sum())
    reasons = ([f"{blank} because every randomised map was constant"] if blank else []) + (
        [f"{few} because fewer than {verdict['min_maps']} randomised maps were non-constant"] if few else [])
    undetermined = f"{counts.get('undetermined', 0)} undetermined" + (f" ({'; '.join(reasons)})" if reasons else "")
    text = (f"{word} the randomisation checks: of {len(steps)} steps ({', '.join(verdict['tests'])}; "
            f"{verdict['images']} images each; pass = upper 95% bound of the mean |Spearman| below "
            f"{verdict['threshold']:g}), {counts.get('passes', 0)} pass, {counts.get('fails', 0)} fail and "
            f"{undetermined}; the highest mean |Spearman| is "
            f"{interval_text(worst['value'], worst['low'], worst['high'], 2)} ({worst['test']}: {worst['layer']})")
    if verdict["missing"]:
        text += (f"; {verdict['missing']} randomised maps were constant, left out and reported as "
                 "missing, not as passes")
    return text


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
            f"{len(record['warnings'])} warning(s)" + warned + _rule_clause(record))


def shifted_card_text(record: Mapping | None) -> str:
    """What the trust card of a typical external (Kermany) image says, in words."""
    if record is None:
        return "no Kermany image in this run"
    return (f"the typical Kermany image is marked '{record['status']}' with {len(record['warnings'])} warning(s)"
            + _rule_clause(record))


def _rule_clause(record: Mapping) -> str:
    """"; the deferral rule answers it" / "... defers it (...)", from the card's ``deferral``."""
    rule = record.get("deferral")
    if not rule:
        return ""
    if rule["decision"] == "answer":
        return "; the deferral rule answers it"
    return "; the deferral rule defers it" + (" (the out-of-distribution check overrides the rule)"
                                             if rule["overridden"] else "")
