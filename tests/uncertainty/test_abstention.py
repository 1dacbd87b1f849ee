"""Deferral rules with a guarantee (tmvlib.uncertainty.abstention), on synthetic scores whose true
selective risk is known in closed form."""
import json

import numpy as np
import pytest
from scipy.stats import binom
from statsmodels.stats.multitest import multipletests

from tmvlib.uncertainty.abstention import (DeferralRule, calibrate_deferral, certified_threshold,
                                           one_image_per_patient, score_grid)


def synthetic(n, rng, slope_pos=0.5, slope_neg=0.5):
    """Scores s ~ U(0, 1); P(error | s, predicted class) = slope * s. The true error among answered
    cases of the rule s <= lam is slope * lam / 2 (per predicted class)."""
    s = rng.uniform(size=n)
    predicted = rng.integers(0, 2, n)
    slope = np.where(predicted == 1, slope_pos, slope_neg)
    wrong = rng.uniform(size=n) < slope * s
    labels = np.where(wrong, 1 - predicted, predicted)
    return s, predicted, labels


def test_score_grid_is_fixed_and_ends_at_one():
    assert np.allclose(score_grid(4), [0.25, 0.5, 0.75, 1.0])
    with pytest.raises(ValueError):
        score_grid(0)


def test_marginal_rule_controls_the_true_risk_over_calibration_draws():
    """True risk of the rule s <= lam is lam / 4; at max_error 0.1 every lam <= 0.4 is safe. Over 200
    calibration draws the chosen threshold is unsafe in at most delta of them (with binomial slack),
    and the rule is not vacuous (it answers a good share)."""
    rng = np.random.default_rng(0)
    delta, alpha, draws = 0.1, 0.1, 200
    unsafe, chosen = 0, []
    for _ in range(draws):
        rule = calibrate_deferral(*synthetic(2000, rng), max_error=alpha, delta=delta)
        lam = rule.thresholds["all"]
        chosen.append(0.0 if lam is None else lam)
        unsafe += lam is not None and lam / 4 > alpha + 1e-12
    assert unsafe <= binom.ppf(0.999, draws, delta)
    assert np.median(chosen) >= 0.2  # useful: the largest safe threshold is 0.4


def clustered(n_patients, images_per_patient, rng):
    """:func:`synthetic` at the level of the patient (slope 0.5: true risk lam / 4), each patient's
    score, prediction and error repeated on all of its images: the images of one patient are not
    independent cases."""
    s, predicted, labels = synthetic(n_patients, rng)
    return (*(np.repeat(a, images_per_patient) for a in (s, predicted, labels)),
            np.repeat(np.arange(n_patients), images_per_patient))


def test_one_image_per_patient_keeps_the_guarantee_on_clustered_data():
    """100 patients of 20 images each, 300 calibration draws, max_error 0.1 (safe up to lam 0.4),
    delta 0.1. Counting every image as a case, the binomial test sees 2,000 cases where there are
    100: the chosen threshold is unsafe in far more than delta of the draws. One image per patient
    keeps the rate within delta (binomial slack at 99.9%)."""
    rng = np.random.default_rng(0)
    draws, delta = 300, 0.1
    unsafe = {"image": 0, "patient": 0}
    for _ in range(draws):
        s, predicted, labels, patients = clustered(100, 20, rng)
        for unit in unsafe:
            rule = calibrate_deferral(s, predicted, labels, max_error=0.1, delta=delta,
                                      patients=patients if unit == "patient" else None)
            lam = rule.thresholds["all"]
            unsafe[unit] += lam is not None and lam / 4 > 0.1 + 1e-12
    slack = binom.ppf(0.999, draws, delta)
    assert unsafe["patient"] <= slack
    assert unsafe["image"] > slack


def test_the_patient_rule_counts_what_it_sets_aside():
    s, predicted, labels, patients = clustered(30, 4, np.random.default_rng(3))
    rule = calibrate_deferral(s, predicted, labels, max_error=0.3, delta=0.1, patients=patients)
    assert (rule.unit, rule.set_aside, rule.calibration["all"]["images"]) == ("patient", 90, 30)
    assert DeferralRule.from_dict(json.loads(json.dumps(rule.to_dict()))) == rule
    with pytest.raises(ValueError, match="patient ids"):
        calibrate_deferral(s, predicted, labels, max_error=0.3, delta=0.1, patients=patients[:-1])


def test_one_image_per_patient_is_seeded_and_covers_every_patient():
    patients = np.array(["a", "b", "a", "c", "b", "a"])
    keep = one_image_per_patient(patients, seed=0)
    assert sorted(patients[keep]) == ["a", "b", "c"]
    assert (keep == one_image_per_patient(patients, seed=0)).all()
    assert any((one_image_per_patient(patients, seed=s) != keep).any() for s in range(1, 10))


def test_class_conditional_rule_controls_each_predicted_class():
    """Positive calls err at 0.4 s (true risk 0.2 lam: safe up to 0.5), negative calls at 0.15 s (0.075
    lam: every threshold is safe); both classes' thresholds are safe in at least 1 - delta of the draws."""
    rng = np.random.default_rng(1)
    unsafe, draws, chosen = 0, 150, []
    for _ in range(draws):
        rule = calibrate_deferral(*synthetic(3000, rng, 0.4, 0.15), max_error=0.1, delta=0.1, kind="class-conditional")
        pos, neg = (rule.thresholds[k] or 0.0 for k in ("positive", "negative"))
        unsafe += 0.2 * pos > 0.1 + 1e-12 or 0.075 * neg > 0.1 + 1e-12
        chosen.append((pos, neg))
    assert unsafe <= binom.ppf(0.999, draws, 0.1)
    pos, neg = np.median(chosen, axis=0)
    assert neg > pos > 0  # the easier class answers more, and both answer something


def test_marginal_rule_can_hide_the_harder_class():
    """The reason for the class-conditional rule: with a marginal threshold the positive calls' error
    is above the target while the negative calls' keeps the average under it."""
    rng = np.random.default_rng(2)
    s, predicted, labels = synthetic(20000, rng, 0.8, 0.1)
    rule = calibrate_deferral(s, predicted, labels, max_error=0.15, delta=0.1)
    answered = rule.answers(s, predicted)
    pos = answered & (predicted == 1)
    assert (predicted[answered] != labels[answered]).mean() <= 0.15
    assert (predicted[pos] != labels[pos]).mean() > 0.15


def test_mapie_threshold_matches_the_binomial_tail_with_holm_by_hand():
    """Our use of MAPIE is Learn then Test as the paper writes it: exact binomial p-values of
    'error among answered > alpha', Holm over the grid, the largest-coverage rejected threshold."""
    rng = np.random.default_rng(3)
    s, predicted, labels = synthetic(400, rng)
    grid, alpha, delta = score_grid(20), 0.12, 0.1
    p = []
    for lam in grid:
        answered = s <= lam
        n, k = int(answered.sum()), int((predicted[answered] != labels[answered]).sum())
        p.append(binom.cdf(k, n, alpha) if n else 1.0)
    rejected = multipletests(p, alpha=delta, method="holm")[0]
    coverage = [(s <= lam).mean() if r else -1 for lam, r in zip(grid, rejected)]
    expected = grid[int(np.argmax(coverage))] if rejected.any() else None
    assert certified_threshold(s, predicted, labels, alpha, delta, grid) == pytest.approx(expected)


def test_nothing_certified_defers_everything():
    s, predicted, labels = synthetic(30, np.random.default_rng(4))
    rule = calibrate_deferral(s, predicted, labels, max_error=0.05, delta=0.1, kind="class-conditional")
    assert not rule.certified
    assert rule.thresholds == {"positive": None, "negative": None}
    assert not rule.answers(s, predicted).any()
    assert rule.calibration["positive"]["answered"] == 0


def test_an_undefined_score_is_deferred():
    rule = DeferralRule("u", "marginal", 0.2, 0.1, {"all": 0.5})
    assert rule.answers([0.1, np.nan, 0.7], [1, 1, 0]).tolist() == [True, False, False]


def test_rule_round_trips_through_json():
    s, predicted, labels = synthetic(500, np.random.default_rng(5))
    rule = calibrate_deferral(s, predicted, labels, max_error=0.2, delta=0.1, score="decision uncertainty")
    again = DeferralRule.from_dict(json.loads(json.dumps(rule.to_dict())))
    assert again == rule
    with pytest.raises(KeyError, match="thresholds"):
        DeferralRule.from_dict({"score": "u", "kind": "marginal", "max_error": 0.2, "delta": 0.1})


@pytest.mark.parametrize("kwargs, match", [
    ({"kind": "mondrian"}, "unknown deferral rule kind"),
    ({"fwer": "fixed_sequence"}, "unknown fwer"),
    ({"max_error": 1.5}, "max_error must be in"),
    ({"delta": 0.0}, "delta must be in"),
])
def test_bad_arguments_are_named(kwargs, match):
    s, predicted, labels = synthetic(50, np.random.default_rng(6))
    args = {"max_error": 0.2, "delta": 0.1, **kwargs}
    with pytest.raises(ValueError, match=match):
        calibrate_deferral(s, predicted, labels, **args)


def test_labels_must_be_binary_and_lengths_match():
    with pytest.raises(ValueError, match="labels must be 0/1"):
        calibrate_deferral([0.1, 0.2], [0, 1], [0, 2], max_error=0.2, delta=0.1)
    with pytest.raises(ValueError, match="lengths differ"):
        calibrate_deferral([0.1, 0.2], [0, 1], [0], max_error=0.2, delta=0.1)
