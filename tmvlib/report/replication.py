"""The replication chapter's verdicts: does each finding of the report hold in every replicate?"""
from __future__ import annotations

import pandas as pd

from ..tables.replication import FINDINGS, seed_spread
from .wording import interval_text, position


def finding_verdicts(table: pd.DataFrame, reference: str) -> pd.DataFrame:
    """Per finding (:data:`FINDINGS`) and replicate other than ``reference``: where its interval
    lies against the finding's reference value (``"above"``, ``"below"``, ``"includes"``), and
    whether it repeats the ``reference`` replicate's finding. A finding of a difference (above or
    below) holds where the replicate's interval lies on the same side; a finding of **no**
    difference holds only where the replicate's whole interval lies within the finding's
    equivalence margin (``equivalent``): an interval that merely includes the reference value is
    low power, not a replication. The reference replicate is left out (it holds trivially).

    Args:
        table: stacked :func:`replicate_quantities` with a ``replicate`` column.
        reference: the replicate whose verdicts are the report's findings.
    Returns:
        ``quantity, replicate, position, reference_position, equivalent, margin, holds``.
    """
    rows = []
    for quantity, (against, _, margin) in FINDINGS.items():
        part = table[table["quantity"] == quantity]
        if part.empty:
            continue
        where = {r.replicate: position(r.low, r.high, against) for r in part.itertuples()}
        if reference not in where:
            raise KeyError(f"reference replicate {reference!r} lacks {quantity!r}")
        for r in part.itertuples():
            if r.replicate == reference:
                continue
            equivalent = bool(against - margin <= r.low and r.high <= against + margin)
            holds = equivalent if where[reference] == "includes" else where[r.replicate] == where[reference]
            rows.append({"quantity": quantity, "replicate": r.replicate, "position": where[r.replicate],
                         "reference_position": where[reference], "equivalent": equivalent, "margin": margin,
                         "holds": holds})
    return pd.DataFrame(rows)


def holds_text(verdicts: pd.DataFrame, quantity: str) -> str:
    """How one finding of :func:`finding_verdicts` fared in the other configurations, e.g.
    ``"holds in 6 of the 8 other configurations (6 above, 2 include the reference value, 0
    below)"``; for a finding of no difference, ``"... (within the equivalence margin ±0.05: 1;
    ...)"``; the configurations where it does not hold are named."""
    part = verdicts[verdicts["quantity"] == quantity]
    held, n = int(part["holds"].sum()), len(part)
    counts = part["position"].value_counts()
    spread = (f"{counts.get('above', 0)} above, {counts.get('includes', 0)} include the reference value, "
              f"{counts.get('below', 0)} below")
    if len(part) and part["reference_position"].iloc[0] == "includes":
        spread = f"within the equivalence margin ±{part['margin'].iloc[0]:g}: {held}; " + spread
    text = f"holds in {held} of the {n} other configurations ({spread})"
    if held < n:
        text += ": not in " + ", ".join(part.loc[~part["holds"], "replicate"])
    return text


# what the reference verdict says, per finding and position of its interval
_STATEMENTS = {
    "AUROC, NIH test": ("the model ranks NIH test images better than chance",
                        "the model ranks NIH test images no better than chance",
                        "the model ranks NIH test images worse than chance (backwards)"),
    "AUROC, external": ("the model ranks the external (pediatric) images better than chance",
                        "the model ranks the external (pediatric) images no better than chance",
                        "the model ranks the external (pediatric) images worse than chance (backwards)"),
    "NLL change from temperature scaling, NIH test": (
        "temperature scaling raises the NLL on NIH test (worse probabilities)",
        "temperature scaling makes no measurable difference to the NLL on NIH test",
        "temperature scaling lowers the NLL on NIH test (better probabilities)"),
    "error-detection AUROC of the confidence, NIH test": (
        "the confidence detects errors better than chance", "the confidence detects errors no better than chance",
        "the confidence ranks errors backwards"),
    "error-detection AUROC of TTA instability, NIH test": (
        "TTA explanation instability detects errors better than chance",
        "TTA explanation instability detects errors no better than chance",
        "TTA explanation instability is lower on errors than on correct predictions (worse than chance)"),
    "primary endpoint: AURC, combined score - confidence, NIH test": (
        "adding TTA instability to the confidence makes deferral worse (higher AURC)",
        "adding TTA instability to the confidence changes deferral by nothing measurable (AURC)",
        "adding TTA instability to the confidence improves deferral (lower AURC)"),
}


def finding_text(quantity: str, where: str) -> str:
    """The finding a verdict states: the sentence for ``quantity`` with its interval ``where``
    (``"above"``, ``"includes"`` or ``"below"`` its reference value)."""
    above, includes, below = _STATEMENTS[quantity]
    return {"above": above, "includes": includes, "below": below}[where]


def finding_sentences(verdicts: pd.DataFrame) -> list[str]:
    """``"<finding>: holds in k/n configurations"`` for every finding of :func:`finding_verdicts`,
    in the order of :data:`tmvlib.tables.replication.FINDINGS`."""
    out = []
    for quantity in FINDINGS:
        part = verdicts[verdicts["quantity"] == quantity]
        if len(part):
            out.append(f"{finding_text(quantity, part['reference_position'].iloc[0])}: {holds_text(verdicts, quantity)}")
    return out


def replication_display(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """One row per quantity and backbone, one column per seed (``value [low, high]``, the
    test-sampling interval), and the spread of the estimates over the seeds (``min - max``).

    Args:
        table: :func:`tmvlib.orchestration.run_replication` rows (``quantity, backbone,
            seed, value, low, high``).
    """
    cells = table.assign(cell=[interval_text(v, lo, hi, digits) for v, lo, hi
                               in zip(table["value"], table["low"], table["high"])],
                         column=[f"seed {s}" for s in table["seed"]])
    wide = cells.pivot_table(index=["quantity", "backbone"], columns="column", values="cell", aggfunc="first",
                             sort=False)
    spread = seed_spread(table).set_index(["quantity", "backbone"])[["min", "max"]]
    wide["spread over seeds"] = [f"{lo:.{digits}f} - {hi:.{digits}f}" for lo, hi in spread.reindex(wide.index).to_numpy()]
    return wide


def tta_budget_text(tta_count: int, chapter_06_count: int) -> str:
    """One sentence: how many TTA perturbations per image the chapter's instability uses, against
    chapter 06's number, and what fewer means for the reference's instability-based values."""
    if tta_count >= chapter_06_count:
        return f"TTA explanation instability uses {tta_count} perturbations per image, as many as chapter 06"
    return (f"TTA explanation instability uses {tta_count} perturbations per image, fewer than chapter 06's "
            f"{chapter_06_count}, to fit the chapter's time budget, so the reference's instability-based "
            "numbers differ somewhat from chapter 06's")


def tta_reference_text(table: pd.DataFrame, chapter_06: pd.DataFrame, reference: str) -> str:
    """Whether the reference replicate, read with this chapter's TTA budget, gives the verdicts
    chapter 06 gives with its own (``tables.replication.chapter06_findings`` rows): the findings
    whose verdict differs are named, with both intervals."""
    ours = table[table["replicate"] == reference].set_index("quantity")
    differ = []
    for r in chapter_06.itertuples():
        against = FINDINGS[r.quantity][0]
        here = ours.loc[r.quantity]
        if position(here["low"], here["high"], against) != position(r.low, r.high, against):
            differ.append(f"{r.quantity}: {interval_text(here['value'], here['low'], here['high'])} here, "
                          f"{interval_text(r.value, r.low, r.high)} in chapter 06")
    if not differ:
        return "the reference gives chapter 06's verdict on both TTA-based findings"
    return "the reference's verdict differs from chapter 06's on " + "; ".join(differ)
