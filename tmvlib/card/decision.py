"""The card's decision: answer or defer one image, by chapter 07's calibrated deferral rule, and
defer an out-of-distribution image whatever the rule says. The words of the guarantee come from
:mod:`tmvlib.report.deferral`; the decision is the card's.
"""
from __future__ import annotations

from collections.abc import Mapping

from ..report.deferral import guarantee_text
from ..uncertainty.abstention import DeferralRule


def card_decision(rule: DeferralRule | Mapping, score_value: float, predicted: int, positive: str,
                  out_of_distribution: bool) -> dict:
    """The deferral part of a trust card: ``decision`` ("answer" | "defer"), ``reason`` and the
    ``guarantee`` in words. An out-of-distribution image is deferred whatever the rule says: its
    guarantee is about images like the validation set, which this one is not."""
    r = rule if isinstance(rule, DeferralRule) else DeferralRule.from_dict(dict(rule))
    group = "all" if r.kind == "marginal" else ("positive" if predicted == 1 else "negative")
    threshold = r.thresholds[group]
    call = positive if predicted == 1 else f"no {positive}"
    answered = bool(r.answers([score_value], [predicted])[0])
    if out_of_distribution:
        decision, reason = "defer", ("out of distribution: the guarantee covers only images like the "
                                     "validation set, so the rule is overridden")
    elif threshold is None:
        decision, reason = "defer", (f"no threshold certifies '{call}' calls at this target on the "
                                     "validation set, so every such call is deferred")
    elif answered:
        decision, reason = "answer", f"{r.score} {score_value:.2f} <= certified threshold {threshold:.2f}"
    else:
        decision, reason = "defer", f"{r.score} {score_value:.2f} > certified threshold {threshold:.2f}"
    return {"decision": decision, "reason": reason, "call": call, "rule": r.kind, "score": r.score,
            "score_value": float(score_value), "threshold": threshold, "max_error": r.max_error,
            "confidence": 1 - r.delta, "guarantee": guarantee_text(r), "overridden": bool(out_of_distribution)}
