"""The example cards chapter 08 shows, picked by fixed rules from its labelled images."""
from __future__ import annotations

import pandas as pd


def example_picks(labelled: pd.DataFrame, threshold: float) -> dict[str, pd.DataFrame]:
    """One-row frames keyed by title (empty where nothing qualifies):

    - the most confident correct and the most confident wrong NIH test prediction, confidence
      being the probability's distance from the decision ``threshold``;
    - the external (Kermany) image at the median ``feature distance``.

    labelled: rows with ``set, prob, correct, feature distance``.
    """
    test = labelled[labelled["set"] == "test"].assign(
        distance_from_threshold=lambda f: (f["prob"] - threshold).abs())
    picks = {"most confident correct NIH test prediction":
             test[test["correct"]].nlargest(1, "distance_from_threshold"),
             "most confident wrong NIH test prediction":
             test[~test["correct"]].nlargest(1, "distance_from_threshold")}
    external = labelled[labelled["set"] == "external"]
    median = external["feature distance"].median()
    picks["Kermany image at the median feature distance"] = external.iloc[
        [int((external["feature distance"] - median).abs().argmin())]] if len(external) else external
    return picks
