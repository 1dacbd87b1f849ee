"""Altair charts of the stability and trust chapters."""
from __future__ import annotations

import altair as alt
import pandas as pd

from ..contracts.scores import constant_map_column

#: shapes of the trust scatter: a blank (constant) map has no instability to measure, the chapter
#: fills it with the validation maximum (``tables.trust_cells.fill_constant_maps``)
MAP_SHAPES = {"measured": "circle", "blank map (instability filled)": "cross"}


def instability_chart(summary: pd.DataFrame, title: str) -> alt.Chart:
    """``summary``: per-image stability (``set, source, instability``); box plots per source,
    one row per set."""
    data = summary[["set", "source", "instability"]].dropna()
    return alt.Chart(data).mark_boxplot(extent="min-max").encode(
        x=alt.X("instability:Q", title="instability = 1 - mean Spearman with the unperturbed map"),
        y=alt.Y("source:N", title=None),
        color=alt.Color("source:N", legend=None),
        row=alt.Row("set:N", title=None),
    ).properties(width=380, height=80, title=title)


def risk_coverage_by_score_chart(curves: pd.DataFrame, title: str, max_points: int = 300) -> alt.Chart:
    """``curves``: ``score, coverage, risk, set`` (``tmvlib.tables.error_detection.risk_coverage_rows``);
    one line per score, one panel per set; each curve thinned to at most ``max_points``."""
    thinned = [g.iloc[::max(1, len(g) // max_points)] for _, g in curves.groupby(["set", "score"])]
    data = pd.concat(thinned)[["set", "score", "coverage", "risk"]]
    return alt.Chart(data).mark_line().encode(
        x=alt.X("coverage:Q", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("risk:Q", title="error rate of kept images"),
        color=alt.Color("score:N"),
        column=alt.Column("set:N", title=None),
    ).properties(width=250, height=200, title=title)


def trust_scatter(frame: pd.DataFrame, x: str, y: str, title: str,
                  x_threshold: float | None = None, y_threshold: float | None = None) -> alt.Chart:
    """Interactive scatter: ``x`` (uncertainty) vs ``y`` (instability), coloured by
    correctness, tooltips with image id, label, probability; dashed rules at the thresholds.
    Where ``frame`` has ``y``'s constant-map column (``contracts.scores.constant_map_column``), a
    blank map's point is a cross (``MAP_SHAPES``): its instability is a fill, not a measurement.
    Drag to zoom, shift-click the legend to isolate a group."""
    data = frame.assign(outcome=frame["correct"].map({True: "correct", False: "wrong"}))
    blank = constant_map_column(y)
    if blank in data:
        data["map"] = data[blank].astype(bool).map({False: "measured", True: "blank map (instability filled)"})
    cols = [c for c in ("image_id", "label", "prob", x, y, "outcome", "map", "quadrant", "set") if c in data]
    legend = alt.selection_point(fields=["outcome"], bind="legend")
    shape = {} if "map" not in data else {"shape": alt.Shape("map:N", title="Grad-CAM map", scale=alt.Scale(
        domain=list(MAP_SHAPES), range=list(MAP_SHAPES.values())))}
    points = alt.Chart(data[cols]).mark_point(size=45, filled=True).encode(
        x=alt.X(f"{x}:Q", title=x), y=alt.Y(f"{y}:Q", title=y),
        color=alt.Color("outcome:N", scale=alt.Scale(domain=["correct", "wrong"],
                                                     range=["#4c78a8", "#e45756"])),
        opacity=alt.condition(legend, alt.value(0.8), alt.value(0.1)),
        tooltip=[c for c in cols if c != "outcome"] + ["outcome"], **shape,
    ).add_params(legend).interactive()
    layers = [points]
    if x_threshold is not None:
        layers.append(alt.Chart(pd.DataFrame({"v": [x_threshold]})).mark_rule(
            strokeDash=[4, 4], color="gray").encode(x="v:Q"))
    if y_threshold is not None:
        layers.append(alt.Chart(pd.DataFrame({"v": [y_threshold]})).mark_rule(
            strokeDash=[4, 4], color="gray").encode(y="v:Q"))
    return alt.layer(*layers).properties(width=420, height=320, title=title)
