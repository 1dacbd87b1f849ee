"""How an out-of-distribution flag behaves on labelled sets: how often it fires, how well its
score separates a shifted population from the in-distribution test set, and whether flagged
predictions are wrong more often. Every number carries a patient-level bootstrap 95% CI
(``tmvlib.metrics.bootstrap``)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..metrics.bootstrap import patient_bootstrap, patient_bootstrap_mean
from ..metrics.discrimination import auroc, group_mean_difference
from ..metrics.frames import require_columns


def flag_table(frame: pd.DataFrame, flag: str = "flagged", by: str = "set", n_boot: int = 1000,
               seed: int = 0) -> pd.DataFrame:
    """Per group of ``by``: images, flagged images, the flag rate with its CI and, where a
    ``correct`` column exists, the error rate among flagged and unflagged images and their
    difference (flagged - unflagged) with CIs (NaN when a side is empty).

    ``frame``: one row per image with ``patient_id``, bool ``flag`` and ``by``.
    """
    require_columns(frame, ["patient_id", flag, by], "flag_table")
    rows = []
    for group, part in frame.groupby(by, sort=False):
        flags = part[flag].astype(bool).to_numpy()
        patients = part["patient_id"].to_numpy()
        rate = patient_bootstrap_mean(flags.astype(float), patients, n_boot=n_boot, seed=seed)
        row = {by: group, "images": len(part), "flagged": int(flags.sum()), "flag_rate": rate.value,
               "flag_low": rate.low, "flag_high": rate.high}
        if "correct" in part.columns:
            errors = (~part["correct"].astype(bool)).to_numpy().astype(float)
            for name, side in (("flagged", flags), ("unflagged", ~flags)):
                if side.any():
                    ci = patient_bootstrap_mean(np.where(side, errors, np.nan), patients, n_boot=n_boot, seed=seed)
                    row |= {f"error_{name}": ci.value, f"error_{name}_low": ci.low, f"error_{name}_high": ci.high}
                else:
                    row |= {f"error_{name}": np.nan, f"error_{name}_low": np.nan, f"error_{name}_high": np.nan}
            if flags.any() and (~flags).any():
                diff = patient_bootstrap(group_mean_difference, flags.astype(int), errors, patients,
                                         n_boot=n_boot, seed=seed)
                row |= {"difference": diff.value, "difference_low": diff.low, "difference_high": diff.high}
            else:
                row |= {"difference": np.nan, "difference_low": np.nan, "difference_high": np.nan}
        rows.append(row)
    return pd.DataFrame(rows)


def separation_auroc(frame: pd.DataFrame, score: str, shifted, by: str = "set", n_boot: int = 1000,
                     seed: int = 0):
    """AUROC of ``score`` for telling rows whose ``by`` equals ``shifted`` from the others
    (0.5: the score cannot tell the populations apart), with a patient-bootstrap CI."""
    require_columns(frame, ["patient_id", score, by], "separation_auroc")
    labels = (frame[by] == shifted).astype(int).to_numpy()
    if labels.min() == labels.max():
        raise ValueError(f"separation_auroc needs rows of both {shifted!r} and another {by}")
    return patient_bootstrap(auroc, labels, frame[score].to_numpy(dtype=float), frame["patient_id"].to_numpy(),
                             n_boot=n_boot, seed=seed)


def fired_checks(frame: pd.DataFrame, columns, by: str = "set") -> pd.DataFrame:
    """Per group of ``by``: how many images each out-of-distribution check flagged (an image can
    fire several) and how many any of them flagged. ``columns``: check name -> its bool column
    (``tmvlib.card.reference.ood_flag_frame``'s ``fired: <check>``); ``flagged`` is read too."""
    columns = dict(columns)
    require_columns(frame, [by, *columns.values(), "flagged"], "fired_checks")
    table = frame.groupby(by, sort=False)[[*columns.values(), "flagged"]].sum().astype(int)
    return table.rename(columns={**{c: name for name, c in columns.items()}, "flagged": "any (the card defers)"})
