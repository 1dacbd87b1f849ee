import itertools

import numpy as np
import pytest

from tmvlib.metrics.discrimination import auroc
from tmvlib.metrics.selective import augrc, aurc, oracle_augrc, risk_coverage_curve, selective_metrics

# Errors at threshold 0.5: predictions [1, 0, 0, 1] against labels [1, 0, 1, 0] -> [0, 0, 1, 1].
LABELS = np.array([1, 0, 1, 0])
PROBS = np.array([0.9, 0.2, 0.3, 0.6])


def test_hand_computed_curve_and_aurc():
    curve = risk_coverage_curve(LABELS, PROBS, np.array([0.1, 0.2, 0.3, 0.4]))
    assert list(curve.columns) == ["coverage", "risk", "n_kept"]
    np.testing.assert_allclose(curve["coverage"], [0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(curve["risk"], [0, 0, 1 / 3, 1 / 2])
    assert list(curve["n_kept"]) == [1, 2, 3, 4]
    assert aurc(LABELS, PROBS, np.array([0.1, 0.2, 0.3, 0.4])) == pytest.approx(5 / 24)
    # The reverse ranking puts the errors first: a worse AURC.
    assert aurc(LABELS, PROBS, np.array([0.4, 0.3, 0.2, 0.1])) == pytest.approx(
        (1 + 1 + 2 / 3 + 1 / 2) / 4)


def test_threshold_changes_the_errors():
    # At 0.25 the predictions are [1, 0, 1, 1]: errors [0, 0, 0, 1].
    curve = risk_coverage_curve(LABELS, PROBS, np.array([0.1, 0.2, 0.3, 0.4]), threshold=0.25)
    np.testing.assert_allclose(curve["risk"], [0, 0, 0, 1 / 4])


def test_ties_are_averaged_not_broken_by_row_order():
    # Errors [1, 0 | 0, 0] in two tied groups: the first group's rate 1/2 applies inside it.
    labels, probs = np.array([0, 0, 1, 1]), np.array([0.9, 0.1, 0.8, 0.7])
    uncertainty = np.array([0.1, 0.1, 0.2, 0.2])
    curve = risk_coverage_curve(labels, probs, uncertainty)
    np.testing.assert_allclose(curve["risk"], [1 / 2, 1 / 2, 1 / 3, 1 / 4])
    assert aurc(labels, probs, uncertainty) == pytest.approx(19 / 48)
    flipped = [1, 0, 3, 2]
    assert aurc(labels[flipped], probs[flipped], uncertainty[flipped]) == pytest.approx(19 / 48)
    constant = risk_coverage_curve(labels, probs, np.zeros(4))
    np.testing.assert_allclose(constant["risk"], 1 / 4)


def _errors_in_every_tie_order(labels, probs, uncertainty):
    """The errors at 0.5, most certain first, for every order of the rows (ties broken every way)."""
    for perm in itertools.permutations(range(len(labels))):
        order = np.array(perm)[np.argsort(uncertainty[list(perm)], kind="stable")]
        yield ((probs[order] >= 0.5) != labels[order]).astype(float)


def test_aurc_is_the_expected_value_over_random_tie_breaking():
    rng = np.random.default_rng(0)
    labels, probs = rng.integers(0, 2, 7), rng.random(7)
    uncertainty = rng.integers(0, 3, 7).astype(float)
    values = [np.mean(np.cumsum(errors) / np.arange(1, 8)) for errors in _errors_in_every_tie_order(
        labels, probs, uncertainty)]
    assert aurc(labels, probs, uncertainty) == pytest.approx(np.mean(values))
    assert risk_coverage_curve(labels, probs, uncertainty)["risk"].mean() == pytest.approx(
        np.mean(values))


def test_integer_weights_equal_repeated_rows():
    rng = np.random.default_rng(1)
    labels, probs = rng.integers(0, 2, 60), rng.random(60)
    uncertainty = np.round(rng.random(60), 1)  # ties
    weight = rng.integers(0, 4, 60)
    repeated = aurc(np.repeat(labels, weight), np.repeat(probs, weight),
                    np.repeat(uncertainty, weight))
    assert aurc(labels, probs, uncertainty, sample_weight=weight) == pytest.approx(repeated)
    assert aurc(labels, probs, uncertainty, sample_weight=np.ones(60)) == pytest.approx(
        risk_coverage_curve(labels, probs, uncertainty)["risk"].mean())


def test_selective_metrics_keep_the_most_certain_fraction():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, 100)
    probs = np.clip(labels * 0.6 + rng.normal(0.2, 0.25, 100), 0, 1)
    uncertainty = -np.abs(probs - 0.5)  # distance from the boundary as confidence
    full = selective_metrics(labels, probs, uncertainty, coverage=1.0)
    assert full["auroc"] == pytest.approx(auroc(labels, probs)) and full["n_kept"] == 100
    kept = selective_metrics(labels, probs, uncertainty, coverage=0.9)
    assert kept["n_kept"] == 90 and kept["achieved_coverage"] == pytest.approx(0.9)
    order = np.argsort(uncertainty)[:90]
    assert kept["error_rate"] == pytest.approx(np.mean((probs[order] >= 0.5) != labels[order]))
    assert kept["error_rate"] <= full["error_rate"]


def test_selective_metrics_keep_a_tied_group_whole_and_nan_auroc_for_one_class():
    labels, probs = np.array([1, 1, 0, 0, 1]), np.array([0.9, 0.8, 0.3, 0.6, 0.4])
    uncertainty = np.array([0.1, 0.2, 0.2, 0.2, 0.5])
    tied = selective_metrics(labels, probs, uncertainty, coverage=0.4)  # k = 2 cuts the tie
    assert tied["n_kept"] == 4 and tied["achieved_coverage"] == pytest.approx(0.8)
    assert tied["error_rate"] == pytest.approx(1 / 4) and tied["auroc"] == pytest.approx(1.0)
    one_class = selective_metrics(labels, probs, uncertainty, coverage=0.2)
    assert one_class["n_kept"] == 1 and np.isnan(one_class["auroc"])
    assert one_class["error_rate"] == 0


@pytest.mark.parametrize("kwargs, message", [
    ({"probs": [0.2, 1.5, 0.3]}, r"probs .*1 value\(s\) out of 3"),
    ({"uncertainty": [0.1, np.nan, 0.2]}, r"uncertainty holds 1 NaN"),
    ({"uncertainty": [0.1, np.inf, 0.2]}, r"uncertainty must be finite; 1 value"),
    ({"uncertainty": [0.1, 0.2]}, r"same length"),
    ({"labels": [], "probs": [], "uncertainty": []}, r"labels is empty"),
])
def test_bad_input_raises_a_clear_value_error(kwargs, message):
    inputs = {"labels": [0, 1, 1], "probs": [0.2, 0.7, 0.3], "uncertainty": [0.1, 0.3, 0.2]}
    inputs = {name: np.asarray(value) for name, value in {**inputs, **kwargs}.items()}
    for fn in (risk_coverage_curve, aurc):
        with pytest.raises(ValueError, match=message):
            fn(**inputs)
    with pytest.raises(ValueError, match=message):
        selective_metrics(**inputs, coverage=0.5)


def test_bad_coverage_raises():
    with pytest.raises(ValueError, match="coverage"):
        selective_metrics(LABELS, PROBS, np.arange(4.0), coverage=0)


def test_augrc_hand_computed():
    # Errors [0, 0, 1, 1] ranked most certain first: errors kept E(k) = 0, 0, 1, 2 of N = 4.
    assert augrc(LABELS, PROBS, np.array([0.1, 0.2, 0.3, 0.4])) == pytest.approx((0 + 0 + 1 + 2) / 16)
    # The reverse ranking puts the errors first: E(k) = 1, 2, 2, 2.
    assert augrc(LABELS, PROBS, np.array([0.4, 0.3, 0.2, 0.1])) == pytest.approx(7 / 16)
    # Ties averaged: errors [0 | 0, 1 | 1] -> E(k) = 0, 0.5, 1, 2.
    assert augrc(LABELS, PROBS, np.array([0.1, 0.2, 0.2, 0.3])) == pytest.approx(0.21875)
    # A constant score: error rate x (N + 1) / (2N).
    assert augrc(LABELS, PROBS, np.zeros(4)) == pytest.approx(0.5 * 5 / 8)
    assert oracle_augrc(LABELS, PROBS) == pytest.approx(3 / 16)


def test_augrc_is_the_expected_value_over_random_tie_breaking_and_weights_repeat_rows():
    rng = np.random.default_rng(2)
    labels, probs = rng.integers(0, 2, 7), rng.random(7)
    uncertainty = rng.integers(0, 3, 7).astype(float)
    values = [np.mean(np.cumsum(errors) / 7) for errors in _errors_in_every_tie_order(labels, probs, uncertainty)]
    assert augrc(labels, probs, uncertainty) == pytest.approx(np.mean(values))
    labels, probs = rng.integers(0, 2, 60), rng.random(60)
    uncertainty, weight = np.round(rng.random(60), 1), rng.integers(0, 4, 60)
    repeated = augrc(np.repeat(labels, weight), np.repeat(probs, weight), np.repeat(uncertainty, weight))
    assert augrc(labels, probs, uncertainty, sample_weight=weight) == pytest.approx(repeated)


def test_augrc_lies_between_its_oracle_and_the_reverse_ranking():
    rng = np.random.default_rng(3)
    labels, probs = rng.integers(0, 2, 200), rng.random(200)
    errors = ((probs >= 0.5) != labels).astype(float)
    score = errors + rng.normal(0, 0.8, 200)  # informative, not perfect
    assert oracle_augrc(labels, probs) <= augrc(labels, probs, score) <= augrc(labels, probs, -errors)
    assert augrc(labels, probs, score) < augrc(labels, probs, np.zeros(200))  # better than no ranking


def test_a_threshold_per_row_counts_each_row_at_its_own_threshold():
    from tmvlib.metrics.confidence import decision_uncertainty, threshold_aligned
    from tmvlib.metrics.selective import augrc, oracle_augrc, row_thresholds

    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 200)
    probs = rng.random(200)
    thresholds = np.where(np.arange(200) < 100, 0.3, 0.6)  # two pooled models
    uncertainty = decision_uncertainty(probs, thresholds)
    aligned = threshold_aligned(probs, thresholds)  # the same decisions at 0.5
    assert aurc(labels, probs, uncertainty, thresholds) == pytest.approx(aurc(labels, aligned, uncertainty, 0.5))
    assert augrc(labels, probs, uncertainty, thresholds) == pytest.approx(augrc(labels, aligned, uncertainty, 0.5))
    assert oracle_augrc(labels, probs, thresholds) == pytest.approx(oracle_augrc(labels, aligned, 0.5))
    kept = selective_metrics(labels, probs, uncertainty, 0.8, thresholds)
    assert kept["error_rate"] == selective_metrics(labels, aligned, uncertainty, 0.8, 0.5)["error_rate"]
    assert aurc(labels, probs, uncertainty, np.full(200, 0.3)) == aurc(labels, probs, uncertainty, 0.3)
    with pytest.raises(ValueError, match="one per row"):
        row_thresholds(np.full(3, 0.5), 200)
    with pytest.raises(ValueError, match="finite"):
        row_thresholds(np.nan, 200)
