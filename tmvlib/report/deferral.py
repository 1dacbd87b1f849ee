"""The words and tables of a deferral rule: its guarantee, its check over re-splits and on the
external set (the card's decision itself is :mod:`tmvlib.card.decision`).

Every sentence is built from a calibrated :class:`tmvlib.uncertainty.abstention.DeferralRule` (or
its JSON record) and the tables of :mod:`tmvlib.tables.abstention`, so the prose states the
target, the confidence level and the population the guarantee is about, and nothing more.
"""
from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ..data.folds import MIN_FOLDS
from ..uncertainty.abstention import DeferralRule, threshold_text
from .wording import difference_verdict, interval_text, position

POPULATION = "images exchangeable with the NIH validation images"
PATIENT_POPULATION = "new patients exchangeable with the NIH validation patients, one image each"
# What Learn then Test gives (Angelopoulos et al. 2021, Theorem 1): a bound on the long-run error
# rate of the answered images of the population, holding with probability >= 1 - delta over the
# draw of the calibration cases. Nothing about one image or one batch.
SCOPE = "a long-run rate over many such images, not a promise about any one image or batch"


def _rule(rule: DeferralRule | Mapping) -> DeferralRule:
    return rule if isinstance(rule, DeferralRule) else DeferralRule.from_dict(dict(rule))


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def guarantee_text(rule: DeferralRule | Mapping, population: str | None = None) -> str:
    """The guarantee in words, exactly as Learn then Test gives it, e.g. "with probability at
    least 90% over the draw of the calibration patients, the error rate among the answered images
    is at most 20% in the long run for new patients exchangeable with the NIH validation patients,
    one image each (a long-run rate over many such images, not a promise about any one image or
    batch)". The population follows the rule's calibration unit (patients, one image each, or
    images). The class-conditional rule bounds each predicted class's rate, with the confidence
    holding for both together. A target picked from the price list is labelled as outside the
    formal guarantee."""
    r = _rule(rule)
    per_patient = r.unit == "patient"
    population = population or (PATIENT_POPULATION if per_patient else POPULATION)
    drawn = "calibration patients" if per_patient else "calibration images"
    conf = f"with probability at least {_pct(1 - r.delta)} over the draw of the {drawn}"
    if r.kind == "marginal":
        text = (f"{conf}, the error rate among the answered images is at most {_pct(r.max_error)} in the long "
                f"run for {population} ({SCOPE})")
    else:
        text = (f"{conf} (for both classes together), the error rate among the answered positive calls and among "
                f"the answered negative calls is each at most {_pct(r.max_error)} in the long run for {population} "
                f"({SCOPE})")
    if r.target_chosen == "price list":
        text += (f"; the {_pct(r.max_error)} target was picked from the price list after seeing these validation "
                 "images, so the formal guarantee does not cover it (the re-split check is the evidence)")
    return text


def calibration_text(rule: DeferralRule | Mapping) -> str:
    """What the rule answered on its calibration images, e.g. "answers 41 of the 161 (3 of them
    wrong) validation images (one per patient; 12 further images of the same patients set
    aside)"."""
    r = _rule(rule)
    text = f"answers {_calibration_counts(r)} validation images"
    if r.unit == "patient":
        text += f" (one per patient; {r.set_aside} further images of the same patients set aside)"
    return text


def _calibration_counts(r: DeferralRule) -> str:
    """"41 of the 161 (3 of them wrong)", per group for the class-conditional rule."""
    return ", ".join(f"{c['answered']} of the {c['images']}" + ("" if r.kind == "marginal" else f" {g} calls")
                     + f" ({c['errors']} of them wrong)" for g, c in r.calibration.items())


def violation_text(row: Mapping, delta: float) -> str:
    """One row of ``tables.abstention.violation_summary``: "the realised error exceeded the target
    in 31 of 1000 re-splits, 3.1% [2.1%, 4.4%] (at most 10% allowed)"."""
    rate = interval_text(row["rate"], row["low"], row["high"], digits=1, percent=True)
    verdict = ("within" if row["rate"] <= delta else "above") + f" the {_pct(delta)} the guarantee allows"
    return (f"the realised error exceeded the target in {int(row['violations'])} of {int(row['draws'])} "
            f"re-splits, {rate}: {verdict}")


def coverage_text(outcomes: pd.DataFrame) -> str:
    """Coverage and realised error of one rule on one set (rows of ``outcome_table`` for that rule
    and set), e.g. "answers 25% [18%, 33%] of the images, 4% [0%, 10%] of them wrong"."""
    q = outcomes.set_index("quantity")
    cov, err = q.loc["coverage"], q.loc["error among answered"]
    if int(cov["events"]) == 0:
        return f"answers none of the {int(cov['n']):,} images (defers all)"
    c = interval_text(cov["value"], cov["low"], cov["high"], digits=0, percent=True)
    e = interval_text(err["value"], err["low"], err["high"], digits=0, percent=True)
    n_err = int(err["events"])
    return (f"answers {c} of the {int(cov['n']):,} images ({int(cov['events']):,}), {e} of them wrong "
            f"({n_err} error{'' if n_err == 1 else 's'})")


def _outcome(outcomes: pd.DataFrame, quantity: str, digits: int = 0) -> str:
    row = outcomes.set_index("quantity").loc[quantity]
    text = interval_text(row["value"], row["low"], row["high"], digits=digits, percent=True, missing="-")
    return text if text == "-" else f"{text} ({int(row['events'])}/{int(row['n'])})"


def deferral_display(rules: Mapping, outcomes: pd.DataFrame, set_name: str = "test") -> pd.DataFrame:
    """One row per score and rule: the certified thresholds, what they answered on the
    calibration images, and on ``set_name`` the coverage, the error among answered cases (all,
    positive calls, negative calls) and the coverage of positive and negative images, each with
    its patient-bootstrap interval and counts."""
    rows = []
    for (score, kind), fitted in rules.items():
        o = outcomes[(outcomes["score"] == score) & (outcomes["rule"] == kind) & (outcomes["set"] == set_name)]
        rows.append({"score": score, "rule": kind, "certified thresholds": threshold_text(fitted.rule),
                     "validation": _calibration_counts(fitted.rule)
                     + (" (one image per patient)" if fitted.rule.unit == "patient" else ""),
                     "coverage": _outcome(o, "coverage"), "error among answered": _outcome(o, "error among answered"),
                     "error, positive calls": _outcome(o, "error among answered positive calls"),
                     "error, negative calls": _outcome(o, "error among answered negative calls"),
                     "coverage of positives": _outcome(o, "coverage of positives"),
                     "coverage of negatives": _outcome(o, "coverage of negatives")})
    return pd.DataFrame(rows).set_index(["score", "rule"])


def violation_lines(violations: pd.DataFrame, delta: float) -> str:
    """A Markdown list, one line per score and rule of ``tables.abstention.violation_summary``:
    the violation rate, how often a threshold was certified and the mean coverage."""
    lines = []
    for r in violations.itertuples():
        row = r._asdict()
        certified = int(round(r.certified * r.draws))
        when = (f"; the violations are {r.violations} of the {certified} draws where a threshold was certified"
                if certified else "")
        lines.append(f"- **{r.score}, {r.rule}**: {violation_text(row, delta)}; a threshold was certified in "
                     f"{_pct(r.certified)} of the draws{when}, and the rule answered {_pct(r.coverage)} of the "
                     f"evaluation half on average (middle 95% of draws: "
                     f"{_pct(r.coverage_low)}-{_pct(r.coverage_high)}).")
    return "\n".join(lines)


def coverage_verdict(difference: pd.DataFrame, a: str, b: str) -> str:
    """The paired coverage difference ``a - b`` on one set (``tables.abstention.coverage_difference``
    rows) in words."""
    cov = difference.set_index("quantity").loc["coverage"]
    if pd.isna(cov["value"]):
        return "both rules answer nothing"
    if cov["a_value"] == cov["b_value"] == 0:
        return "neither rule answers any image"
    if cov["low"] == cov["high"] == cov["value"] == 0:
        return "both rules answer exactly the same images"
    return difference_verdict(cov["value"], cov["low"], cov["high"], a, b, "coverage", lower_is_better=False,
                              mdd=cov["mdd"], digits=2)


def comparison_lines(differences: Mapping[str, pd.DataFrame], resplit: pd.DataFrame, a: str, b: str) -> str:
    """A Markdown list per rule kind: the paired patient-bootstrap difference in coverage on NIH
    test (``differences[kind]``: :func:`coverage_verdict`) and the spread of the per-draw coverage
    difference over the re-splits (``resplit``: ``resplit_coverage_difference`` rows)."""
    lines = []
    spread = resplit.set_index("rule")
    for kind, table in differences.items():
        s = spread.loc[kind]
        lines.append(f"- **{kind}**: on NIH test, {coverage_verdict(table, a, b)}. Over the re-splits, {a} - {b} = "
                     f"{s['mean']:+.2f} on average (middle 95% of draws {s['low']:+.2f} to {s['high']:+.2f}); {a} "
                     f"answered more in {_pct(s['a_higher'])} of the draws.")
    return "\n".join(lines)


def external_text(outcomes: pd.DataFrame, max_error: float) -> str:
    """The rule applied unchanged to a shifted population (``outcome_table`` rows of one rule and
    set): coverage, realised error, and where the error's interval lies against the target."""
    o = outcomes.set_index("quantity")
    err = o.loc["error among answered"]
    if int(o.loc["coverage", "events"]) == 0:
        return f"answers none of the {int(o.loc['coverage', 'n']):,} images"
    where = position(err["low"], err["high"], max_error)
    verdict = {"above": f"above the {_pct(max_error)} target: the guarantee does not hold here",
               "below": f"below the {_pct(max_error)} target",
               "includes": f"not distinguishable from the {_pct(max_error)} target with this many images"}[where]
    return f"{coverage_text(outcomes)}: {verdict}"


def targets_display(frame: pd.DataFrame) -> pd.DataFrame:
    """``tables.abstention.targets_table`` as percentages, one row per target, score and rule."""
    shown = frame.copy()
    shown["target"] = shown["max_error"].map(_pct)
    for c in ("calibration_coverage", "coverage", "error among answered"):
        shown[c] = shown[c].map(lambda x: "-" if pd.isna(x) else _pct(x))
    shown = shown.rename(columns={"calibration_coverage": "answered, validation", "coverage": "answered, test",
                                  "error among answered": "error among answered, test",
                                  "threshold": "certified thresholds"})
    return shown.set_index(["target", "score", "rule"])[["certified thresholds", "answered, validation",
                                                        "answered, test", "error among answered, test"]]


def ood_rescue_text(rescue: pd.DataFrame, max_error: float, guaranteed: bool) -> str:
    """What the out-of-distribution check does for the rule on one set
    (``tables.abstention.ood_rescue`` rows): the error among answered images before and after,
    against the target, and how much of the excess over the target the check removes.
    ``guaranteed``: the set is one the guarantee covers (NIH test), not a shifted one."""
    t = rescue.set_index(["stage", "quantity"])
    before, after = t.loc[("rule alone", "error among answered")], t.loc[("after the check", "error among answered")]
    cov_before, cov_after = t.loc[("rule alone", "coverage")], t.loc[("after the check", "coverage")]
    wrong_before, wrong_after = int(before["wrong_answered"]), int(after["wrong_answered"])
    answered = (f"the rule alone answers {int(cov_before['events'])} images ({wrong_before} wrong); behind the "
                f"check it answers {int(cov_after['events'])} ({wrong_after} wrong)")
    if int(cov_before["events"]) == 0:
        return "the rule answers none of these images, so the check has nothing to remove"
    err = interval_text(before["value"], before["low"], before["high"], digits=0, percent=True)
    if before["value"] <= max_error:
        return (f"{answered}. The rule alone does not exceed its {_pct(max_error)} target here (error among answered "
                f"{err}), so there is no excess for the check to remove"
                + ("" if guaranteed else "; nothing guaranteed this on a shifted population"))
    excess = before["value"] - max_error
    left = max(0.0, after["value"] - max_error) if int(cov_after["events"]) else 0.0
    err_after = interval_text(after["value"], after["low"], after["high"], digits=0, percent=True,
                              missing="undefined (nothing answered)")
    return (f"{answered}. The error among answered images goes from {err} to {err_after}: the check removes "
            f"{_pct(1 - left / excess)} of the excess over the {_pct(max_error)} target")


def calibration_share_text(rule: DeferralRule | Mapping, needed: pd.DataFrame, folded_patients: int,
                           folds: int) -> str:
    """Would a larger calibration share let the deployed model's rule certify its target? In
    words, from the simulated calibration sizes (``needed``, as :func:`certification_text`) and the
    folds: the deployed model calibrates on one of ``folds`` folds of ``folded_patients`` NIH
    patients; it could also calibrate on its test fold without shrinking its training folds
    (Learn then Test needs no test set, and the fold models already check the procedure on held-out
    folds), while any more would come out of its training patients."""
    r = _rule(rule)
    here = int(needed["patients"].iloc[0] / needed["multiple"].iloc[0])
    if r.certified:
        where = "One calibration fold" if folds >= MIN_FOLDS else "The validation split"
        return f"{where} ({here:,} patients) is enough for the {_pct(r.max_error)} target."
    enough = needed[needed["enough"]]
    if enough.empty:
        return (f"A larger calibration share would not help: even {int(needed['patients'].iloc[-1]):,} "
                "simulated calibration patients do not certify the target reliably.")
    patients, per_fold = int(enough["patients"].iloc[0]), folded_patients / folds
    if folds < MIN_FOLDS:  # no cross-fitting (chapter 01's cross_fit: false): no folds to move between roles
        return (f"About {patients:,} calibration patients would be needed, against the {here:,} of the validation "
                "split: a larger validation split (more patients of this hospital) would be needed.")
    share = (f"The deployed model calibrates on one of {folds} folds ({here:,} patients); about {patients:,} "
             f"would be needed, {_pct(patients / folded_patients)} of the {folded_patients:,} folded NIH patients")
    if patients <= 2 * per_fold:
        return (share + ". Its calibration and test folds together would hold them without taking a patient "
                "from its training (Learn then Test needs no test set; the fold models check the procedure on "
                "held-out folds): a larger calibration share is worth giving the deployed model.")
    needed_folds = -(-patients // int(per_fold))
    if needed_folds >= folds:
        return (share + ": every fold, leaving no patient to train the model on; no calibration share of this "
                "data set certifies the target.")
    return (share + f", {needed_folds} of the {folds} folds, leaving {folds - needed_folds} to train and select "
            f"the model instead of {folds - 2}: a larger calibration share would cost the model most of its "
            "training patients, so the deployed model keeps one calibration fold and its card defers.")


def certification_text(rule: DeferralRule | Mapping, needed: pd.DataFrame, nearest: Mapping | None,
                       share: float = 0.8) -> str:
    """What a rule that certifies nothing would need, in words: the simulated number of
    calibration patients at which its target is certified in at least ``share`` of calibration
    sets (``tables.abstention.patients_to_certify`` rows ``needed``), and the nearest target of
    the price list that these images do certify (``tables.abstention.nearest_certified``, with
    its coverage of NIH test), or that none is."""
    r = _rule(rule)
    here = int(needed["patients"].iloc[0] / needed["multiple"].iloc[0])
    if r.certified:
        text = f"The rule certifies its {_pct(r.max_error)} target with these {here:,} validation patients."
    else:
        enough = needed[needed["enough"]]
        if enough.empty:
            last = needed.iloc[-1]
            size = (f"even {int(last['patients']):,} patients ({last['multiple']:.0f} times as many) certify it in "
                    f"only {_pct(last['certified'])} of simulated calibration sets: the validation images' errors "
                    "are too many at every threshold of the grid")
        else:
            first = enough.iloc[0]
            size = (f"about {int(first['patients']):,} patients ({first['multiple']:.0f} times as many) would "
                    f"certify it in {_pct(first['certified'])} of simulated calibration sets, answering "
                    f"{_pct(first['coverage'])} of them on average")
        text = (f"No threshold is certified at the {_pct(r.max_error)} target with these {here:,} validation "
                f"patients. Resampling their scores and errors (a planning figure, not a guarantee), {size}.")
    if nearest is None:
        return text + " No target of the price list is certified by these images."
    return (text + f" The smallest target of the price list these images certify is {_pct(nearest['max_error'])} "
            f"({nearest['threshold']}; it answers {_pct(nearest['coverage'])} of NIH test), a target chosen "
            "after seeing the list, which the formal guarantee does not cover.")
