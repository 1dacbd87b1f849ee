import numpy as np
import pytest
from scipy.special import expit
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

from tmvlib.uncertainty.scores import binary_entropy, uncertainty_scores
from tmvlib.uncertainty.temperature import fit_temperature, probability_logit, temperature_probs


def overconfident(n=400, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    logits = 4.0 * ((2 * labels - 1) * 0.6 + rng.normal(0, 1, n))  # right ranking, 4x too sharp
    return logits, labels


def test_temperature_softens_an_overconfident_model_and_lowers_nll():
    logits, labels = overconfident()
    temperature = fit_temperature(logits, labels)
    assert 2.5 < temperature < 6
    assert log_loss(labels, temperature_probs(logits, temperature)) < log_loss(labels, expit(logits))


def test_temperature_leaves_auroc_and_accuracy_unchanged():
    logits, labels = overconfident()
    calibrated = temperature_probs(logits, fit_temperature(logits, labels))
    assert roc_auc_score(labels, calibrated) == roc_auc_score(labels, logits)
    assert accuracy_score(labels, calibrated >= 0.5) == accuracy_score(labels, expit(logits) >= 0.5)


def test_temperature_bad_input():
    with pytest.raises(ValueError, match="single class"):
        fit_temperature(np.array([1.0, 2.0]), np.array([1, 1]))
    with pytest.raises(ValueError, match="non-finite"):
        fit_temperature(np.array([np.nan, 2.0]), np.array([0, 1]))


def test_scores_by_hand():
    # two samples: p = 0.5 and p = sigmoid(log 3) = 0.75 -> mean 0.625
    scores = uncertainty_scores(np.array([[0.0], [np.log(3.0)]])).iloc[0]
    assert scores["prob"] == pytest.approx(0.625)
    assert scores["confidence"] == pytest.approx(0.625)
    h = lambda p: -(p * np.log(p) + (1 - p) * np.log(1 - p))  # noqa: E731
    assert scores["entropy"] == pytest.approx(h(0.625))
    assert scores["expected_entropy"] == pytest.approx((h(0.5) + h(0.75)) / 2)
    assert scores["mutual_information"] == pytest.approx(h(0.625) - (h(0.5) + h(0.75)) / 2)
    assert scores["variance"] == pytest.approx(0.015625)


def test_single_sample_has_no_epistemic_part_and_temperature_keeps_order():
    logits = np.array([[-2.0, 0.5, 3.0]])
    single = uncertainty_scores(logits)
    assert (single["mutual_information"] == 0).all() and (single["variance"] == 0).all()
    hot = uncertainty_scores(logits, temperature=2.0)
    assert np.argsort(hot["prob"]).tolist() == np.argsort(single["prob"]).tolist()
    assert hot["prob"].iloc[2] < single["prob"].iloc[2]
    assert probability_logit(np.array([0.5]))[0] == 0
    assert binary_entropy(np.array([0.0, 1.0])).max() < 1e-9


def test_non_finite_logits_are_refused():
    with pytest.raises(ValueError, match="1 non-finite"):
        uncertainty_scores(np.array([[0.0, np.inf]]))


def test_temperature_at_a_bound_warns():
    import warnings

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    with pytest.warns(RuntimeWarning, match="search bound"):
        fit_temperature(rng.normal(size=200), labels)          # logits unrelated to the labels
    informative = (2 * labels - 1) * 2.0 + rng.normal(size=200)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit_temperature(informative, labels)
