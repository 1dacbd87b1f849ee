"""The generated "which explanation, when" table and paragraph, from known intervals."""
import pandas as pd

from tmvlib.report.explanation_choice import choice_summary, explanation_choice
from tmvlib.report.literature_table import side_by_side
from tmvlib.tables.literature import LOCALISATION_LITERATURE


def _diff(method, quantity, value, low, high):
    return {"method": method, "quantity": quantity, "value": value, "low": low, "high": high}


def test_cells_follow_the_intervals_and_the_direction():
    loc = pd.DataFrame([_diff("Grad-CAM", "AUPRC of map pixels vs box", 0.1, 0.05, 0.15),
                        _diff("Grad-CAM", "pointing game (15 px)", 0.0, -0.1, 0.1),
                        _diff("Score-CAM", "AUPRC of map pixels vs box", -0.1, -0.15, -0.05)])
    faith = pd.DataFrame([_diff("Grad-CAM", "deletion", -0.05, -0.08, -0.02),
                          _diff("Score-CAM", "deletion", 0.05, 0.02, 0.08),
                          _diff("Score-CAM", "insertion", 0.05, 0.02, 0.08)])
    table = explanation_choice(loc, faith, {"Grad-CAM": "passes", "Score-CAM": "fails"},
                               {"Grad-CAM": 0.05, "Score-CAM": 9.0})
    assert table.iloc[0]["Grad-CAM"].startswith("yes") and table.iloc[0]["Score-CAM"].startswith("no (worse)")
    assert table.iloc[1]["Grad-CAM"].startswith("cannot tell") and table.iloc[1]["Score-CAM"] == "not measured"
    assert table.iloc[3]["Grad-CAM"].startswith("yes")  # lower deletion is better
    assert table.iloc[3]["Score-CAM"].startswith("no (worse)") and table.iloc[4]["Score-CAM"].startswith("yes")
    assert table.loc["passes the randomisation checks (model and data)", "Score-CAM"] == "fails"
    none = pd.DataFrame([{"quantity": "AUPRC", "value": 0.0, "low": -0.1, "high": 0.1, "higher_is_better": True}])
    text = choice_summary(table, none)
    assert ("Grad-CAM localises pneumonia better than its prior map on the declared primary metric (AUPRC) "
            "(the pointing game and the IoU, descriptive: better on 0 of 2)") in text
    assert "Score-CAM localises pneumonia worse than its prior map on the declared primary metric" in text
    assert "cannot be told apart" in text and "the cheaper Grad-CAM is the default" in text
    seen = pd.DataFrame([{"quantity": "deletion", "value": 0.05, "low": 0.02, "high": 0.08, "higher_is_better": False}])
    assert "Grad-CAM is better on deletion" in choice_summary(table, seen)


def test_side_by_side_keeps_every_published_entry_with_its_source():
    ours = pd.DataFrame([_diff("Grad-CAM", "AUPRC of map pixels vs box", 0.2, 0.1, 0.3)])
    table = side_by_side(ours, "NIH", "Pneumonia", LOCALISATION_LITERATURE)
    assert len(table) == 1 + len(LOCALISATION_LITERATURE)
    assert table.loc[0, "value"] == "0.200 [0.100, 0.300]" and table.loc[0, "study"] == "this report"
    assert table["source"].str.len().min() > 0
    assert (table["value"] == "0.160 to 0.519 (range over methods)").sum() == 1
