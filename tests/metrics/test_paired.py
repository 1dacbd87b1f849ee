import numpy as np
import pytest

from tmvlib.metrics.bootstrap import patient_weights
from tmvlib.metrics.paired import holm, paired_bootstrap


def _mean(values):
    return lambda rows, w: float(np.average(values[rows], weights=w))


def test_patient_weights_keep_a_patients_images_together():
    patients = np.array(["a", "a", "b", "c", "c", "c"])
    w = patient_weights(patients, 50, seed=1)
    assert w.shape == (50, 6)
    assert (w[:, 0] == w[:, 1]).all() and (w[:, 3] == w[:, 5]).all()
    # each draw takes as many patients as there are
    assert np.allclose(w[:, [0, 2, 3]].sum(1), 3)


def test_paired_interval_sees_a_shift_that_overlapping_marginals_hide():
    rng = np.random.default_rng(0)
    base = rng.normal(size=300)
    a, b = base + 0.05 + rng.normal(scale=0.02, size=300), base  # correlated, small shift
    d = paired_bootstrap(_mean(a), _mean(b), np.arange(300), n_boot=300)
    assert d.value == pytest.approx(0.05, abs=0.01)
    assert d.low > 0 and d.p_value < 0.05
    assert d.low <= d.value <= d.high


def test_no_difference_has_a_minimum_detectable_difference():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=200), rng.normal(size=200)
    d = paired_bootstrap(_mean(a), _mean(b), np.arange(200), n_boot=400, seed=3)
    assert d.low < 0 < d.high and d.p_value > 0.05
    # sd of a difference of means of two N(0,1) samples of 200: sqrt(2/200) = 0.1; mdd ~ 2.8 se
    assert d.minimum_detectable() == pytest.approx(2.8 * 0.1, rel=0.2)
    row = d.row(comparison="x")
    assert set(row) >= {"comparison", "value", "low", "high", "p_value", "mdd"}


def test_degenerate_draws_are_skipped_and_counted():
    values = np.array([0.0, 1.0, 2.0])

    def picky(rows, w):
        if len(rows) < 3:
            raise ValueError("needs every image")
        return float(np.average(values[rows], weights=w))

    d = paired_bootstrap(picky, _mean(values), np.arange(3), n_boot=100)
    assert d.skipped > 0 and d.skipped < 100


def test_holm_matches_the_step_down_rule_and_ignores_nan():
    adjusted = holm([0.01, 0.04, np.nan, 0.03])
    assert np.isnan(adjusted[2])
    assert adjusted[0] == pytest.approx(0.03)       # 3 x 0.01
    assert adjusted[3] == pytest.approx(0.06)       # 2 x 0.03
    assert adjusted[1] == pytest.approx(0.06)       # max(1 x 0.04, previous)


def test_holm_within_a_declared_family_only():
    adjusted = holm([0.01, 0.04, 0.5, 0.03], family=[True, True, False, True])
    assert np.isnan(adjusted[2])
    assert adjusted.tolist()[:2] == pytest.approx([0.03, 0.06]) and adjusted[3] == pytest.approx(0.06)


def test_holm_family_detects_at_alpha_over_m_and_carries_the_monte_carlo_error():
    import pandas as pd
    from scipy.stats import norm

    from tmvlib.metrics.paired import holm_family, minimum_detectable, p_mc_error

    table = pd.DataFrame({"p_value": [0.01, 0.04, 0.30, np.nan], "se": [0.01, 0.02, 0.03, 0.04],
                          "mdd": [9.0, 9.0, 9.0, 9.0], "p_mc_error": [p_mc_error(p, 1000) for p in (0.01, 0.04, 0.3, 1)]})
    out = holm_family(table, family=[True, True, False, True])
    assert out["family_size"].tolist()[:2] == [2, 2] and np.isnan(out["family_size"][2:]).all()
    assert out["p_holm"].tolist()[:2] == pytest.approx([0.02, 0.04])
    z = norm.ppf(1 - 0.05 / 4) + norm.ppf(0.8)  # alpha / m = 0.025, two-sided
    assert out["mdd"].tolist() == pytest.approx([z * 0.01, z * 0.02, 9.0, 9.0])
    assert minimum_detectable(0.01) == pytest.approx((norm.ppf(0.975) + norm.ppf(0.8)) * 0.01)
    # the adjusted p-value's Monte Carlo error: the raw one times Holm's factor
    assert out["p_holm_mc_error"][0] == pytest.approx(2 * np.sqrt(0.01 * 1.99 / 1000))
    assert np.isnan(out["p_holm_mc_error"][2])


def test_p_value_monte_carlo_error_and_the_normal_approximation_label():
    from tmvlib.metrics.paired import NORMAL_APPROXIMATION, p_mc_error

    assert p_mc_error(0.05, 1000) == pytest.approx(0.0099, abs=1e-4)  # the size of a rerun's move
    assert np.isnan(p_mc_error(0.001, 1000, NORMAL_APPROXIMATION))
    rng = np.random.default_rng(0)
    far = paired_bootstrap(lambda r, w: 1.0 + 1e-3 * rng.random(), lambda r, w: 0.0, np.arange(20), n_boot=50)
    assert far.p_method == NORMAL_APPROXIMATION and np.isnan(far.row()["p_mc_error"])
    near = paired_bootstrap(lambda r, w: rng.normal(), lambda r, w: 0.0, np.arange(20), n_boot=200)
    assert near.p_method == "bootstrap" and near.row()["p_mc_error"] == pytest.approx(
        np.sqrt(near.p_value * (2 - near.p_value) / 200))
