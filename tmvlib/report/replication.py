"""The replication chapter's verdicts: does each finding of the report hold in every replicate?"""
from __future__ import annotations

import pandas as pd

from ..tables.replication import FINDINGS, seed_spread
from .wording import interval_text, position


def finding_verdicts(table: pd.DataFrame, reference: str) -> pd.DataFrame:
    """Per finding (:data:`FINDINGS`) and replicate: where its interval lies against the
    finding's reference value (``"above"``, ``"below"``, ``"includes"``), and whether that is
    the verdict of the ``reference`` replicate.

    Args:
        table: stacked :func:`replicate_quantities` with a ``replicate`` column.
        reference: the replicate whose verdicts are the report's findings.
    Returns:
        ``quantity, replicate, position, reference_position, holds``.
    """
    rows = []
    for quantity, (against, _) in FINDINGS.items():
        part = table[table["quantity"] == quantity]
        if part.empty:
            continue
        where = {r.replicate: position(r.low, r.high, against) for r in part.itertuples()}
        if reference not in where:
            raise KeyError(f"reference replicate {reference!r} lacks {quantity!r}")
        rows += [{"quantity": quantity, "replicate": name, "position": pos, "reference_position": where[reference],
                  "holds": pos == where[reference]} for name, pos in where.items()]
    return pd.DataFrame(rows)


def holds_text(verdicts: pd.DataFrame, quantity: str) -> str:
    """``"holds in 9/9 configurations"`` (or ``"holds in 4/9: not in efficientnet_lite2 · seed 1,
    ..."``) for one finding of :func:`finding_verdicts`."""
    part = verdicts[verdicts["quantity"] == quantity]
    held = int(part["holds"].sum())
    text = f"holds in {held}/{len(part)} configurations"
    if held < len(part):
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
    "smooth ECE change from temperature scaling, NIH test": (
        "temperature scaling raises the smooth ECE on NIH test",
        "temperature scaling makes no measurable difference to the smooth ECE on NIH test",
        "temperature scaling lowers the smooth ECE on NIH test"),
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
