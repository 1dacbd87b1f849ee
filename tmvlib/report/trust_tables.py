"""How chapter 07's trust tables are shown: the quadrant counts as a styled wide table, and
interval columns (``value [low, high]`` text, :func:`tmvlib.report.wording.interval_text`) for the
danger-zone rates, the subgroups and the failure modes.

The text columns added to ``danger_by_stability`` and ``failure_modes`` are part of those
parquet files (chapter 07 writes the tables as shown).
"""
from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from .wording import bounds_text, interval_text, p_text

DANGER_STYLE = "background-color: #f8d0cc; font-weight: bold"
QUADRANT_CAPTION = ("Images per trust cell; danger zone (incorrect and confident) highlighted. 'share' is of the set, "
                    "'share of stability' of the images with the same stable/unstable explanation.")
SUBGROUP_COLUMNS = ["grouping", "group", "images", "patients", "positives", "negatives", "AUROC", "smooth ECE", "brier",
                    "error", "too_thin", "reason"]
FAILURE_MODE_COLUMNS = ["mode", "scope", "with it", "without it", "difference (95% CI)", "status", "examples"]


def quadrant_styler(tables: pd.DataFrame):
    """The cell counts of the test and external sets side by side (``tmvlib.tables.quadrants.
    quadrant_tables`` rows: ``cell, set, images, share, share_of_stability, danger``), cells in
    table order, danger-zone cells highlighted: a pandas Styler (counts as integers, shares as
    percentages with one decimal, "-" for none)."""
    wide = tables.pivot(index="cell", columns="set", values=["images", "share", "share_of_stability"])
    wide = wide.reindex(tables["cell"].drop_duplicates()).swaplevel(axis=1)[["test", "external"]]
    wide.columns = [f"{s}: {c.replace('_', ' ')}" for s, c in wide.columns]
    danger_cells = set(tables.loc[tables["danger"], "cell"])

    def highlight(row: pd.Series) -> list[str]:
        return [DANGER_STYLE if row.name in danger_cells else ""] * len(row)

    return (wide.style.format({c: "{:.0f}" if "images" in c else "{:.1%}" for c in wide.columns}, na_rep="-")
            .apply(highlight, axis=1).set_caption(QUADRANT_CAPTION))


def bounds_column(rates: pd.DataFrame) -> pd.Series:
    """``[low, high]`` of each row (3 decimals; "-" without an interval), with the table's
    index: the ``95% CI`` column of the danger-zone rates."""
    return pd.Series([bounds_text(low, high, digits=3) for low, high in zip(rates["low"], rates["high"])],
                     index=rates.index)


def _interval_column(frame: pd.DataFrame, value: str, low: str, high: str, digits: int = 2,
                     signed: bool = False) -> list[str]:
    return [interval_text(v, lo, hi, digits=digits, signed=signed)
            for v, lo, hi in zip(frame[value], frame[low], frame[high])]


def subgroup_display(subgroups: pd.DataFrame) -> pd.DataFrame:
    """The subgroup table as shown: ``tmvlib.tables.trust.subgroup_table`` rows (with the error
    rate) with ``AUROC``, ``smooth ECE`` and ``error`` as ``value [low, high]`` text (2 decimals; "-"
    for a thin group), in :data:`SUBGROUP_COLUMNS` order, numbers rounded to 3 decimals."""
    shown = subgroups.assign(AUROC=_interval_column(subgroups, "auroc", "auroc_low", "auroc_high"),
                             **{"smooth ECE": _interval_column(subgroups, "ece", "ece_low", "ece_high")},
                             error=_interval_column(subgroups, "error_rate", "error_low", "error_high"))
    return shown[SUBGROUP_COLUMNS].round(3)


def mode_rate_text(row: Mapping, key: str) -> str:
    """Error rate of the images with (``key="with"``) or without (``"without"``) a failure mode:
    ``"0.21 [0.12, 0.31] (9/43)"`` from ``<key>_rate, <key>_low, <key>_high, <key>_errors,
    <key>_images`` of a ``failure_mode_table`` row; "-" where the rate is undefined."""
    text = interval_text(row[f"{key}_rate"], row[f"{key}_low"], row[f"{key}_high"], digits=2)
    return text if text == "-" else f"{text} ({row[f'{key}_errors']}/{row[f'{key}_images']})"


def failure_mode_display(failure_modes: pd.DataFrame) -> pd.DataFrame:
    """A copy of the failure-mode table (``tmvlib.tables.failure_modes.candidate_failure_modes``)
    with the text columns ``with it``, ``without it`` (:func:`mode_rate_text`) and ``difference
    (95% CI)`` (signed, 2 decimals; "-" without an interval) appended."""
    out = failure_modes.copy()
    rows = [row for _, row in out.iterrows()]
    out["with it"] = pd.Series([mode_rate_text(r, "with") for r in rows], index=out.index)
    out["without it"] = pd.Series([mode_rate_text(r, "without") for r in rows], index=out.index)
    out["difference (95% CI)"] = pd.Series(_interval_column(out, "difference", "diff_low", "diff_high", signed=True),
                                           index=out.index)
    return out


def endpoint_display(endpoints: pd.DataFrame) -> pd.DataFrame:
    """Chapter 06's primary endpoint and secondary family for the book
    (``tmvlib.tables.endpoints.endpoint_table`` rows): what is compared, the paired difference
    ``a - b`` with its interval, the bootstrap and Holm-adjusted p-values as text (``< 0.001``)
    and the minimum detectable difference, indexed by comparison."""
    def p_or_dash(p: float) -> str:
        return "-" if pd.isna(p) else p_text(p)

    return pd.DataFrame({
        "quantity": endpoints["quantity"], "set": endpoints["set"], "a": endpoints["a"], "b": endpoints["b"],
        "a - b (95% CI)": [interval_text(r.value, r.low, r.high, digits=3, signed=True) for r in endpoints.itertuples()],
        "p": endpoints["p_value"].map(p_or_dash), "Holm p": endpoints["p_holm"].map(p_or_dash),
        "detectable (80% power)": endpoints["mdd"].map(lambda m: f"{m:.3f}"),
    }).set_axis(endpoints["comparison"].tolist())
