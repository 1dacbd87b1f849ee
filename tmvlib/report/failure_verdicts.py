"""Sentences of chapter 07 about its failures: the audit gallery, what the audited cases share,
what the subgroup table supports and which candidate failure modes the data support.

Intervals are written by :func:`tmvlib.report.wording.interval_text` (through
:mod:`tmvlib.report.trust_tables`); subgroups are compared by the interval of their difference
(:func:`tmvlib.report.wording.difference_verdict`), never by whether two intervals overlap.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from ..tables.cases import boxed_hits, rule_share
from .trust_tables import mode_rate_text
from .wording import difference_verdict, p_details


def records_for(records: Sequence[Mapping], reason: str) -> list[Mapping]:
    """The case records a selection rule picked (``reason`` in their ``reasons``), in order."""
    return [r for r in records if reason in r["reasons"]]


def gallery_text(total: int, cap: int) -> str:
    """Which danger-zone cases the book shows: all of ``total``, or the ``cap`` most confident."""
    if not total:
        return "none, as there is no danger-zone case in this run"
    if total <= cap:
        return f"all {total}, most confident first"
    return f"the {cap} most confident of {total}, most confident first"


def reason_heading(reason: str, n: int) -> str:
    """Markdown heading of a gallery: ``"**Confident false negatives** (2)"``, or with ``": none
    in this run."`` when ``n`` is 0."""
    return f"**{reason.capitalize()}s** ({n})" + ("" if n else ": none in this run.")


def rule_share_text(records: Sequence[Mapping], rule: str) -> str:
    """``"3 of 5"``: records with an observation of ``rule``, of all ``records``."""
    return "{} of {}".format(*rule_share(records, rule))


def boxed_text(records: Sequence[Mapping]) -> str:
    """``"1 of 2"``: records whose Grad-CAM maximum lies in a radiologist box, of those with a
    box."""
    return "{} of {}".format(*boxed_hits(records))


def subgroup_lines(subgroups: pd.DataFrame, differences: pd.DataFrame) -> str:
    """What the subgroup table supports, one Markdown bullet per grouping.

    Args:
        subgroups: ``tmvlib.tables.subgroups.subgroup_table`` rows (``grouping, group, too_thin,
            reason``).
        differences: ``tmvlib.tables.subgroup_differences.subgroup_differences`` rows (AUROC
            ``a - b`` per pair of reportable groups, with ``p_holm``).
    Returns:
        lines ``- **<grouping>**: ...``: each pair's verdict from its interval of the difference
        and its Holm-adjusted p-value (with the minimum detectable difference when there is no
        difference); a single usable group or none cannot be compared; thin groups are listed
        with their reason.
    """
    lines = []
    for grouping, part in subgroups.groupby("grouping", sort=False):
        thin = part[part["too_thin"]]
        usable = part[~part["too_thin"]]
        pairs = differences[differences["grouping"] == grouping]
        if len(usable) >= 2:
            text = "; ".join(difference_verdict(d["value"], d["low"], d["high"], d["a"], d["b"], "AUROC",
                                                lower_is_better=False, mdd=d["mdd"], **p_details(d))
                             for d in pairs.to_dict("records"))
        elif len(usable) == 1:
            text = f"only {usable['group'].iloc[0]} has enough images to report, so nothing can be compared"
        else:
            text = "no group has enough images to report"
        if len(thin):
            text += "; too thin to conclude: " + "; ".join(f"{g.group} ({g.reason})" for g in thin.itertuples())
        lines.append(f"- **{grouping}**: {text}.")
    return "\n".join(lines)


def mode_line(row: Mapping) -> str:
    """One supported failure mode as a Markdown bullet: its scope, the error rates with and
    without it, the difference and example image ids (``tmvlib.report.trust_tables.
    failure_mode_display`` row)."""
    examples = ", ".join(f"`{i}`" for i in row["examples"]) or "no wrong image shows it"
    return (f"- **{row['mode']}** ({row['scope']}): error rate {mode_rate_text(row, 'with')} with it vs "
            f"{mode_rate_text(row, 'without')} without; difference {row['difference (95% CI)']}. "
            f"Examples: {examples}.")


def supported_modes_text(failure_modes: pd.DataFrame) -> str:
    """Markdown bullets of the supported modes (:func:`mode_line`), or a "None" bullet."""
    supported = failure_modes[failure_modes["status"] == "supported"]
    if not len(supported):
        return "- None: no candidate mode raises the error rate measurably in this run."
    return "\n".join(mode_line(r) for _, r in supported.iterrows())


def unsupported_modes_text(failure_modes: pd.DataFrame) -> str:
    """Markdown bullets of the modes the data do not support, each with its status, reason and
    difference, or a "None" bullet."""
    unsupported = failure_modes[failure_modes["status"] != "supported"]
    if not len(unsupported):
        return "- None: every candidate is supported."
    return "\n".join(f"- **{r['mode']}**: {r['status']}, {r['reason']} (difference {r['difference (95% CI)']})"
                     for _, r in unsupported.iterrows())
