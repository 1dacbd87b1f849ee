"""Tables of the stability chapter: its image sets, the perturbation table, intervals per set and
source, the most and least stable images and the per-method summary (n_boot <= 200)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tmvlib.explain.perturbations import Perturbation
from tmvlib.metrics.bootstrap import patient_bootstrap_mean
from tmvlib.tables.stability import (mean_spearman_by_method, method_stability_table, perturbation_table,
                                     row_positions, stability_extremes, stability_interval_table,
                                     stability_quantities, stability_sets, with_patient_ids)


def predictions():
    rows = [(f"{s}{i}", f"p{s}{i // 2}", s) for s in ("val", "test") for i in range(4)]
    rows += [(f"ext{i}", f"pe{i // 2}", "external") for i in range(8)]
    frame = pd.DataFrame(rows, columns=["image_id", "patient_id", "set"])
    return frame.assign(prob=np.linspace(0, 1, len(frame)), label=np.arange(len(frame)) // 2 % 2)


def test_stability_sets_keeps_val_and_test_and_subsamples_external_patients():
    frames = stability_sets(predictions(), external_images=4)
    assert list(frames) == ["val", "test", "external"]
    assert frames["val"]["image_id"].tolist() == ["val0", "val1", "val2", "val3"]
    assert frames["test"].index.tolist() == [0, 1, 2, 3]
    ext = frames["external"]
    assert len(ext) == 4 and ext.index.tolist() == [0, 1, 2, 3]
    assert ext.groupby("patient_id").size().eq(2).all()  # whole patients


def test_perturbation_table_rounds_each_factor():
    table = perturbation_table([Perturbation("a", rotation=1.23456, translate=(0.01, -0.02), noise=0.01),
                                Perturbation("b", scale=1.04444, gamma=0.9)])
    assert list(table.columns) == ["name", "rotation (deg)", "translate x", "translate y", "scale", "brightness",
                                   "contrast", "gamma", "noise sigma"]
    assert table.loc[0, "rotation (deg)"] == 1.235 and table.loc[1, "scale"] == 1.044
    assert table.loc[0, "translate y"] == -0.02 and table["name"].tolist() == ["a", "b"]


def summary_frame():
    rng = np.random.default_rng(0)
    rows = []
    for name in ("test", "external"):
        for source in ("MC dropout", "TTA"):
            for i in range(6):
                rows.append({"image_id": f"{name}{i}", "set": name, "source": source,
                             **{c: rng.random() for c in stability_quantities(0.15)}, "instability": rng.random()})
    return pd.DataFrame(rows)


def test_quantity_labels_follow_top_k():
    labels = stability_quantities(0.2)
    assert list(labels) == ["spearman", "iou_topk", "dice_topk", "com_shift_pct", "flip_rate", "spearman_kept",
                            "iou_topk_kept"]
    assert labels["iou_topk"] == "IoU top 20%" and labels["iou_topk_kept"] == "IoU top 20% (kept)"


def test_with_patient_ids_appends_the_last_column_on_a_copy():
    summary = summary_frame()
    frames = {"test": pd.DataFrame({"image_id": [f"test{i}" for i in range(6)], "patient_id": list("aabbcc")}),
              "external": pd.DataFrame({"image_id": [f"external{i}" for i in range(6)], "patient_id": list("ddeeff")})}
    out = with_patient_ids(summary, frames)
    assert list(out.columns) == [*summary.columns, "patient_id"] and "patient_id" not in summary
    assert out.loc[out["image_id"] == "external3", "patient_id"].unique().tolist() == ["e"]


def test_interval_table_per_set_and_source():
    summary = summary_frame().assign(patient_id=lambda f: f["image_id"].str[:-1] + (f.index % 3).astype(str))
    table = stability_interval_table(summary, 0.15, n_boot=50, seed=3)
    assert table[["set", "source"]].drop_duplicates().values.tolist() == [
        ["test", "MC dropout"], ["test", "TTA"], ["external", "MC dropout"], ["external", "TTA"]]
    assert table["quantity"].tolist()[:7] == list(stability_quantities(0.15).values())
    group = summary[(summary["set"] == "external") & (summary["source"] == "TTA")]
    ref = patient_bootstrap_mean(group["com_shift_pct"].to_numpy(), group["patient_id"].to_numpy(), n_boot=50, seed=3)
    row = table.set_index(["set", "source", "quantity"]).loc[("external", "TTA", "COM shift (% width)")]
    assert (row["value"], row["low"], row["high"], row["images"]) == (ref.value, ref.low, ref.high, 6)


def test_row_positions_and_extremes():
    frame = pd.DataFrame({"image_id": ["test3", "test0", "test5", "test1", "test2", "test4"],
                          "prob": [0.3, 0.0, 0.5, 0.1, 0.2, 0.4]})
    assert row_positions(frame, ["test5", "test3"]) == [2, 0]
    with pytest.raises(ValueError):
        row_positions(frame, ["nope"])
    summary = summary_frame()
    picks = stability_extremes(summary, frame, "test", "TTA", n=2)
    part = summary[(summary["set"] == "test") & (summary["source"] == "TTA")].sort_values("instability")
    expect = part["image_id"].tolist()[:2] + part["image_id"].tolist()[-2:]
    assert picks["image_id"].tolist() == expect
    assert picks["row"].tolist() == row_positions(frame, expect)
    assert picks["prob"].tolist() == [float(i[-1]) / 10 for i in expect]
    assert picks["instability"].is_monotonic_increasing
    blank = summary.copy()
    blank.loc[(blank["set"] == "test") & (blank["source"] == "TTA") & (blank["image_id"] == expect[-1]), "instability"] = np.nan
    picks = stability_extremes(blank, frame, "test", "TTA", n=2)  # a blank map is not "least stable"
    assert expect[-1] not in picks["image_id"].tolist() and picks["instability"].notna().all()


def test_method_tables():
    summary = pd.DataFrame({"method": ["A", "A", "B", "B"], "image_id": ["x", "y", "x", "y"],
                            "spearman": [0.5, 0.7, 0.2, 0.4], "iou_topk": [0.1, 0.3, 0.2, 0.2],
                            "com_shift_pct": [1.0, 3.0, 2.0, 2.0]})
    table = method_stability_table(summary)
    assert table.loc["A", ("spearman", "mean")] == 0.6 and table.loc["B", ("com_shift_pct", "min")] == 2.0
    assert mean_spearman_by_method(summary).round(6).to_dict() == {"A": 0.6, "B": 0.3}


def test_factor_table_counts_flips_and_shifts():
    from tmvlib.tables.stability import factor_table

    frame = pd.DataFrame({"prob": [0.6, 0.4, 0.9], "patient_id": ["a", "b", "c"]})
    probs = np.array([[0.4, 0.6], [0.45, 0.4], [0.95, 0.9]])
    table = factor_table(frame, probs, ["rotation+", "noise"], threshold=0.5, n_boot=50).set_index(["factor", "quantity"])
    assert table.loc[("rotation+", "label flip"), "value"] == pytest.approx(1 / 3)
    assert table.loc[("noise", "label flip"), "value"] == pytest.approx(0.0)
    assert table.loc[("rotation+", "probability shift"), "value"] == pytest.approx((-0.2 + 0.05 + 0.05) / 3)
    assert table.loc[("rotation+", "absolute shift"), "value"] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="probs must be"):
        factor_table(frame, probs[:, :1], ["rotation+", "noise"], threshold=0.5)


def test_reference_peak_regions_per_set():
    from tmvlib.tables.stability import reference_peak_regions

    corner = np.zeros((2, 20, 20), np.float32)
    corner[0, 0, 0] = 1.0      # top-left corner
    corner[1, 10, 5] = 1.0     # left lung field
    frames = {"val": pd.DataFrame({"image_id": ["a", "b"]})}
    regions = reference_peak_regions(frames, {"val": corner})
    assert regions["a"] == "corners" and regions["b"] != "corners"
    with pytest.raises(ValueError, match="2 reference maps for 1 images"):
        reference_peak_regions({"val": frames["val"].head(1)}, {"val": corner})
