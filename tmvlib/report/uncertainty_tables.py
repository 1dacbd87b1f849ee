"""Display tables of chapter 03: each number with its interval as one text cell, ready to show."""
from __future__ import annotations

import pandas as pd

from .wording import difference_verdict, interval_column, p_details, p_text

SET_ORDER = ("test", "external")
METHOD_ORDER = ("baseline", "MC dropout", "ensemble")
CALIBRATION_ORDER = ("none", "temperature", "Platt", "isotonic")


def _ordered(table: pd.DataFrame, calibrations=CALIBRATION_ORDER) -> pd.DataFrame:
    index = pd.MultiIndex.from_product([SET_ORDER, METHOD_ORDER, calibrations],
                                       names=["set", "method", "calibration"])
    return table.reindex([i for i in index if i in table.index])


def calibration_display(levels: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Guo et al. (2017) style table: one row per set, method and calibration, one column per
    metric in ``columns`` as ``value [low, high]``, plus ``<headline>: p (calibrated)``, the
    consistency-resampling p-value of perfect calibration for the headline error.

    Args:
        levels: :func:`tmvlib.tables.uncertainty.calibration_levels`.
        columns: metric names in display order (the first is the headline).
    """
    levels = levels.assign(cell=interval_column(levels))
    table = levels.pivot_table(index=["set", "base_method", "calibration"], columns="metric",
                               values="cell", aggfunc="first")
    headline = levels[levels["metric"] == columns[0]].set_index(["set", "base_method", "calibration"])
    test_column = f"{columns[0]}: p (calibrated)"
    table[test_column] = headline["p_calibrated"].map(p_text)
    table.index.names = ["set", "method", "calibration"]
    return _ordered(table)[[columns[0], test_column, *columns[1:]]]


def changes_display(changes: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The paired change of each metric against the uncalibrated method, as
    ``difference [low, high]`` (negative: the calibration lowered it), one column per metric in
    ``columns``; rows as :func:`calibration_display` without ``none``.

    Args:
        changes: :func:`tmvlib.tables.uncertainty.calibration_changes`.
    """
    changes = changes.assign(cell=interval_column(changes, signed=True))
    table = changes.pivot_table(index=["set", "base_method", "calibration"], columns="metric",
                                values="cell", aggfunc="first")
    table.index.names = ["set", "method", "calibration"]
    table = _ordered(table, CALIBRATION_ORDER[1:])[columns]
    return table.rename(columns={c: f"Δ {c}" for c in columns})


def family_display(family: pd.DataFrame) -> pd.DataFrame:
    """The chapter's family of paired comparisons: what is compared, the difference with its
    interval, the raw and Holm-adjusted p-values, the minimum detectable difference (80% power)
    and the verdict in words (:func:`tmvlib.report.wording.difference_verdict`).

    Args:
        family: paired-difference rows with ``set, compared, against, metric, value, low, high,
            p_value, p_holm, mdd`` (:func:`tmvlib.tables.uncertainty.with_holm`).
    """
    rows = []
    for row in family.to_dict("records"):
        rows.append({"set": row["set"], "comparison": f"{row['compared']} - {row['against']}",
                     "metric": row["metric"],
                     "difference": interval_column(pd.DataFrame([row]), signed=True).iloc[0],
                     "p": p_text(row["p_value"]), "Holm p": p_text(row["p_holm"]),
                     "detectable": f"{row['mdd']:.3f}",
                     "verdict": difference_verdict(row["value"], row["low"], row["high"],
                                                   row["compared"], row["against"], row["metric"],
                                                   mdd=row["mdd"], **p_details(row))})
    return pd.DataFrame(rows)


def prior_shift_display(levels: pd.DataFrame, changes: pd.DataFrame, target: float) -> pd.DataFrame:
    """One row per method: the mean probability, NLL and smooth ECE of its probabilities at
    prevalence ``target`` (test images reweighted), as calibrated and after the prior-shift
    correction, and the paired changes (:func:`tmvlib.tables.uncertainty.prior_shift_tables`)."""
    levels = levels.assign(cell=interval_column(levels))
    table = levels.pivot_table(index="method", columns="probabilities", values="cell", aggfunc="first")
    mean = levels.pivot_table(index="method", columns="probabilities", values="mean p", aggfunc="first")
    loss = levels.assign(cell=interval_column(levels, columns=("nll", "nll_low", "nll_high")))
    loss = loss.pivot_table(index="method", columns="probabilities", values="cell", aggfunc="first")
    delta = {metric: part.set_index("method").pipe(interval_column, signed=True)
             for metric, part in changes.groupby("metric")}
    out = pd.DataFrame({
        "mean p, as calibrated": mean["as calibrated"].map("{:.3f}".format),
        "mean p, corrected": mean["prior-shift corrected"].map("{:.3f}".format),
        "NLL, as calibrated": loss["as calibrated"], "NLL, corrected": loss["prior-shift corrected"],
        "Δ NLL": delta["NLL"],
        "smooth ECE, as calibrated": table["as calibrated"],
        "smooth ECE, corrected": table["prior-shift corrected"],
        "Δ smooth ECE": delta["smooth ECE"],
    })
    out.columns.name = f"at prevalence {target:.0%}"
    return out
