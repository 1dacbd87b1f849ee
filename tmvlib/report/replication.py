"""The replication chapter's verdicts: does each finding of the report hold in every replicate?"""
from __future__ import annotations

import pandas as pd

from ..tables.replication import FINDINGS
from .wording import position


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
