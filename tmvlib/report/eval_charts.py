"""Altair charts of model evaluation: ROC and PR curves, training curves."""
from __future__ import annotations

import altair as alt
import pandas as pd


def roc_chart(curves: pd.DataFrame) -> alt.Chart:
    """``curves``: ``fpr, tpr, set`` (one curve per set, e.g. NIH test and external)."""
    diagonal = alt.Chart(pd.DataFrame({"x": [0, 1], "y": [0, 1]})).mark_line(
        strokeDash=[4, 4], color="gray").encode(x="x:Q", y="y:Q")
    lines = alt.Chart(curves).mark_line(interpolate="step-after").encode(
        x=alt.X("fpr:Q", title="1 - specificity (false-positive rate)"),
        y=alt.Y("tpr:Q", title="sensitivity (true-positive rate)"),
        color=alt.Color("set:N", title=None))
    return (diagonal + lines).properties(width=250, height=250, title="ROC")


def pr_chart(curves: pd.DataFrame, prevalence: dict[str, float]) -> alt.Chart:
    """``curves``: ``recall, precision, set``; dashed rules mark each set's prevalence (chance)."""
    rules = alt.Chart(pd.DataFrame({"set": list(prevalence), "prevalence": list(prevalence.values())})
                      ).mark_rule(strokeDash=[4, 4]).encode(y="prevalence:Q", color=alt.Color("set:N", title=None))
    lines = alt.Chart(curves).mark_line(interpolate="step-after").encode(
        x=alt.X("recall:Q", title="recall (sensitivity)"),
        y=alt.Y("precision:Q", title="precision (PPV)", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("set:N", title=None))
    return (lines + rules).properties(width=250, height=250, title="Precision-recall")


def training_curves(history: pd.DataFrame, best_epoch: int) -> alt.Chart:
    """Loss (train, validation) and validation AUROC per epoch; a rule marks the kept epoch."""
    losses = history.melt(id_vars="epoch", value_vars=["train_loss", "val_loss"],
                          var_name="curve", value_name="loss")
    best = alt.Chart(pd.DataFrame({"epoch": [best_epoch]})).mark_rule(color="gray", strokeDash=[3, 3]).encode(x="epoch:Q")
    loss_chart = alt.Chart(losses).mark_line(point=True).encode(
        x=alt.X("epoch:Q", axis=alt.Axis(tickMinStep=1)), y=alt.Y("loss:Q", title="BCE loss"),
        color=alt.Color("curve:N", title=None, legend=alt.Legend(orient="top")))  # side by side: keep it narrow
    auroc_chart = alt.Chart(history).mark_line(point=True, color="#2a7").encode(
        x=alt.X("epoch:Q", axis=alt.Axis(tickMinStep=1)),
        y=alt.Y("val_auroc:Q", title="validation AUROC", scale=alt.Scale(zero=False)))
    return ((loss_chart + best).properties(width=250, height=200)
            | (auroc_chart + best).properties(width=250, height=200))
