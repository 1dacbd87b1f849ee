"""Per-image trust scores (tmvlib.tables.trust): one row per image, scores by set, tables per set."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def test_image_trust_scores_columns():
    from tmvlib.tables.trust import image_trust_scores

    frame = pd.DataFrame({"image_id": ["a", "b"], "prob": [0.9, 0.4], "label": [1, 1]})
    summary = pd.DataFrame({"image_id": ["a", "b", "a"], "source": ["TTA", "TTA", "ensemble"],
                            "instability": [0.1, np.nan, 0.3], "flip_rate": [0.0, 0.5, 0.0]})
    mc = np.array([[0.9, 0.9, 0.9], [0.1, 0.5, 0.9]])
    out = image_trust_scores(frame, 0.5, mc, np.array([[0.7], [0.4]]), summary)
    assert out["correct"].tolist() == [True, False]
    np.testing.assert_allclose(out["1 - max(p, 1-p)"], [0.1, 0.4])
    # the decision-aligned score: exp(-|logit p - logit t|); at t = 0.5, p = 0.9 -> 1/9, p = 0.4 -> 2/3
    np.testing.assert_allclose(out["decision uncertainty"], [1 / 9, 2 / 3])
    assert out.loc[0, "MC mutual information"] == pytest.approx(0, abs=1e-9)  # identical samples
    assert out.loc[1, "MC mutual information"] > 0.05                         # samples disagree
    np.testing.assert_allclose(out["ensemble variance"], [np.var([0.9, 0.7]), 0.0])
    assert out.loc[0, "instability (TTA)"] == 0.1 and np.isnan(out.loc[1, "instability (TTA)"])
    assert np.isnan(out.loc[1, "instability (ensemble)"])  # measured, no row for this image: NaN
    assert "instability (MC dropout)" not in out  # a source the summary does not hold has no column
    assert "correct" not in image_trust_scores(frame.drop(columns="label"), 0.5, mc, np.zeros((2, 1)), summary)


def test_image_trust_scores_of_the_tta_source_alone():
    """A fold model measured under TTA only (chapter 06's fold_sources): no MC-dropout or ensemble
    column, the others as with every source."""
    from tmvlib.tables.trust import image_trust_scores

    frame = pd.DataFrame({"image_id": ["a", "b"], "prob": [0.9, 0.4], "label": [1, 1]})
    summary = pd.DataFrame({"image_id": ["a", "b"], "source": "TTA", "instability": [0.1, 0.2],
                            "flip_rate": [0.0, 0.5]})
    alone = image_trust_scores(frame, 0.5, None, None, summary)
    full = image_trust_scores(frame, 0.5, np.full((2, 3), 0.5), np.full((2, 1), 0.5), summary)
    assert [c for c in full if c not in alone] == ["MC mutual information", "ensemble variance"]
    pd.testing.assert_frame_equal(alone, full[list(alone.columns)])


def test_trust_scores_by_set_and_tables_per_set():
    from tmvlib.tables.trust import (image_trust_scores, per_set_table, trust_score_correlations,
                                     trust_scores_by_set)

    rng = np.random.default_rng(3)
    frames, probs, summaries = {}, {}, []
    for name, n in (("val", 6), ("test", 5)):
        frames[name] = pd.DataFrame({"image_id": [f"{name}{i}" for i in range(n)], "patient_id": np.arange(n),
                                     "label": rng.integers(0, 2, n), "prob": rng.random(n), "extra": 1})
        probs[name] = {"MC dropout": rng.random((n, 4)), "ensemble": rng.random((n, 2))}
        for source in ("MC dropout", "ensemble", "TTA"):
            summaries.append(pd.DataFrame({"image_id": frames[name]["image_id"], "set": name, "source": source,
                                           "instability": rng.random(n), "flip_rate": rng.random(n)}))
    summary = pd.concat(summaries, ignore_index=True)
    per_image = trust_scores_by_set(frames, 0.5, probs, summary)
    assert per_image["set"].tolist() == ["val"] * 6 + ["test"] * 5 and "extra" not in per_image
    ref = image_trust_scores(frames["test"][["image_id", "patient_id", "label", "prob"]].assign(set="test"), 0.5,
                             probs["test"]["MC dropout"], probs["test"]["ensemble"], summary[summary["set"] == "test"])
    pd.testing.assert_frame_equal(per_image.iloc[6:].reset_index(drop=True), ref)
    corr = trust_score_correlations(per_image)
    assert corr.index.tolist() == ["instability (MC dropout)", "instability (ensemble)", "instability (TTA)"]
    assert corr.columns.tolist() == ["decision uncertainty", "1 - max(p, 1-p)", "MC mutual information",
                                     "ensemble variance"]
    assert corr.loc["instability (TTA)", "decision uncertainty"] == round(
        per_image["instability (TTA)"].corr(per_image["decision uncertainty"], method="spearman"), 2)
    both = per_set_table(lambda f, k: f.head(k)[["image_id"]], per_image, 2, sets=("test", "val"))
    assert both.values.tolist() == [["test0", "test"], ["test1", "test"], ["val0", "val"], ["val1", "val"]]
    kept = per_set_table(lambda f: f.head(2)[["image_id"]].reset_index(drop=True), per_image,
                         sets=("val", "test"), ignore_index=False)
    assert kept.index.tolist() == [0, 1, 0, 1]
