"""Altair charts of the explanation chapters: sanity cascade, heat by region, localisation."""
from __future__ import annotations

import altair as alt
import pandas as pd


def region_chart(table: pd.DataFrame, group: str, title: str) -> alt.Chart:
    """``table``: region_table rows (``quantity, value, low, high, area``) with a ``group``
    column; bars = mean energy share with its interval, ticks = the region's area share (what a
    uniform map would get)."""
    base = alt.Chart(table).encode(y=alt.Y("quantity:N", title=None),
                                   yOffset=alt.YOffset(f"{group}:N"),
                                   color=alt.Color(f"{group}:N"))
    bars = base.mark_bar(opacity=0.7).encode(
        x=alt.X("value:Q", title="share of heatmap energy", scale=alt.Scale(domain=[0, 1])),
        tooltip=[group, "quantity", alt.Tooltip("value:Q", format=".3f"),
                 alt.Tooltip("low:Q", format=".3f"), alt.Tooltip("high:Q", format=".3f"),
                 alt.Tooltip("area:Q", format=".3f")])
    errors = base.mark_errorbar(color="black").encode(x="low:Q", x2="high:Q")
    area = base.mark_tick(color="black", thickness=2, size=14).encode(x="area:Q")
    return (bars + errors + area).properties(width=380, height=220, title=title)


def interval_chart(table: pd.DataFrame, color: str, title: str,
                   domain: tuple[float, float] | None = (0, 1)) -> alt.Chart:
    """Point-and-interval chart: ``quantity, value, low, high`` with a ``color`` column (e.g.
    method), one row per quantity; ``domain`` of the x axis (None: fitted, with a rule at 0 for
    differences)."""
    base = alt.Chart(table).encode(y=alt.Y(f"{color}:N", title=None),
                                   color=alt.Color(f"{color}:N", legend=None))
    points = base.mark_point(filled=True, size=60).encode(
        x=alt.X("value:Q", title=None, scale=alt.Scale(domain=list(domain)) if domain else alt.Scale(zero=True)),
        tooltip=[color, "quantity", alt.Tooltip("value:Q", format=".3f"),
                 alt.Tooltip("low:Q", format=".3f"), alt.Tooltip("high:Q", format=".3f")])
    rules = base.mark_rule().encode(x="low:Q", x2="high:Q")
    layers = rules + points
    if domain is None:
        layers = layers + alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(
            strokeDash=[4, 4], color="gray").encode(x="x:Q")
    return layers.properties(width=220, height=90).facet(
        facet=alt.Facet("quantity:N", title=None), columns=2).properties(title=title)


def sanity_interval_chart(table: pd.DataFrame, title: str, threshold: float | None = None) -> alt.Chart:
    """``table``: ``tmvlib.tables.explanation.sanity_table`` rows. Per test (columns) and
    randomisation step (x, in step order), the mean |Spearman| and SSIM of randomised against
    trained maps with their 95% intervals; an optional dashed ``threshold`` (the pass rule)."""
    data = table[table["quantity"].isin(["|Spearman|", "SSIM"])].dropna(subset=["value"])
    order = list(dict.fromkeys(data.sort_values("step")["layer"]))
    base = alt.Chart(data).encode(x=alt.X("layer:N", sort=order, title="randomised"),
                                  color=alt.Color("quantity:N", title=None),
                                  xOffset=alt.XOffset("quantity:N"))
    points = base.mark_point(filled=True, size=50).encode(
        y=alt.Y("value:Q", title="similarity to the trained map", scale=alt.Scale(domain=[-0.2, 1])),
        tooltip=["test", "layer", "quantity", alt.Tooltip("value:Q", format=".3f"),
                 alt.Tooltip("low:Q", format=".3f"), alt.Tooltip("high:Q", format=".3f"), "images", "missing"])
    layers = base.mark_rule().encode(y="low:Q", y2="high:Q") + points
    if threshold is not None:
        layers = layers + alt.Chart(pd.DataFrame({"y": [threshold]})).mark_rule(
            strokeDash=[4, 4], color="firebrick").encode(y="y:Q")
    return layers.properties(width=alt.Step(28), height=200).facet(
        column=alt.Column("test:N", title=None, sort=["cascading", "independent", "data"])
    ).resolve_scale(x="independent").properties(title=title)
