"""Bias-corrected estimate and basic bootstrap interval of a calibration error."""
import numpy as np
import pytest

from tmvlib.metrics.calibration import (bias_corrected, bias_corrected_difference, ece,
                                        noise_floor, nll, smooth_ece, statistic_draws)
from tmvlib.metrics.paired import paired_bootstrap


def synthetic(seed, n=300, power=1.0):
    """Labels drawn from probs ** power: calibrated for power 1, miscalibrated otherwise;
    two images per patient."""
    rng = np.random.default_rng(seed)
    probs = rng.uniform(0.02, 0.98, n)
    labels = (rng.random(n) < probs ** power).astype(float)
    return labels, probs, np.arange(n) // 2


def statistic(metric, labels, probs):
    return lambda rows, w: metric(labels[rows], probs[rows], sample_weight=w)


@pytest.mark.parametrize("power", [1.0, 2.5], ids=["calibrated", "miscalibrated"])
@pytest.mark.parametrize("metric", [smooth_ece, ece], ids=["smooth ECE", "binned ECE"])
def test_reported_interval_contains_reported_estimate(power, metric):
    for seed in range(3):
        labels, probs, patients = synthetic(seed, power=power)
        result = bias_corrected(*statistic_draws(statistic(metric, labels, probs), patients, 200, seed))
        assert result.low <= result.value <= result.high
        assert result.low >= 0 and result.n_boot == 200 and result.skipped == 0


def test_the_percentile_interval_can_miss_the_estimate_and_the_correction_removes_its_bias():
    labels, probs, patients = synthetic(0, n=1000)
    estimate, draws = statistic_draws(statistic(smooth_ece, labels, probs), patients, 300, 0)
    result = bias_corrected(estimate, draws)
    assert result.bias > 0                     # resamples inflate a calibration error
    assert result.value < estimate             # so the corrected estimate is lower
    assert result.value == pytest.approx(max(0.0, 2 * estimate - np.median(draws)))
    low, high = np.percentile(2 * estimate - draws, [2.5, 97.5])
    assert (result.low, result.high) == pytest.approx((max(0.0, low), max(0.0, high)))


def test_miscalibration_stands_out_of_the_noise():
    calibrated = synthetic(1, power=1.0)
    miscalibrated = synthetic(1, power=2.5)
    lower = bias_corrected(*statistic_draws(statistic(smooth_ece, *calibrated[:2]), calibrated[2], 200))
    upper = bias_corrected(*statistic_draws(statistic(smooth_ece, *miscalibrated[:2]), miscalibrated[2], 200))
    assert lower.high < upper.low


def test_floor_clips_and_skipped_draws_are_counted():
    draws = np.array([0.5, 0.6, np.nan, 0.7])
    result = bias_corrected(0.1, draws)
    assert (result.value, result.low, result.high) == (0.0, 0.0, 0.0)
    assert result.skipped == 1
    assert bias_corrected(0.1, draws, floor=None).value == pytest.approx(-0.4)
    with pytest.raises(ValueError, match="degenerate"):
        bias_corrected(0.1, np.full(3, np.nan))


def test_statistic_draws_are_the_draws_of_paired_bootstrap():
    labels, probs, patients = synthetic(2)
    other = np.clip(probs * 0.8 + 0.1, 0, 1)
    a, draws_a = statistic_draws(statistic(nll, labels, probs), patients, 150, 7)
    b, draws_b = statistic_draws(statistic(nll, labels, other), patients, 150, 7)
    paired = paired_bootstrap(statistic(nll, labels, probs), statistic(nll, labels, other), patients, 150, 7)
    assert (a - b) == pytest.approx(paired.value)
    assert np.percentile(draws_a - draws_b, [2.5, 97.5]) == pytest.approx([paired.low, paired.high])
    assert np.std(draws_a - draws_b, ddof=1) == pytest.approx(paired.se)


@pytest.mark.parametrize("shift", [-0.3, 0.0, 0.3])
def test_paired_difference_is_reflected_and_its_p_value_agrees_with_its_interval(shift):
    rng = np.random.default_rng(3)
    draws_b = rng.normal(0.1, 0.02, 500)
    draws_a = draws_b + shift * 0.1 + rng.normal(0, 0.01, 500)
    d = bias_corrected_difference(0.1 + shift * 0.1, 0.1, draws_a, draws_b)
    assert d.low <= d.value <= d.high
    excludes_zero = d.low > 0 or d.high < 0
    assert excludes_zero == (d.p_value < 0.05)
    assert d.minimum_detectable() > 0 and d.a == pytest.approx(0.1 + shift * 0.1) and d.b == 0.1


def test_noise_floor_is_positive_and_shrinks_with_more_images():
    rng = np.random.default_rng(4)
    small, large = rng.uniform(0, 1, 60), rng.uniform(0, 1, 2000)
    assert noise_floor(ece, large, n_sim=50) < noise_floor(ece, small, n_sim=50)
    assert noise_floor(smooth_ece, small, n_sim=20) > 0


def _population(n, slope, rng):
    """Probabilities mostly low (as NIH's), labels from expit(slope * logit p): calibrated for
    slope 1, over-confident for slope < 1."""
    from scipy.special import expit, logit

    probs = rng.beta(1.2, 3, n)
    truth = expit(slope * logit(np.clip(probs, 1e-4, 1 - 1e-4)))
    return (rng.random(n) < truth).astype(float), probs


def test_calibration_interval_contains_its_estimate_and_tests_perfect_calibration():
    from tmvlib.metrics.calibration import calibration_interval, consistency_draws

    for slope, calibrated in ((1.0, True), (0.4, False)):
        labels, probs = _population(300, slope, np.random.default_rng(1))
        estimate, draws = statistic_draws(statistic(smooth_ece, labels, probs), np.arange(300), 100, 0)
        result = calibration_interval(estimate, draws, consistency_draws(smooth_ece, probs, 100, 0))
        assert result.low <= result.value == estimate <= result.high and result.low >= 0
        assert (result.p_calibrated >= 0.05) == calibrated
        assert result.floor == pytest.approx(noise_floor(smooth_ece, probs, 100, 0))
    with pytest.raises(ValueError, match="consistency"):
        calibration_interval(0.1, np.ones(5), np.array([np.nan]))


@pytest.mark.slow
@pytest.mark.parametrize("slope", [1.0, 0.8, 0.5], ids=["true 0", "true 0.03", "true 0.1"])
def test_calibration_interval_covers_the_true_smooth_ece(slope):
    """The coverage check of the issue: N = 300, 150 repeats, nominal 95%; at least 93% for a true
    smooth ECE of 0, about 0.03 and about 0.1 (the truth: the smooth ECE of 400,000 draws, 0 for
    slope 1). The bias-corrected basic interval it replaced covered 51% at 0 and 81% at 0.08."""
    from tmvlib.metrics.calibration import calibration_interval, consistency_draws

    truth = 0.0 if slope == 1.0 else smooth_ece(*_population(400_000, slope, np.random.default_rng(123)))
    rng, covered = np.random.default_rng(7), 0
    for repeat in range(150):
        labels, probs = _population(300, slope, rng)
        estimate, draws = statistic_draws(statistic(smooth_ece, labels, probs), np.arange(300), 100, repeat)
        result = calibration_interval(estimate, draws, consistency_draws(smooth_ece, probs, 100, repeat))
        covered += result.low <= truth <= result.high
    assert covered / 150 >= 0.93, (truth, covered)
