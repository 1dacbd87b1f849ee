"""Charts of the deferral rules (chapter 07): the realised error over patient-level re-splits."""
from __future__ import annotations

import altair as alt
import pandas as pd


def resplit_histogram(draws: pd.DataFrame, max_error: float, title: str, bins: int = 30) -> alt.Chart:
    """``draws``: ``tmvlib.tables.abstention.resplit_draws`` rows. Per score (columns) and rule
    (rows), the histogram of the realised error among answered cases on the evaluation half, with
    the target as a dashed line; draws that answered nothing are left out (their error is
    undefined; the chapter counts them)."""
    data = draws.dropna(subset=["error among answered"])[["score", "rule", "error among answered"]]
    bars = alt.Chart(data).mark_bar(opacity=0.8).encode(
        x=alt.X("error among answered:Q", bin=alt.Bin(maxbins=bins),
                title="realised error among answered cases (evaluation half)"),
        y=alt.Y("count():Q", title="re-splits"),
        color=alt.Color("rule:N", title="rule", legend=None),
        tooltip=["score", "rule", alt.Tooltip("count():Q", title="re-splits")])
    target = alt.Chart(pd.DataFrame({"x": [max_error]})).mark_rule(
        strokeDash=[4, 4], color="firebrick").encode(x="x:Q")
    return (bars + target).properties(width=240, height=140).facet(
        row=alt.Row("rule:N", title=None), column=alt.Column("score:N", title=None), data=data
    ).properties(title=title)
