"""Altair charts of the data chapter."""
from __future__ import annotations

import altair as alt
import pandas as pd


def age_by_split(splits: pd.DataFrame, class_names: dict[int, str]) -> alt.Chart:
    """Age histograms, one panel per split, coloured by class."""
    data = splits.assign(**{"class": splits["label"].map(class_names)})[["age", "split", "class"]]
    return alt.Chart(data.dropna()).mark_bar(opacity=0.7).encode(
        x=alt.X("age:Q", bin=alt.Bin(step=5), title="age (years)"),
        y=alt.Y("count():Q", stack=None, title="images"),
        color=alt.Color("class:N", title=None),
        row=alt.Row("split:N", sort=["train", "val", "test"], title=None),
    ).properties(width=480, height=90)


def share_by_split(splits: pd.DataFrame, column: str, class_names: dict[int, str]) -> alt.Chart:
    """Share of images per value of ``column`` (e.g. sex, view) for each split and class.

    Combine several with ``share_by_split(...) | share_by_split(...)``; colours are per chart.
    """
    data = (splits.assign(**{"class": splits["label"].map(class_names)})
            .groupby(["split", "class", column]).size().rename("images").reset_index())
    return alt.Chart(data).mark_bar().encode(
        y=alt.Y("class:N", title=None),
        x=alt.X("images:Q", stack="normalize", title=f"share by {column}"),
        color=alt.Color(f"{column}:N"),
        row=alt.Row("split:N", sort=["train", "val", "test"], title=None),
        tooltip=["split", "class", column, "images"],
    ).properties(width=180, height=50)

