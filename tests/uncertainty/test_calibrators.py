"""Calibration maps fitted on validation: none, temperature, Platt, isotonic, and the threshold."""
import numpy as np
import pytest
from scipy.special import expit, logit

from tmvlib.metrics.confidence import calibrated_threshold
from tmvlib.uncertainty.calibrators import (CALIBRATIONS, fit_calibrator, fit_calibrators,
                                            temperature_test)


def shifted_model(seed=0, n=4000, scale=2.0, shift=1.0):
    """Validation labels from a true logit z; the model reports scale * z + shift."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1.5, n)
    labels = (rng.random(n) < expit(z)).astype(float)
    return expit(scale * z + shift), labels, z


def test_platt_recovers_scale_and_intercept_and_temperature_cannot_remove_a_shift():
    probs, labels, z = shifted_model()
    platt = fit_calibrator("Platt", probs, labels)
    assert platt.params["a"] == pytest.approx(0.5, abs=0.06)
    assert platt.params["b"] == pytest.approx(-0.5, abs=0.12)
    truth = expit(z)
    temperature = fit_calibrator("temperature", probs, labels)
    assert np.abs(platt(probs) - truth).mean() < 0.5 * np.abs(temperature(probs) - truth).mean()


@pytest.mark.parametrize("name", ["temperature", "Platt"])
def test_increasing_maps_keep_every_decision_at_the_mapped_threshold(name):
    probs, labels, _ = shifted_model(1, n=500)
    calibrator = fit_calibrator(name, probs, labels)
    t = 0.37
    assert np.array_equal(probs >= t, calibrator(probs) >= calibrator.threshold(t))


def test_temperature_threshold_is_calibrated_threshold():
    probs, labels, _ = shifted_model(2, n=500, shift=0.0)
    calibrator = fit_calibrator("temperature", probs, labels)
    assert calibrator.params["T"] == pytest.approx(2.0, rel=0.2)
    assert calibrator.threshold(0.3) == pytest.approx(calibrated_threshold(0.3, calibrator.params["T"]))


def test_isotonic_is_a_clipped_non_decreasing_step_function():
    probs, labels, _ = shifted_model(3, n=800)
    calibrator = fit_calibrator("isotonic", probs, labels)
    grid = np.linspace(0, 1, 201)
    mapped = calibrator(grid)
    assert np.all(np.diff(mapped) >= 0) and mapped.min() >= 0 and mapped.max() <= 1
    assert calibrator.params["steps"] == len(np.unique(mapped[(grid >= probs.min()) & (grid <= probs.max())]))
    t = 0.4
    # non-decreasing: nothing predicted positive before is negative after; ties may add positives
    assert np.all(calibrator(probs)[probs >= t] >= calibrator.threshold(t))


def test_none_is_the_identity_and_fit_calibrators_fits_all():
    probs, labels, _ = shifted_model(4, n=300)
    maps = fit_calibrators(probs, labels)
    assert list(maps) == list(CALIBRATIONS)
    assert np.array_equal(maps["none"](probs), probs) and maps["none"].threshold(0.3) == 0.3


def test_bad_calls_raise():
    probs, labels, _ = shifted_model(5, n=100)
    with pytest.raises(ValueError, match="unknown calibration"):
        fit_calibrator("beta", probs, labels)
    with pytest.raises(ValueError, match="single class"):
        fit_calibrator("Platt", probs, np.ones(100))
    with pytest.warns(RuntimeWarning, match="backwards"):
        fit_calibrator("Platt", 1 - probs, labels)


def test_temperature_test_detects_over_confidence_only_when_it_is_there():
    over, labels, _ = shifted_model(6, n=1000, shift=0.0, scale=3.0)
    t_over = fit_calibrator("temperature", over, labels).params["T"]
    assert t_over > 1 and temperature_test(over, labels, t_over) < 0.001
    fine, labels, _ = shifted_model(7, n=300, shift=0.0, scale=1.0)
    t_fine = fit_calibrator("temperature", fine, labels).params["T"]
    assert temperature_test(fine, labels, t_fine) > 0.05
    assert temperature_test(fine, labels, 1.0) == pytest.approx(1.0)
    assert logit(0.5) == 0  # the test is about the scale of the logits only
