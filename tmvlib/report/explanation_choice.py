"""Which explanation, when: a generated summary of chapters 04-05 from their paired intervals.

Every cell is read off an interval (``tmvlib.report.wording.position``), so the summary says no
more than the data show: "yes" when a paired interval lies on the better side of 0, "no" when
on the worse side, and "cannot tell" when it includes 0.
"""
from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from .wording import interval_text, position


def _cell(row: Mapping | None, higher_is_better: bool = True) -> str:
    if row is None:
        return "not measured"
    where = position(row["low"], row["high"])
    good, bad = ("above", "below") if higher_is_better else ("below", "above")
    word = {good: "yes", bad: "no (worse)", "includes": "cannot tell"}[where]
    return f"{word}: {interval_text(row['value'], row['low'], row['high'], 2, signed=True)}"


def _row(table: pd.DataFrame, method: str, quantity: str) -> Mapping | None:
    hit = table[(table["method"] == method) & (table["quantity"] == quantity)]
    return None if hit.empty else hit.iloc[0]


# The declared primary localisation metric (book/protocol.md): the threshold-free AUPRC of the map's
# pixels against the box, as an excess over the method's own prior map; the pointing game and the
# IoU are secondary and descriptive, so "localises" is never claimed on whichever of three metrics
# passes.
PRIMARY_LOCALISATION = "localises better than its prior map (AUPRC, paired excess)"

QUESTIONS = (
    (PRIMARY_LOCALISATION, "localisation", "AUPRC of map pixels vs box", True),
    ("points at the box more often than its prior map (pointing game)", "localisation", "pointing", True),
    ("IoU above its prior map's (cross-fitted threshold)", "localisation", "IoU, cross-fitted threshold", True),
    ("deleting its top pixels lowers the score faster than its prior map's (deletion AUC)", "faithfulness", "deletion", False),
    ("inserting its top pixels raises the score faster than its prior map's (insertion AUC)", "faithfulness", "insertion", True),
)


def explanation_choice(localisation: pd.DataFrame, faithfulness: pd.DataFrame,
                       sanity: Mapping[str, str], seconds: Mapping[str, float],
                       methods: tuple[str, ...] = ("Grad-CAM", "Score-CAM")) -> pd.DataFrame:
    """One row per question, one column per method.

    Args:
        localisation: paired excess of each method over its own prior map
            (``tables.explanation.excess_over``): ``method, quantity, value, low, high``; the
            pointing-game row is matched by its label's start ("pointing game (").
        faithfulness: paired differences method minus its prior map, ``method, quantity`` in
            {"deletion", "insertion"}, ``value, low, high``.
        sanity: method -> the randomisation verdict ("passes" / "fails" / "undetermined").
        seconds: method -> seconds per image on this machine.
    """
    loc = localisation.assign(quantity=localisation["quantity"].where(
        ~localisation["quantity"].str.startswith("pointing game ("), "pointing"))
    tables = {"localisation": loc, "faithfulness": faithfulness}
    out = {}
    for question, source, quantity, higher in QUESTIONS:
        out[question] = {m: _cell(_row(tables[source], m, quantity), higher) for m in methods}
    out["passes the randomisation checks (model and data)"] = {m: sanity.get(m, "not measured") for m in methods}
    out["seconds per image on this machine"] = {m: f"{seconds[m]:.2f}" for m in methods}
    return pd.DataFrame(out).T.rename_axis("question")


def choice_summary(choice: pd.DataFrame, head_to_head: pd.DataFrame,
                   methods: tuple[str, str] = ("Grad-CAM", "Score-CAM")) -> str:
    """The chapter's "which explanation, when" paragraph from ``explanation_choice`` and the
    paired head-to-head differences ``methods[1] - methods[0]`` (``quantity, value, low, high``,
    with ``higher_is_better``)."""
    a, b = methods
    secondary = [q for q, source, *_ in QUESTIONS if source == "localisation" and q != PRIMARY_LOCALISATION]
    agree = {m: [q for q in secondary if choice.loc[q, m].startswith("yes")] for m in methods}
    faithful = {m: [q for q in choice.index[3:5] if choice.loc[q, m].startswith("yes")] for m in methods}
    parts = []
    for m in methods:
        primary = choice.loc[PRIMARY_LOCALISATION, m]
        loc = ("localises pneumonia better than its prior map on the declared primary metric (AUPRC)"
               if primary.startswith("yes") else
               "localises pneumonia worse than its prior map on the declared primary metric (AUPRC)"
               if primary.startswith("no") else
               "does not localise pneumonia measurably better than its prior map on the declared primary "
               "metric (AUPRC)")
        loc += f" (the pointing game and the IoU, descriptive: better on {len(agree[m])} of 2)"
        faith = (f"is more faithful than its prior map on {len(faithful[m])} of 2 perturbation curves"
                 if faithful[m] else "is not measurably more faithful than its prior map")
        sanity = choice.loc["passes the randomisation checks (model and data)", m]
        checks = {"passes": "passes", "fails": "fails", "undetermined": "is undetermined on"}.get(sanity, "was not put to")
        parts.append(f"{m} {loc}, {faith}, and {checks} the randomisation checks")
    better = {a: [], b: []}
    for r in head_to_head.itertuples():
        where = position(r.low, r.high)
        if where == "includes":
            continue
        winner = b if (where == "above") == bool(r.higher_is_better) else a
        better[winner].append(r.quantity)
    if not better[a] and not better[b]:
        versus = (f"Head to head, {a} and {b} cannot be told apart on any localisation or faithfulness "
                  f"metric at this sample size, so the cheaper {a if float(choice.iloc[-1][a]) <= float(choice.iloc[-1][b]) else b} "
                  "is the default")
    else:
        versus = "Head to head, " + "; ".join(f"{m} is better on {', '.join(q)}" for m, q in better.items() if q)
    return "; ".join(parts) + ". " + versus + "."
