"""Chapter 03's ensemble-diversity table and its verdicts, in words."""
from __future__ import annotations

from typing import Mapping

import pandas as pd

from ..tables.diversity import METRICS, MORE_DIVERSE, NLL_GAIN, SPREAD
from .wording import interval_text, position

SET_NAMES = {"test": "NIH test", "external": "external"}
DIGITS = {SPREAD: 4, NLL_GAIN: 4}  # small quantities: one more decimal than the report's 3


def diversity_display(table: pd.DataFrame) -> pd.DataFrame:
    """One row per set and measure: each design's mean ``value [low, high]``, the paired
    difference against the reference design, its minimum detectable difference (80% power) and
    the direction in which a measure means *more* diverse.

    Args:
        table: :func:`tmvlib.tables.diversity.diversity_by_set`.
    """
    cells = table.assign(cell=[interval_text(v, lo, hi, DIGITS.get(m, 3), signed=k == "difference") for v, lo, hi, k, m
                               in zip(table["value"], table["low"], table["high"], table["kind"], table["metric"])])
    wide = cells.pivot_table(index=["set", "metric"], columns="design", values="cell", aggfunc="first")
    diffs = table[table["kind"] == "difference"].set_index(["set", "metric"])
    if len(diffs):
        mdd = pd.Series({key: f"{d:.{DIGITS.get(key[1], 3)}f}" for key, d in diffs["mdd"].items()})
        wide["detectable (80% power)"] = mdd.reindex(wide.index)  # aligned by (set, metric)
    wide["more diverse when"] = [MORE_DIVERSE[m] for _, m in wide.index]
    order = [(s, m) for s in SET_NAMES for m in METRICS if (s, m) in wide.index]
    wide = wide.reindex(order).rename(index=SET_NAMES, level=0)
    designs = [d for d in table.loc[table["kind"] == "level", "design"].unique()]
    return wide[[*designs, *[c for c in wide.columns if c not in designs]]]


def diversity_verdict(row: Mapping, a: str, b: str) -> str:
    """The paired difference ``a - b`` of one diversity measure in words, read as more or less
    diverse (:data:`tmvlib.tables.diversity.MORE_DIVERSE`); a "no difference" states how large a
    difference the sample could have detected.

    Example: ``"members of the independent design disagree more in pairwise disagreement:
    +0.041 [+0.020, +0.063]"``.
    """
    digits = DIGITS.get(row["metric"], 3)
    diff = interval_text(row["value"], row["low"], row["high"], digits, signed=True)
    where = position(row["low"], row["high"], 0.0)
    if where == "includes":
        return (f"no measurable difference in {row['metric']} between {a} and {b} ({diff}; this sample "
                f"detects differences of about {row['mdd']:.{digits}f} or more)")
    more = (where == "above") == (MORE_DIVERSE[row["metric"]] == "higher")
    return f"{a} is {'more' if more else 'less'} diverse by {row['metric']}: {a} - {b} = {diff}"


def diversity_levels_text(table: pd.DataFrame, set_name: str, metric: str) -> str:
    """``"0.041 [0.030, 0.052] (independent) vs 0.020 [0.012, 0.029] (shared views)"``: each
    design's level of ``metric`` on ``set_name``."""
    rows = table[(table["set"] == set_name) & (table["metric"] == metric) & (table["kind"] == "level")]
    return " vs ".join(f"{interval_text(r.value, r.low, r.high, DIGITS.get(metric, 3))} ({r.design})"
                       for r in rows.itertuples())




def diversity_summary(table: pd.DataFrame, set_name: str, a: str, b: str) -> str:
    """One sentence over every measure compared on ``set_name``: on how many the paired interval
    says ``a`` is more diverse than ``b``, less diverse, or neither.

    Example: ``"on 0 of 4 measures independent is measurably more diverse than shared views, on
    0 less diverse, and on 4 the difference is within what this sample can detect"``.
    """
    rows = table[(table["set"] == set_name) & (table["kind"] == "difference")]
    if rows.empty:
        return f"{a} was not compared with {b}"
    more = less = 0
    for row in rows.to_dict("records"):
        where = position(row["low"], row["high"], 0.0)
        if where != "includes":
            if (where == "above") == (MORE_DIVERSE[row["metric"]] == "higher"):
                more += 1
            else:
                less += 1
    return (f"on {more} of {len(rows)} measures {a} is measurably more diverse than {b}, on {less} "
            f"less diverse, and on {len(rows) - more - less} the difference is within what this sample "
            "can detect")
