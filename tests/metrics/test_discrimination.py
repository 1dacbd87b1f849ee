import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from tmvlib.metrics.discrimination import (auroc, choose_threshold, confusion, pr_frame, roc_frame,
                                           thresholded_metrics)

LABELS = np.array([0, 0, 0, 0, 1, 1, 1])
PROBS = np.array([0.1, 0.3, 0.35, 0.8, 0.4, 0.7, 0.9])


def test_auroc_by_hand():
    # 12 positive-negative pairs: positives 0.4 beats 3, 0.7 beats 3, 0.9 beats 4 -> 10/12
    assert auroc(LABELS, PROBS) == pytest.approx(10 / 12)
    assert auroc(LABELS, PROBS) == pytest.approx(roc_auc_score(LABELS, PROBS))


def test_thresholded_metrics_by_hand():
    m = thresholded_metrics(LABELS, PROBS, 0.5)  # tp=2 fn=1 tn=3 fp=1
    assert m["sensitivity"] == pytest.approx(2 / 3)
    assert m["specificity"] == pytest.approx(3 / 4)
    assert m["accuracy"] == pytest.approx(5 / 7)
    assert m["f1"] == pytest.approx(f1_score(LABELS, PROBS >= 0.5))
    assert confusion(LABELS, PROBS, 0.5).values.tolist() == [[3, 1], [1, 2]]


def test_undefined_ratio_is_nan():
    assert np.isnan(thresholded_metrics(np.array([0, 0]), np.array([0.1, 0.2]), 0.5)["sensitivity"])


def test_youden_threshold_maximises_j():
    threshold = choose_threshold(LABELS, PROBS, "youden")
    j = {t: thresholded_metrics(LABELS, PROBS, t)["sensitivity"]
         + thresholded_metrics(LABELS, PROBS, t)["specificity"] for t in PROBS}
    assert j[threshold] == max(j.values())
    sens90 = choose_threshold(LABELS, PROBS, "sensitivity90")
    assert thresholded_metrics(LABELS, PROBS, sens90)["sensitivity"] >= 0.9
    with pytest.raises(ValueError, match="threshold rule"):
        choose_threshold(LABELS, PROBS, "best")


def test_curves_span_the_unit_square():
    roc = roc_frame(LABELS, PROBS)
    assert roc["fpr"].iloc[0] == 0 and roc["tpr"].iloc[-1] == 1
    assert pr_frame(LABELS, PROBS)["recall"].max() == 1


def test_fast_auroc_equals_sklearn_with_ties_and_weights():
    from sklearn.metrics import roc_auc_score

    from tmvlib.metrics.discrimination import auroc

    rng = np.random.default_rng(0)
    for _ in range(20):
        n = int(rng.integers(5, 60))
        labels = rng.integers(0, 2, n)
        labels[:2] = [0, 1]
        scores = rng.integers(0, 6, n) / 5.0  # many ties
        weight = rng.integers(0, 4, n).astype(float)
        weight[:2] = 1.0
        assert auroc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
        assert auroc(labels, scores, weight) == pytest.approx(
            roc_auc_score(labels, scores, sample_weight=weight), abs=1e-12)
    with pytest.raises(ValueError, match="one class"):
        auroc(np.array([1, 1]), np.array([0.1, 0.2]))


def test_every_threshold_rule_has_its_words():
    from tmvlib.metrics.discrimination import THRESHOLD_RULES, threshold_rule_text

    assert threshold_rule_text("youden") == "maximise Youden's J (sensitivity + specificity - 1)"
    assert all(threshold_rule_text(rule) for rule in THRESHOLD_RULES)
    with pytest.raises(ValueError, match="youden"):
        threshold_rule_text("yuoden")
