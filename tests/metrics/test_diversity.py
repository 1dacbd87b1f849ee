import numpy as np
import pytest

from tmvlib.metrics.calibration import nll
from tmvlib.metrics.diversity import ensemble_nll_gain, pairwise_disagreement, probability_spread


def test_pairwise_disagreement_counts_pairs():
    probs = np.array([[0.9, 0.2, 0.6], [0.8, 0.7, 0.4], [0.1, 0.3, 0.55]])  # M=3, N=3, t=0.5
    # image 0: labels 1,1,0 -> 2 of 3 pairs differ; image 1: 0,1,0 -> 2/3; image 2: 1,0,1 -> 2/3
    assert np.allclose(pairwise_disagreement(probs, 0.5), [2 / 3, 2 / 3, 2 / 3])
    assert np.allclose(pairwise_disagreement(np.full((4, 2), 0.7), 0.5), 0)
    assert np.allclose(pairwise_disagreement(probs, 0.95), 0)  # every member negative at t=0.95


def test_spread_and_nll_gain():
    probs = np.array([[0.2, 0.9], [0.6, 0.9]])
    labels = np.array([1, 0])
    assert np.allclose(probability_spread(probs), [0.2, 0.0])
    gain = ensemble_nll_gain(probs, labels)
    assert gain[1] == pytest.approx(0.0) and gain[0] > 0
    # the mean over images equals mean member NLL minus the ensemble's NLL
    members = np.mean([nll(labels, p) for p in probs])
    assert gain.mean() == pytest.approx(members - nll(labels, probs.mean(0)))


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="M >= 2"):
        probability_spread(np.array([[0.5, 0.5]]))
    with pytest.raises(ValueError, match="probabilities"):
        probability_spread(np.array([[0.5, 1.5], [0.1, 0.2]]))
    with pytest.raises(ValueError, match="labels"):
        ensemble_nll_gain(np.full((2, 3), 0.5), np.array([0, 1]))
