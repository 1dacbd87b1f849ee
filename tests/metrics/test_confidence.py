import numpy as np
import pytest
from scipy.special import expit

from tmvlib.metrics.confidence import (calibrated_threshold, decision_margin, decision_uncertainty,
                                       distance_to_half, errors_at)


def test_margin_is_zero_on_the_threshold_and_symmetric_in_logits():
    t = 0.3
    p = expit(np.log(t / (1 - t)) + np.array([-2.0, 0.0, 2.0]))
    assert decision_margin(p, t) == pytest.approx([2.0, 0.0, 2.0])
    assert decision_uncertainty(p, t) == pytest.approx(np.exp([-2.0, 0.0, -2.0]))


def test_decision_uncertainty_differs_from_distance_to_half_when_threshold_is_not_half():
    # p = 0.31 sits on a 0.3 threshold: the decision is borderline, yet 1 - max(p, 1-p) = 0.31
    # calls it fairly certain compared with p = 0.5, which is far above the threshold.
    p = np.array([0.31, 0.5])
    assert decision_uncertainty(p, 0.3)[0] > decision_uncertainty(p, 0.3)[1]
    assert distance_to_half(p)[0] < distance_to_half(p)[1]


def test_errors_at_the_threshold():
    assert errors_at([1, 1, 0, 0], [0.35, 0.25, 0.35, 0.25], 0.3).tolist() == [False, True, True, False]


def test_calibrated_threshold_keeps_every_decision():
    z = np.linspace(-4, 4, 101)
    t, temperature = 0.3, 1.7
    t_cal = calibrated_threshold(t, temperature)
    assert ((expit(z / temperature) >= t_cal) == (expit(z) >= t)).all()


def test_secondary_confidence_is_measured_from_one_half():
    from tmvlib.metrics.confidence import distance_to_half

    np.testing.assert_allclose(distance_to_half([0.9, 0.5, 0.2, 0.0]), [0.1, 0.5, 0.2, 0.0])


def test_extreme_probabilities_are_those_a_reader_takes_as_confident():
    import numpy as np

    from tmvlib.metrics.confidence import extreme

    assert extreme(np.array([0.05, 0.1, 0.5, 0.9, 0.95])).tolist() == [True, True, False, True, True]
    assert extreme(np.array([0.2, 0.8]), margin=0.2).all()


def test_threshold_aligned_keeps_each_models_decision_and_margin():
    from tmvlib.metrics.confidence import decision_margin, predicted_positive, threshold_aligned

    probs = np.array([0.05, 0.2, 0.31, 0.3, 0.7, 0.99])
    thresholds = np.array([0.3, 0.3, 0.3, 0.3, 0.8, 0.8])
    aligned = threshold_aligned(probs, thresholds)
    assert (predicted_positive(aligned, 0.5) == (probs >= thresholds)).all()
    assert np.allclose(decision_margin(aligned, 0.5), decision_margin(probs, thresholds))
    assert threshold_aligned(0.3, 0.3) == 0.5
