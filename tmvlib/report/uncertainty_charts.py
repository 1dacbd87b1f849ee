"""Altair charts of chapter 03: reliability diagrams (binned and smooth), risk-coverage curves,
score distributions."""
from __future__ import annotations

import altair as alt
import pandas as pd


def reliability_chart(table: pd.DataFrame, title: str) -> alt.Chart:
    """``table``: reliability rows (``confidence, observed, count, lower, upper``) with ``method``.

    Points sized by count on the diagonal's plot; hover shows the bin.
    """
    data = table.dropna(subset=["confidence"])
    diagonal = alt.Chart(pd.DataFrame({"x": [0, 1], "y": [0, 1]})).mark_line(
        strokeDash=[4, 4], color="gray").encode(x="x:Q", y="y:Q")
    lines = alt.Chart(data).mark_line(point=False, opacity=0.6).encode(
        x=alt.X("confidence:Q", title="mean predicted P(positive) in bin", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("observed:Q", title="observed frequency of positives", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("method:N"))
    points = alt.Chart(data).mark_circle().encode(
        x="confidence:Q", y="observed:Q", color="method:N",
        size=alt.Size("count:Q", title="images in bin"),
        tooltip=["method", alt.Tooltip("lower:Q", format=".2f"), alt.Tooltip("upper:Q", format=".2f"),
                 alt.Tooltip("confidence:Q", format=".3f"), alt.Tooltip("observed:Q", format=".3f"), "count"])
    return (diagonal + lines + points).properties(width=260, height=260, title=title)


def smooth_reliability_chart(curves: pd.DataFrame, title: str, color: str = "method") -> alt.Chart:
    """Smooth reliability diagram (Błasiok & Nakkiran 2024): one curve per ``color`` value.

    ``curves``: rows of :func:`tmvlib.tables.uncertainty.smooth_reliability_rows` (``predicted,
    observed, density`` and the ``color`` column). Each curve is a trail whose width follows the
    density of the predictions, so stretches with few images (where the curve extrapolates) are
    drawn thin; the dashed diagonal is perfect calibration.
    """
    diagonal = alt.Chart(pd.DataFrame({"x": [0, 1], "y": [0, 1]})).mark_line(
        strokeDash=[4, 4], color="gray").encode(x="x:Q", y="y:Q")
    trails = alt.Chart(curves).mark_trail(opacity=0.8).encode(
        x=alt.X("predicted:Q", title="predicted P(positive)", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("observed:Q", title="smoothed frequency of positives", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color(f"{color}:N"),
        size=alt.Size("density:Q", title="density of predictions", scale=alt.Scale(range=[0.5, 6])),
        detail=f"{color}:N",
        tooltip=[color, alt.Tooltip("predicted:Q", format=".2f"), alt.Tooltip("observed:Q", format=".3f"),
                 alt.Tooltip("density:Q", format=".2f")])
    return (diagonal + trails).properties(width=260, height=260, title=title)


def risk_coverage_chart(curves: pd.DataFrame, title: str) -> alt.Chart:
    """``curves``: ``coverage, risk, method, score``; one line per method, faceted by score."""
    return alt.Chart(curves).mark_line().encode(
        x=alt.X("coverage:Q", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("risk:Q", title="error rate of kept images"),
        color="method:N",
        column=alt.Column("score:N", title=None),
    ).properties(width=170, height=170, title=title)


def score_distribution_chart(frame: pd.DataFrame, column: str, title: str) -> alt.Chart:
    """Box plots of an uncertainty score per method, NIH test vs external."""
    return alt.Chart(frame).mark_boxplot(extent="min-max").encode(
        x=alt.X(f"{column}:Q", title=title),
        y=alt.Y("set:N", title=None),
        color=alt.Color("set:N", legend=None),
        row=alt.Row("method:N", title=None),
    ).properties(width=360, height=60)
