"""Sentences of chapters 06 and 07 about trust: how stable the maps are, whether instability
detects errors, whether a stable explanation makes confident errors rarer.

Each function turns computed numbers into the words the chapter glues into its prose, so the
prose never claims more than the run shows. Estimates with intervals are written by
:func:`tmvlib.report.wording.interval_text`, and an interval is read against a reference value
with :func:`tmvlib.report.wording.position` (above / below / includes).
"""
from __future__ import annotations

from collections.abc import Hashable, Mapping

import pandas as pd

from ..tables.quadrants import AMONG
from ..contracts.scores import DECISION_UNCERTAINTY, DISTANCE_TO_HALF, TTA_FLIP_RATE, TTA_INSTABILITY
from .wording import difference_verdict, holm_text, interval_text, p_details, position


def interval_at(table: pd.DataFrame, key: Hashable, digits: int = 3, signed: bool = False,
                percent: bool = False) -> str:
    """:func:`~tmvlib.report.wording.interval_text` of the row ``table.loc[key]`` (a table with
    ``value, low, high`` columns, e.g. indexed by ``set, score``)."""
    row = table.loc[key]
    return interval_text(row["value"], row["low"], row["high"], digits=digits, signed=signed, percent=percent)


def sentence(text: str) -> str:
    """``text`` with its first character upper-cased (the rest unchanged)."""
    return text[:1].upper() + text[1:]


def coefficients_text(coefficients: Mapping[str, float]) -> str:
    """``"decision uncertainty +0.85, instability (TTA) +0.12, intercept -2.10"``: each coefficient
    signed, 2 decimals, in order."""
    return ", ".join(f"{k} {v:+.2f}" for k, v in coefficients.items())


def nuisance_factors_text(factors: pd.DataFrame, set_name: str) -> str:
    """Which single perturbation factors flip the predicted label of a measurable share of the
    ``set_name`` images (``tmvlib.tables.stability.factor_table`` rows with ``set``): those whose
    95% interval of the flip rate lies above 0, most flips first, each as ``"rotation+ 12% [5%,
    20%]"``; or a sentence saying none does."""
    flips = factors[(factors["set"] == set_name) & (factors["quantity"] == "label flip")]
    moving = flips[flips["low"] > 0].sort_values(["value", "factor"], ascending=[False, True])
    if moving.empty:
        return "no single factor flips the label of a measurable share of the images"
    return ", ".join(f"{r.factor} {interval_text(r.value, r.low, r.high, digits=0, percent=True)}"
                     for r in moving.itertuples())


def detection_verdict(low: float, high: float) -> str:
    """What an error-detection AUROC interval says about a score, against chance (0.5): it
    detects errors better than chance, ranks errors as more stable, or cannot tell."""
    return {"above": "detects errors better than chance",
            "below": "ranks errors as *more* stable than correct predictions",
            "includes": "does not detect errors better than chance at this sample size"}[position(low, high, 0.5)]


SCORE_LABELS = {"combined": "the combined score", DECISION_UNCERTAINTY: "the decision uncertainty",
                TTA_INSTABILITY: "TTA explanation instability", TTA_FLIP_RATE: "the TTA flip rate"}


def score_label(score: str) -> str:
    """How the prose names a score column (``"combined"`` -> ``"the combined score"``); other
    names as they are."""
    return SCORE_LABELS.get(score, score)


def endpoint_verdict(row: Mapping) -> str:
    """The verdict of one declared comparison (a row of
    ``tmvlib.tables.endpoints.endpoint_table``), from its paired interval of ``a - b``: the
    primary endpoint by its 95% interval, with the minimum detectable difference when the
    interval includes 0; a secondary one also by its Holm-adjusted p-value
    (``tmvlib.report.wording.difference_verdict``)."""
    secondary = row["role"] == "secondary"
    return difference_verdict(row["value"], row["low"], row["high"], score_label(row["a"]), score_label(row["b"]),
                              row["quantity"],
                              lower_is_better=bool(row["lower_is_better"]), mdd=row["mdd"],
                              **(p_details(row) if secondary else {"p_adjusted": None}))


def method_comparison_text(means: Mapping[str, float], n_images: int) -> str:
    """Mean Spearman of Score-CAM (top-k) vs Grad-CAM under TTA over ``n_images`` curated images
    (``means``: method -> mean, ``tmvlib.tables.stability.mean_spearman_by_method``)."""
    return (f"Score-CAM {means['Score-CAM (top-k)']:.2f} vs Grad-CAM {means['Grad-CAM']:.2f} (mean Spearman over "
            f"{n_images} images; too few images for an interval)")


def instability_captions(picks: pd.DataFrame) -> list[str]:
    """Captions ``"instability 0.12 · p = 0.83\\n<image_id>"`` of
    ``tmvlib.tables.stability.stability_extremes`` rows."""
    return [f"instability {r.instability:.2f} · p = {r.prob:.2f}\n{r.image_id}" for r in picks.itertuples()]


def count_share_text(mask: pd.Series) -> str:
    """``"12 (8%)"``: how many of the rows ``mask`` marks and their share; ``"none (no image)"``
    for no row."""
    return f"{int(mask.sum())} ({mask.mean():.0%})" if len(mask) else "none (no image)"


def quadrant_counts(quadrants: pd.DataFrame) -> dict[str, int | str]:
    """Counts of one set's quadrants (``tmvlib.tables.trust.assign_quadrants`` rows) for the
    prose: ``n`` (images), ``danger`` (:func:`count_share_text`), ``errors``,
    ``confident_share_errors`` (share of the errors in the danger zone, "n/a" without error),
    ``uncertain`` and ``unstable`` (:func:`count_share_text`)."""
    q = quadrants
    errors = ~q["correct"]
    return {"n": len(q), "danger": count_share_text(q["danger"]), "errors": int(errors.sum()),
            "confident_share_errors": f"{(q['danger'].sum() / errors.sum()):.0%}" if errors.any() else "n/a",
            "uncertain": count_share_text(~q["confident"]), "unstable": count_share_text(~q["stable"])}


def threshold_caveat(test: pd.DataFrame, threshold: float, uncertainty_score: str) -> str:
    """What "confident" means for the chosen uncertainty score, relative to the decision threshold.

    The decision-aligned ``decision uncertainty`` is measured from the threshold, so a confident
    prediction is far from changing its label. ``1 - max(p, 1-p)`` is measured from p = 0.5, so
    with a threshold elsewhere a prediction just across it can be confident: the sentence counts
    the danger-zone images of ``test`` (quadrant rows with ``prob, danger``) whose probability
    lies between 0.5 and ``threshold``. Another score gets a general sentence."""
    if uncertainty_score == DECISION_UNCERTAINTY:
        return (f"the uncertainty score ({uncertainty_score}) is measured from the decision threshold "
                f"({threshold:.3f}) on the logit scale, so a confident prediction is one far from changing its label")
    if uncertainty_score != DISTANCE_TO_HALF:
        return (f"the uncertainty score ({uncertainty_score}) does not depend on the decision threshold "
                f"({threshold:.3f}), so a prediction just across the threshold can still count as confident")
    between = test["danger"] & ((test["prob"] - 0.5) * (test["prob"] - threshold) < 0)
    return (f"1 - max(p, 1-p) is measured from p = 0.5 while the decision threshold is "
            f"{threshold:.3f}, so a prediction just across the threshold can still count as confident (danger-zone "
            f"test images with a probability between 0.5 and the threshold: {int(between.sum())} of "
            f"{int(test['danger'].sum())})")


def stability_verdict(rates: pd.DataFrame, set_name: str, among: str, min_images: int) -> str:
    """Does a stable explanation go with fewer confident errors? One clause, lower case.

    Args:
        rates: ``tmvlib.tables.quadrants.danger_rates`` rows (``set, among, explanation, value,
            low, high, images, events``).
        among: ``"all"`` (danger-zone share among all images) or ``"confident"`` (error rate
            among confident predictions).
        min_images: fewer images with a stable or with an unstable explanation: too few.
    Returns:
        "there is nothing to compare: ..." (no image / no event), "too few images to compare:
        ...", or, from the 95% interval of the difference (unstable - stable) against 0: "yes:
        ..." (above), "no, the opposite: ..." (below), "inconclusive: ..." (includes 0, with
        the minimum detectable difference ``mdd`` when the table has it, or an interval off 0
        whose Holm-adjusted ``p_holm`` is not below 0.05).
    """
    r = rates[(rates["set"] == set_name) & (rates["among"] == AMONG[among])].set_index("explanation")
    d = r.loc["unstable - stable"]
    what = "danger-zone share" if among == "all" else "error rate among confident predictions"
    n_stable, n_unstable = int(r.loc["stable", "images"]), int(r.loc["unstable", "images"])
    if d["images"] == 0:
        return ("there is nothing to compare: no image in this set" if among == "all" else
                "there is nothing to compare: no confident prediction at all")
    if d["events"] == 0:
        return ("there is nothing to compare: no confident error at all" if among == "all" else
                "there is nothing to compare: no confident prediction is wrong")
    if min(n_stable, n_unstable) < min_images or pd.isna(d["low"]):
        return (f"too few images to compare: {n_stable} with a stable and {n_unstable} with an unstable explanation "
                f"(at least {min_images} each needed)")
    rate = (f"{r.loc['stable', 'value']:.3f} with a stable vs {r.loc['unstable', 'value']:.3f} with an unstable "
            f"explanation; difference {interval_text(d['value'], d['low'], d['high'], digits=3, signed=True)}")
    where = position(d["low"], d["high"], 0.0)
    p_holm = d.get("p_holm", float("nan"))
    holm_note = "" if pd.isna(p_holm) else f"; {holm_text(p_holm)}"
    if where != "includes" and not pd.isna(p_holm) and p_holm >= 0.05:
        return (f"inconclusive: {rate}, an interval that excludes 0 but does not survive the Holm correction "
                f"of chapter 07's family{holm_note}")
    if where == "above":
        return f"yes: the {what} is lower with a stable explanation ({rate}{holm_note})"
    if where == "below":
        return f"no, the opposite: the {what} is *higher* with a stable explanation ({rate}{holm_note})"
    mdd = d.get("mdd", float("nan"))
    power = "" if pd.isna(mdd) else f"; it could detect a difference of about {mdd:.3f} or more"
    return f"inconclusive: {rate}, an interval that includes 0, so this sample cannot tell{power}"
