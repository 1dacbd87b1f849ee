"""Altair charts of the explanation chapters: sanity cascade, heat by region, localisation."""
from __future__ import annotations

import altair as alt
import pandas as pd


def sanity_chart(rows: pd.DataFrame, title: str, threshold: float | None = None) -> alt.Chart:
    """``rows``: sanity rows (``step, layer, spearman, ssim, image_id``). Thin lines per image,
    the median over images in bold, for Spearman and SSIM side by side; x = layers randomised
    from the head down; an optional dashed ``threshold`` on Spearman."""
    long = rows.melt(id_vars=["step", "layer", "image_id"], value_vars=["spearman", "ssim"],
                     var_name="similarity", value_name="value")
    order = list(dict.fromkeys(rows.sort_values("step")["layer"]))
    x = alt.X("layer:N", sort=order, title="randomised down to (cumulative, from the head)")
    base = alt.Chart(long)
    per_image = base.mark_line(opacity=0.25, color="gray").encode(
        x=x, y=alt.Y("value:Q", title="similarity to the trained model's map",
                     scale=alt.Scale(domain=[-1, 1])), detail="image_id:N")
    median = base.mark_line(point=True, strokeWidth=3).encode(
        x=x, y="median(value):Q", tooltip=["layer", alt.Tooltip("median(value):Q", format=".3f")])
    layers = per_image + median
    if threshold is not None:
        rule = alt.Chart(pd.DataFrame({"y": [threshold, -threshold], "similarity": "spearman"})
                         ).mark_rule(strokeDash=[4, 4], color="firebrick").encode(y="y:Q")
        layers = layers + rule
    return layers.properties(width=300, height=220).facet(
        column=alt.Column("similarity:N", title=None)).properties(title=title)


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


def interval_chart(table: pd.DataFrame, color: str, title: str) -> alt.Chart:
    """Point-and-interval chart: ``quantity, value, low, high`` with a ``color`` column (e.g.
    method), one row per quantity."""
    base = alt.Chart(table).encode(y=alt.Y(f"{color}:N", title=None),
                                   color=alt.Color(f"{color}:N", legend=None))
    points = base.mark_point(filled=True, size=60).encode(
        x=alt.X("value:Q", title=None, scale=alt.Scale(domain=[0, 1])),
        tooltip=[color, "quantity", alt.Tooltip("value:Q", format=".3f"),
                 alt.Tooltip("low:Q", format=".3f"), alt.Tooltip("high:Q", format=".3f")])
    rules = base.mark_rule().encode(x="low:Q", x2="high:Q")
    return (rules + points).properties(width=220, height=90).facet(
        facet=alt.Facet("quantity:N", title=None), columns=2).properties(title=title)
