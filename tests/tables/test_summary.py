import numpy as np
import pandas as pd
import pytest

from tmvlib.metrics.discrimination import auroc, thresholded_metrics
from tmvlib.metrics.subgroups import subgroup_auroc
from tmvlib.report.wording import interval_column
from tmvlib.report.literature_table import published_comparison_text
from tmvlib.tables.summary import metric_summary, official_test_list_summary


def predictions(n=120, seed=0):
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    return pd.DataFrame({"label": label, "prob": np.clip(label * 0.3 + rng.random(n) * 0.7, 0, 1),
                         "patient_id": (np.arange(n) // 2).astype(str),
                         "view": np.where(np.arange(n) % 3 == 0, "AP", "PA")})


def test_summary_values_match_the_metric_functions():
    frame = predictions()
    table = metric_summary(frame, threshold=0.5, n_boot=200)
    assert table.loc["AUROC", "value"] == pytest.approx(auroc(frame["label"], frame["prob"]))
    expected = thresholded_metrics(frame["label"].to_numpy(), frame["prob"].to_numpy(), 0.5)
    assert table.loc["sensitivity", "value"] == pytest.approx(expected["sensitivity"])
    assert (table["low"] <= table["value"]).all() and (table["value"] <= table["high"]).all()
    assert table.attrs["patients"] == 60 and table.attrs["images"] == 120
    assert interval_column(table)["AUROC"].count("[") == 1


def test_subgroups_report_small_groups_as_nan_not_dropped():
    frame = predictions()
    frame.loc[frame["view"] == "AP", "label"] = 1
    table = subgroup_auroc(frame, "view", n_boot=100).set_index("view")
    assert np.isnan(table.loc["AP", "AUROC"]) and table.loc["AP", "images"] == 40
    assert table.loc["PA", "low"] < table.loc["PA", "AUROC"] < table.loc["PA", "high"]


def test_within_largest_source():
    import numpy as np
    import pandas as pd

    from tmvlib.tables.summary import within_largest_source

    rng = np.random.default_rng(0)
    n = 60
    frame = pd.DataFrame({"source": ["a"] * 40 + ["b"] * 20, "label": rng.integers(0, 2, n),
                          "patient_id": np.arange(n)})
    frame["prob"] = 0.4 * frame["label"] + 0.6 * rng.random(n)
    got = within_largest_source(frame, n_boot=50)
    assert got["source"] == "a" and got["images"] == 40 and got["share"] == 40 / 60
    assert got["low"] <= got["value"] <= got["high"]
    one_class = frame.assign(label=np.where(frame["source"] == "a", 1, frame["label"]))
    assert np.isnan(within_largest_source(one_class, n_boot=10)["value"])


def test_official_test_list_pools_the_listed_test_and_localisation_rows():
    frame = predictions().assign(set=np.repeat(["val", "test", "localisation", "external"], 30))
    assert official_test_list_summary(frame, 0.5, n_boot=50) is None  # a hash split: no list
    frame["official_list"] = np.where(frame["set"].isin(["test", "localisation"]), "test", "train_val")
    frame.loc[frame.index[-1], "official_list"] = "test"  # an external row never counts
    table = official_test_list_summary(frame, 0.5, n_boot=50)
    listed = frame[frame["set"].isin(["test", "localisation"])]
    assert table.attrs["images"] == 60
    assert table.loc["AUROC", "value"] == pytest.approx(auroc(listed["label"], listed["prob"]))
    text = published_comparison_text(table, "no_finding")
    assert "60 images" in text and "official test list" in text and "Table 2" in text
    assert "split_source: official" in published_comparison_text(None, "no_finding")


def test_transfer_studies_are_quoted_with_their_source():
    from tmvlib.report.literature_table import transfer_context_text
    from tmvlib.tables.literature import TRANSFER_STUDIES

    text = transfer_context_text()
    assert all(s["study"] in text and s["source"] in text for s in TRANSFER_STUDIES)
    assert "0.82 (95% CI 0.80-0.83)" in text and "not a target" in text


def test_extreme_share_counts_confident_probabilities_by_patient():
    import pandas as pd

    from tmvlib.tables.summary import extreme_share

    share = extreme_share(pd.DataFrame({"prob": [0.05, 0.5, 0.95, 0.6], "patient_id": [1, 1, 2, 3]}), n_boot=50)
    assert share.value == 0.5 and share.low <= share.value <= share.high
