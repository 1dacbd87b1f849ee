"""Smooth ECE: the relplot estimator, with weights and a faster convolution, unchanged in value."""
import numpy as np
import pytest
import relplot

from tmvlib.metrics.calibration import smooth_ece, smooth_reliability


def case(seed, n, power=1.0):
    rng = np.random.default_rng(seed)
    probs = rng.beta(0.7, 0.7, n)
    labels = (rng.random(n) < probs ** power).astype(float)
    return labels, probs


@pytest.mark.parametrize("n", [5, 40, 240, 1000])
@pytest.mark.parametrize("power", [1.0, 2.0])
def test_equals_relplot(n, power):
    labels, probs = case(n, n, power)
    assert smooth_ece(labels, probs) == pytest.approx(relplot.smECE(probs, labels), abs=1e-12)


def test_integer_weights_equal_repeated_rows():
    labels, probs = case(1, 120, 1.5)
    weight = np.random.default_rng(2).integers(0, 4, 120)
    repeated = relplot.smECE(np.repeat(probs, weight), np.repeat(labels, weight))
    assert smooth_ece(labels, probs, sample_weight=weight) == pytest.approx(repeated, abs=1e-12)


def test_ordering_and_range():
    calibrated, miscalibrated = case(3, 600, 1.0), case(3, 600, 3.0)
    assert 0 <= smooth_ece(*calibrated) < smooth_ece(*miscalibrated) <= 1


def test_constant_prediction_equals_the_gap_to_the_base_rate():
    labels = np.array([1, 0, 0, 0] * 25, dtype=float)
    assert smooth_ece(labels, np.full(100, 0.6)) == pytest.approx(0.35, abs=1e-3)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="probabilities"):
        smooth_ece(np.array([0, 1]), np.array([0.2, 1.3]))
    with pytest.raises(ValueError, match="same length"):
        smooth_ece(np.array([0, 1, 1]), np.array([0.2, 0.3]))


def test_reliability_curve_follows_the_labels():
    labels, probs = case(4, 2000, 1.0)
    curve = smooth_reliability(labels, probs, points=51)
    assert list(curve.columns) == ["predicted", "observed", "density", "bandwidth", "supported"]
    inside = curve[curve["supported"] & curve["predicted"].between(0.2, 0.8)]
    assert np.abs(inside["observed"] - inside["predicted"]).mean() < 0.05  # calibrated by construction
    assert curve["density"].mean() == pytest.approx(1.0, abs=0.1)  # integrates to about 1 on [0, 1]


def test_reliability_curve_is_unsupported_where_no_prediction_lies():
    rng = np.random.default_rng(5)
    probs = rng.uniform(0.4, 0.6, 300)
    labels = (rng.random(300) < probs).astype(float)
    curve = smooth_reliability(labels, probs, points=101)
    assert not curve.loc[curve["predicted"] < 0.2, "supported"].any()
    assert curve.loc[curve["predicted"].between(0.45, 0.55), "supported"].all()
