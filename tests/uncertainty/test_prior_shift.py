"""Saerens et al. (2002) prior-shift correction and the weights that evaluate it."""
import numpy as np
import pytest
from scipy.special import expit

from tmvlib.metrics.calibration import smooth_ece
from tmvlib.uncertainty.prior_shift import prevalence_weights, prior_shift


def test_matches_the_ratio_formula_and_is_the_identity_without_shift():
    p = np.array([0.01, 0.2, 0.5, 0.9, 0.999])
    prior, target = 0.45, 0.05
    r1, r0 = target / prior, (1 - target) / (1 - prior)
    assert prior_shift(p, prior, target) == pytest.approx(r1 * p / (r1 * p + r0 * (1 - p)))
    assert prior_shift(p, 0.3, 0.3) == pytest.approx(p)
    assert prior_shift(prior_shift(p, 0.45, 0.05), 0.05, 0.45) == pytest.approx(p)


def test_moves_a_calibrated_posterior_to_the_new_prevalence():
    # two Gaussian classes; the Bayes posterior at prevalence 0.5, corrected, is the Bayes
    # posterior at prevalence 0.1 (log-likelihood ratio x for N(+-1/2, 1))
    x = np.linspace(-3, 3, 13)
    posterior = lambda prevalence: expit(x + np.log(prevalence / (1 - prevalence)))  # noqa: E731
    assert prior_shift(posterior(0.5), 0.5, 0.1) == pytest.approx(posterior(0.1))


def test_weights_give_the_target_prevalence_and_keep_the_total():
    labels = np.array([1] * 45 + [0] * 55)
    w = prevalence_weights(labels, 0.05)
    assert w.sum() == pytest.approx(100)
    assert np.average(labels, weights=w) == pytest.approx(0.05)
    assert w[labels == 1][0] == pytest.approx(0.05 / 0.45) and w[labels == 0][0] == pytest.approx(0.95 / 0.55)


def test_reweighted_calibration_prefers_the_corrected_probabilities():
    rng = np.random.default_rng(0)
    n = 4000
    labels = (rng.random(n) < 0.45).astype(float)
    x = rng.normal(np.where(labels == 1, 0.5, -0.5), 1.0)
    calibrated = expit(x + np.log(0.45 / 0.55))  # the Bayes posterior at the study's prevalence
    weight = prevalence_weights(labels, 0.05)
    corrected = prior_shift(calibrated, 0.45, 0.05)
    assert smooth_ece(labels, corrected, weight) < 0.03 < smooth_ece(labels, calibrated, weight)


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 1.5])
def test_a_prevalence_outside_0_1_raises(bad):
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        prior_shift(np.array([0.5]), 0.4, bad)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        prevalence_weights(np.array([0, 1]), bad)
    with pytest.raises(ValueError, match="prevalence of labels"):
        prevalence_weights(np.array([1, 1]), 0.1)
