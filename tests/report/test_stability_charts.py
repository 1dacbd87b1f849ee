import pandas as pd

from tmvlib.contracts.scores import TTA_CONSTANT_MAP, TTA_INSTABILITY
from tmvlib.report.stability_charts import MAP_SHAPES, trust_scatter


def _frame(**extra):
    return pd.DataFrame({"image_id": ["a", "b"], "label": [1, 0], "prob": [0.9, 0.2], "correct": [True, False],
                         "decision uncertainty": [0.1, 0.6], TTA_INSTABILITY: [0.2, 1.25], **extra})


def test_a_blank_map_is_drawn_apart_from_a_measured_one():
    chart = trust_scatter(_frame(**{TTA_CONSTANT_MAP: [False, True]}), "decision uncertainty", TTA_INSTABILITY,
                          "t", 0.5, 0.5).to_dict()
    points = chart["layer"][0]
    assert points["encoding"]["shape"]["scale"]["domain"] == list(MAP_SHAPES)
    rows = chart["datasets"][points["data"]["name"]]
    assert [r["map"] for r in rows] == ["measured", "blank map (instability filled)"]


def test_without_the_constant_map_column_every_point_is_one_shape():
    points = trust_scatter(_frame(), "decision uncertainty", TTA_INSTABILITY, "t").to_dict()["layer"][0]
    assert "shape" not in points["encoding"]
