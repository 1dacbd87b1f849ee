import numpy as np
import pandas as pd

from tmvlib.tables.subgroup_differences import subgroup_differences
from tmvlib.tables.subgroups import subgroup_table


def by_sex(n=400, seed=0):
    """F: informative probabilities; M: noise, so F's AUROC is higher; every third image AP."""
    rng = np.random.default_rng(seed)
    sex = np.where(np.arange(n) % 2 == 0, "F", "M")
    label = rng.integers(0, 2, n)
    prob = np.where(sex == "F", 0.3 * label + 0.7 * rng.random(n), rng.random(n))
    view = np.where(np.arange(n) % 3 == 0, "AP", "PA")
    return pd.DataFrame({"label": label, "prob": prob, "patient_id": np.arange(n), "sex": sex, "view": view})


def test_pairs_of_reportable_groups_with_holm():
    frame = by_sex()
    groups = {"sex": "sex", "view": "view"}
    subgroups = subgroup_table(frame, groups, n_boot=50)
    d = subgroup_differences(frame, subgroups, groups, n_boot=200)
    assert d[["grouping", "a", "b"]].values.tolist() == [["sex", "F", "M"], ["view", "AP", "PA"]]
    sex_row = d.iloc[0]
    assert sex_row["low"] > 0 and sex_row["low"] <= sex_row["value"] <= sex_row["high"]
    assert (d["p_holm"] >= d["p_value"]).all()


def test_no_pair_gives_an_empty_table():
    frame = pd.DataFrame({"label": [0, 1] * 5, "prob": np.linspace(0, 1, 10), "patient_id": range(10),
                          "sex": ["F"] * 10})
    subgroups = subgroup_table(frame, {"sex": "sex"}, n_boot=10, min_positives=1, min_negatives=1)
    d = subgroup_differences(frame, subgroups, {"sex": "sex"}, n_boot=10)
    assert d.empty and "p_holm" in d.columns


def test_one_group_difference_and_the_ranking_column():
    from tmvlib.tables.subgroup_differences import group_auroc_difference

    frame = by_sex(300, seed=1)
    d = group_auroc_difference(frame, "sex", "F", "M", n_boot=100)
    assert d.low <= d.value <= d.high and d.value > 0
    groups = {"sex": "sex"}
    ranked = frame.assign(aligned=frame["prob"], prob=0.5)  # rank by another column, calibration reads prob
    table = subgroup_table(ranked, groups, n_boot=20, score="aligned")
    assert table.set_index("group").loc["F", "auroc"] == subgroup_table(frame, groups, n_boot=20).set_index(
        "group").loc["F", "auroc"]
    assert subgroup_differences(ranked, table, groups, n_boot=100, score="aligned")["value"].iloc[0] == d.value
